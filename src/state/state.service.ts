// Desired and observed state for operators (/v1/state, /v1/tenants/:id) and the metrics scrape.
import { Injectable, NotFoundException, OnModuleInit } from '@nestjs/common';
import { AgentConfig } from '../config/agent.config';
import { DataplaneService } from '../dataplane/dataplane.service';
import { buildKernelObjects, DEFAULT_OWNERSHIP } from '../dataplane/kernel-objects';
import { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { MetricsService, ScrapeSource } from '../metrics/metrics.service';

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
  ) {}

  onModuleInit(): void {
    this.metrics.attach(this);
  }

  ownedObjects(): Record<string, number> {
    const dp = this.dataplane.dataplane;
    const o = buildKernelObjects(dp.state, dp.mode, DEFAULT_OWNERSHIP);
    return { vrf: o.vrfs.size, link: o.links.size, address: o.addresses.size, nexthop: o.nexthops.size, route: o.routes.size, rule: o.rules.size, sysctl: o.sysctls.size };
  }

  driftRepairs(): number {
    return this.dataplane.dataplane.stats.driftRepairs;
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

  async summary() {
    const dp = this.dataplane.dataplane;
    const s = dp.state;
    const counters = new Map((await this.sidCounters()).map((c) => [c.tenant, c]));
    return {
      hypervisor: this.config.agent.hypervisor,
      mode: dp.mode,
      version: s.version,
      node: s.node ?? null,
      owned: this.ownedObjects(),
      driftRepairs: dp.stats.driftRepairs,
      tenants: Object.values(s.tenants).map((t) => ({
        id: t.id,
        table: t.table,
        sid: t.sid,
        behaviour: t.behaviour,
        interfaces: t.interfaces.map((i) => i.name),
        routes: Object.keys(t.routes).length,
        decap: countersJson(counters.get(t.id)),
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
      },
    };
  }
}

function countersJson(c?: SidCounter) {
  return c ? { packets: Number(c.packets), bytes: Number(c.bytes), errors: Number(c.errors) } : null;
}
