// Desired and observed state for operators (/v1/state, /v1/tenants/:id) and the metrics scrape.
import { Injectable, NotFoundException, OnModuleInit, Optional } from '@nestjs/common';
import { AgentConfig } from '../config/agent.config';
import { DataplaneService } from '../dataplane/dataplane.service';
import { buildKernelObjects, DEFAULT_OWNERSHIP } from '../dataplane/kernel-objects';
import { countByKind } from '../dataplane/kinds';
import { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { MetricsService, ScrapeSource, XdpScrape } from '../metrics/metrics.service';
import { XdpSidStatus, XdpStatus, XdpSync } from '../xdp/xdp-sync';

export interface SidCounter {
  tenant: string;
  sid: string;
  behaviour: string;
  packets: bigint;
  bytes: bigint;
  errors: bigint;
}

@Injectable()
export class StateService implements ScrapeSource, OnModuleInit {
  constructor(
    private readonly config: AgentConfig,
    private readonly dataplane: DataplaneService,
    private readonly kernel: RtnetlinkRepository,
    private readonly metrics: MetricsService,
    /** The XDP offload (src/xdp/xdp.module.ts); none: the agent runs without it. */
    @Optional() private readonly xdp?: XdpSync,
  ) {}

  onModuleInit(): void {
    this.metrics.attach(this);
  }

  ownedObjects(): Record<string, number> {
    const dp = this.dataplane.dataplane;
    return countByKind(buildKernelObjects(dp.state, dp.mode, DEFAULT_OWNERSHIP));
  }

  driftRepairs(): number {
    return this.dataplane.dataplane.stats.driftRepairs;
  }

  reconciles(): Record<string, number> {
    return { ...this.dataplane.dataplane.stats.byTrigger };
  }

  missingInterfaces(): { tenant: string; interface: string }[] {
    const dp = this.dataplane.dataplane;
    return Object.values(dp.state.tenants).flatMap((t) =>
      t.interfaces.filter((i) => dp.missingInterfaces.has(i.name)).map((i) => ({ tenant: t.id, interface: i.name })),
    );
  }

  /** The kernel's seg6local counters of every tenant SID (one dump of the agent's routes in main). */
  async sidCounters(): Promise<SidCounter[]> {
    const tenants = Object.values(this.dataplane.dataplane.state.tenants);
    const bySid = new Map(tenants.map((t) => [`${t.sid}/128`, t]));
    const out: SidCounter[] = [];
    for (const r of await this.kernel.rtnetlink.routes({ table: 254, protocol: DEFAULT_OWNERSHIP.protocol, family: 6 })) {
      const t = bySid.get(r.dst);
      if (!t || r.encap?.type !== 'seg6local' || typeof r.encap.counters !== 'object') continue;
      out.push({ tenant: t.id, sid: t.sid, behaviour: r.encap.action, ...r.encap.counters });
    }
    return out;
  }

  /** The XDP offload's links and counters; null when the dataplane runs without the offload. */
  async xdpStatus(): Promise<XdpStatus | null> {
    const dp = this.dataplane.dataplane;
    return this.xdp ? this.xdp.status(dp.state) : null;
  }

  async xdpCounters(): Promise<XdpScrape | undefined> {
    const x = await this.xdpStatus();
    if (!x?.active) return undefined;
    const behaviour = new Map(Object.values(this.dataplane.dataplane.state.tenants).map((t) => [t.id, t.behaviour]));
    return {
      sids: x.sids.map((c) => ({
        tenant: c.tenant ?? '',
        sid: c.sid,
        behaviour: (c.tenant && behaviour.get(c.tenant)) || c.action,
        packets: c.packets,
        bytes: c.bytes,
        passed: c.passed,
      })),
      reasons: x.reasons,
      attachments: x.attachments.map((a) => ({ ifname: a.ifname, mode: a.mode })),
    };
  }

  async summary() {
    const dp = this.dataplane.dataplane;
    const s = dp.state;
    const counters = new Map((await this.sidCounters()).map((c) => [c.tenant, c]));
    const xdp = await this.xdpStatus();
    const xdpBySid = new Map((xdp?.sids ?? []).map((c) => [c.sid, c]));
    return {
      hypervisor: this.config.agent.hypervisor,
      mode: dp.mode,
      version: s.version,
      node: s.node ?? null,
      owned: this.ownedObjects(),
      driftRepairs: dp.stats.driftRepairs,
      xdp: xdp && xdpJson(xdp),
      tenants: Object.values(s.tenants).map((t) => ({
        id: t.id,
        table: t.table,
        sid: t.sid,
        behaviour: t.behaviour,
        interfaces: t.interfaces.map((i) => i.name),
        // Interfaces that do not exist: left out of the kernel until they appear (degraded).
        missingInterfaces: t.interfaces.map((i) => i.name).filter((n) => dp.missingInterfaces.has(n)),
        routes: Object.keys(t.routes).length,
        decap: countersJson(counters.get(t.id)),
        xdpOffload: t.xdpOffload,
        xdp: t.xdpOffload ? xdpCountersJson(xdpBySid.get(t.sid)) : null,
      })),
    };
  }

  async tenant(id: string) {
    const dp = this.dataplane.dataplane;
    const t = dp.state.tenants[id];
    if (!t) throw new NotFoundException(`no tenant ${id}`);
    const nl = this.kernel.rtnetlink;
    const kernelRoutes = await nl.routes({ table: t.table, protocol: DEFAULT_OWNERSHIP.protocol });
    const links = await Promise.all(t.interfaces.map((i) => nl.link(i.name)));
    return {
      desired: t,
      observed: {
        routesInTable: kernelRoutes.length,
        interfaces: links.map((l, k) => (l ? { name: l.name, up: l.up, mtu: l.mtu, master: l.master ?? null } : { name: t.interfaces[k].name, missing: true })),
        decap: countersJson((await this.sidCounters()).find((c) => c.tenant === id)),
        xdp: t.xdpOffload ? xdpCountersJson((await this.xdpStatus())?.sids.find((c) => c.sid === t.sid)) : null,
      },
    };
  }
}

/** The offload as a whole: where it is attached (and in which mode), what it saw, what it could not do. */
function xdpJson(x: XdpStatus) {
  return {
    active: x.active,
    attachments: x.attachments.map((a) => ({
      interface: a.ifname,
      mode: a.mode,
      linkId: a.linkId,
      programId: a.progId,
      ...(a.fallback ? { fallback: a.fallback } : {}),
    })),
    packets: x.reasons,
    shadowed: x.shadowed,
    skipped: x.skipped,
    ...(x.error ? { error: x.error } : {}),
  };
}

/** One SID's XDP counters: handled (redirected) packets and bytes, and what it passed to the kernel, by reason. */
function xdpCountersJson(c?: XdpSidStatus) {
  return c ? { packets: c.packets, bytes: c.bytes, passedToKernel: c.passed } : null;
}

function countersJson(c?: SidCounter) {
  return c ? { packets: Number(c.packets), bytes: Number(c.bytes), errors: Number(c.errors) } : null;
}
