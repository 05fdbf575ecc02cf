// Prometheus metrics. Counters of what the agent did are updated as it happens; what the kernel
// holds (owned objects, per-SID packet counters from seg6local `count`, the XDP offload's per-CPU
// counter maps) is read on scrape.
import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ScrapeSource {
  /** Owned kernel objects by kind, as the dataplane describes them. */
  ownedObjects(): Record<string, number>;
  driftRepairs(): number;
  /** Tenant interfaces that do not exist (degraded: left out until they appear). */
  missingInterfaces?(): { tenant: string; interface: string }[];
  /** Decap counters per tenant SID, from the kernel. */
  sidCounters(): Promise<{ tenant: string; sid: string; behaviour: string; packets: bigint; bytes: bigint; errors: bigint }[]>;
  /** The XDP offload's counters; undefined while it is not loaded. */
  xdpCounters?(): Promise<XdpScrape | undefined>;
}

export interface XdpScrape {
  sids: { tenant: string; sid: string; behaviour: string; packets: number; bytes: number; passed: Partial<Record<string, number>> }[];
  /** Every packet the program saw, by verdict reason ('redirect' = handled). */
  reasons: Partial<Record<string, number>>;
  attachments: { ifname: string; mode: string }[];
}

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private source?: ScrapeSource;
  /** One read of the XDP maps per scrape, shared by its collectors. */
  private xdpScrape?: Promise<XdpScrape | undefined>;
  private readonly jobs = new Counter({ name: 'srv6_agent_jobs_total', help: 'Jobs processed, by type and outcome', labelNames: ['type', 'outcome'], registers: [this.registry] });
  private readonly apply = new Histogram({
    name: 'srv6_agent_job_apply_seconds',
    help: 'Time from a job starting to its kernel changes being acknowledged',
    labelNames: ['type'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'srv6_agent_' });
    const self = this;
    new Gauge({
      name: 'srv6_agent_owned_objects',
      help: 'Kernel objects the agent owns, by kind',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        for (const [kind, n] of Object.entries(self.source?.ownedObjects() ?? {})) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'srv6_agent_tenant_interface_missing',
      help: 'A tenant interface the desired state names that does not exist (1): left out of the kernel until it appears',
      labelNames: ['tenant', 'interface'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of self.source?.missingInterfaces?.() ?? []) this.set({ tenant: m.tenant, interface: m.interface }, 1);
      },
    });
    new Counter({
      name: 'srv6_agent_drift_repairs_total',
      help: 'Reconciles that repaired a foreign change to owned objects',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(self.source?.driftRepairs() ?? 0);
      },
    });
    for (const [field, help] of [
      ['packets', 'Packets decapsulated on a tenant SID (seg6local counters)'],
      ['bytes', 'Bytes decapsulated on a tenant SID (seg6local counters)'],
      ['errors', 'Packets dropped on a tenant SID (seg6local counters)'],
    ] as const) {
      new Counter({
        name: `srv6_agent_sid_${field}_total`,
        help,
        labelNames: ['tenant', 'sid', 'behaviour'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const c of (await self.source?.sidCounters()) ?? []) this.inc({ tenant: c.tenant, sid: c.sid, behaviour: c.behaviour }, Number(c[field]));
        },
      });
    }
    this.xdpMetrics();
  }

  private xdp(): Promise<XdpScrape | undefined> {
    return (this.xdpScrape ??= this.source?.xdpCounters?.() ?? Promise.resolve(undefined));
  }

  // Per-SID counters of the XDP offload (per-CPU map entries summed), beside the kernel's sid_* ones:
  // with the offload on, the kernel's count only what XDP passed to it.
  private xdpMetrics(): void {
    const self = this;
    const sidLabels = ['tenant', 'sid', 'behaviour'];
    new Counter({
      name: 'srv6_agent_xdp_sid_packets_total',
      help: 'Packets the XDP offload decapsulated and redirected on a tenant SID',
      labelNames: sidLabels,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const c of (await self.xdp())?.sids ?? []) this.inc({ tenant: c.tenant, sid: c.sid, behaviour: c.behaviour }, c.packets);
      },
    });
    new Counter({
      name: 'srv6_agent_xdp_sid_bytes_total',
      help: 'Outer IPv6 bytes of the packets the XDP offload redirected on a tenant SID (as seg6local counts)',
      labelNames: sidLabels,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const c of (await self.xdp())?.sids ?? []) this.inc({ tenant: c.tenant, sid: c.sid, behaviour: c.behaviour }, c.bytes);
      },
    });
    new Counter({
      name: 'srv6_agent_xdp_sid_passed_total',
      help: 'Packets for a tenant SID the XDP offload left to the kernel, by reason',
      labelNames: [...sidLabels, 'reason'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const c of (await self.xdp())?.sids ?? [])
          for (const [reason, n] of Object.entries(c.passed)) if (n) this.inc({ tenant: c.tenant, sid: c.sid, behaviour: c.behaviour, reason }, n);
      },
    });
    new Counter({
      name: 'srv6_agent_xdp_packets_total',
      help: 'Every packet the XDP offload saw on the underlay, by verdict reason (redirect: handled; the rest passed to the kernel)',
      labelNames: ['reason'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [reason, n] of Object.entries((await self.xdp())?.reasons ?? {})) if (n) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'srv6_agent_xdp_attached',
      help: 'The XDP offload is attached to an underlay interface (1), in native or generic (fallback) mode',
      labelNames: ['interface', 'mode'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const a of (await self.xdp())?.attachments ?? []) this.set({ interface: a.ifname, mode: a.mode }, 1);
      },
    });
  }

  /** The dataplane registers itself here (no import cycle between the modules). */
  attach(source: ScrapeSource): void {
    this.source = source;
  }

  jobDone(type: string | undefined, outcome: string, seconds: number): void {
    this.jobs.inc({ type: type ?? 'unknown', outcome });
    this.apply.observe({ type: type ?? 'unknown' }, seconds);
  }

  async text(): Promise<string> {
    this.xdpScrape = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.xdpScrape = undefined;
    }
  }
}
