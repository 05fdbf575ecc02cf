// Prometheus metrics. Counters of what the agent did are updated as it happens; what the kernel
// holds (owned objects, per-SID packet counters from seg6local `count`, the XDP offload's per-CPU
// counter maps), the queue's depth and readiness are read on scrape. Node's process metrics keep
// their standard names (`process_*`, `nodejs_*`) so stock dashboards and alerts work; the agent's
// own are `srv6_agent_*`.
import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { readBuildInfo } from '../common/build-info';

/**
 * What the scrape reads. Parts come from different modules, each attaching its own (the state
 * service: the dataplane's; the jobs service: the queue; the health service: readiness).
 */
export interface ScrapeSource {
  /** Owned kernel objects by kind, as the dataplane describes them. */
  ownedObjects(): Record<string, number>;
  driftRepairs(): number;
  /** Reconciles by what started them (job, startup, drift, periodic, resync, undo). */
  reconciles?(): Record<string, number>;
  /** Tenant interfaces that do not exist (degraded: left out until they appear). */
  missingInterfaces?(): { tenant: string; interface: string }[];
  /** Decap counters per tenant SID, from the kernel. */
  sidCounters(): Promise<{ tenant: string; sid: string; behaviour: string; packets: bigint; bytes: bigint; errors: bigint }[]>;
  /** The XDP offload's counters; undefined while it is not loaded. */
  xdpCounters?(): Promise<XdpScrape | undefined>;
  /** Jobs in the queue by state (waiting, active, delayed, failed, completed, paused), from Redis. */
  queueCounts?(): Promise<Partial<Record<string, number>>>;
  /** Every readiness check passes. */
  ready?(): Promise<boolean>;
}

/** The queue states exported (Bull's lists and sets of a queue). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'paused'] as const;

/** A scrape waits this long for the queue's counts: a slow Redis must not hang /metrics. */
export const QUEUE_SCRAPE_TIMEOUT_MS = 1000;

export interface XdpScrape {
  sids: { tenant: string; sid: string; behaviour: string; packets: number; bytes: number; passed: Partial<Record<string, number>> }[];
  /** Every packet the program saw, by verdict reason ('redirect' = handled). */
  reasons: Partial<Record<string, number>>;
  attachments: { ifname: string; mode: string }[];
}

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly sources: Partial<ScrapeSource>[] = [];
  /** How long a scrape waits for the queue's counts (tests shorten it). */
  queueTimeoutMs = QUEUE_SCRAPE_TIMEOUT_MS;
  /** One read of the XDP maps per scrape, shared by its collectors. */
  private xdpScrape?: Promise<XdpScrape | undefined>;
  private readonly jobs = new Counter({
    name: 'srv6_agent_jobs_total',
    help: 'Jobs processed, by type and outcome',
    labelNames: ['type', 'outcome'],
    registers: [this.registry],
  });
  private readonly apply = new Histogram({
    name: 'srv6_agent_job_apply_seconds',
    help: 'Time from a job starting to its kernel changes being acknowledged',
    labelNames: ['type'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly wait = new Histogram({
    name: 'srv6_agent_job_wait_seconds',
    help: 'Time from a job being submitted to the agent starting it (queued, delayed or behind other jobs)',
    labelNames: ['type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  /** One read of the queue's counts per scrape, shared by the gauge and the error counter. */
  private queueScrape?: Promise<Partial<Record<string, number>> | undefined>;
  private readonly queueScrapeErrors: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // prom-client calls collect() with the metric as `this`: the service is reached through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.queueScrapeErrors = new Counter({
      name: 'srv6_agent_queue_scrape_errors_total',
      help: `Scrapes that could not read the queue's depth from Redis (error, or no answer within ${QUEUE_SCRAPE_TIMEOUT_MS} ms): srv6_agent_queue_jobs is absent from them`,
      registers: [this.registry],
      // Collected concurrently with the gauge: this scrape's failure must count in this scrape.
      async collect() {
        await self.queue();
      },
    });
    const build = readBuildInfo();
    new Gauge({
      name: 'srv6_agent_build_info',
      help: 'The running build (1): package version, git commit (unknown: built without git), Node version',
      labelNames: ['version', 'commit', 'node'],
      registers: [this.registry],
    }).set({ version: build.version, commit: build.commit ?? 'unknown', node: process.version }, 1);
    new Gauge({
      name: 'srv6_agent_ready',
      help: 'Every readiness check passes (1) or not (0), as GET /v1/health/ready answers',
      registers: [this.registry],
      async collect() {
        const ready = self.ask('ready');
        if (ready) this.set((await ready) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'srv6_agent_queue_jobs',
      help: "Jobs in this hypervisor's queue, by state",
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await self.queue();
        for (const state of counts ? QUEUE_STATES : []) this.set({ state }, counts?.[state] ?? 0);
      },
    });
    new Counter({
      name: 'srv6_agent_reconciles_total',
      help: 'Reconciles of the kernel, by trigger (job, startup, drift, periodic, resync, undo)',
      labelNames: ['trigger'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [trigger, n] of Object.entries(self.ask('reconciles') ?? {})) this.inc({ trigger }, n);
      },
    });
    new Gauge({
      name: 'srv6_agent_owned_objects',
      help: 'Kernel objects the agent owns, by kind',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        for (const [kind, n] of Object.entries(self.ask('ownedObjects') ?? {})) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'srv6_agent_tenant_interface_missing',
      help: 'A tenant interface the desired state names that does not exist (1): left out of the kernel until it appears',
      labelNames: ['tenant', 'interface'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of self.ask('missingInterfaces') ?? []) this.set({ tenant: m.tenant, interface: m.interface }, 1);
      },
    });
    new Counter({
      name: 'srv6_agent_drift_repairs_total',
      help: 'Reconciles that repaired a foreign change to owned objects',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(self.ask('driftRepairs') ?? 0);
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
          for (const c of (await self.ask('sidCounters')) ?? []) this.inc({ tenant: c.tenant, sid: c.sid, behaviour: c.behaviour }, Number(c[field]));
        },
      });
    }
    this.xdpMetrics();
  }

  private xdp(): Promise<XdpScrape | undefined> {
    return (this.xdpScrape ??= this.ask('xdpCounters') ?? Promise.resolve(undefined));
  }

  // Per-SID counters of the XDP offload (per-CPU map entries summed), beside the kernel's sid_* ones:
  // with the offload on, the kernel's count only what XDP passed to it.
  private xdpMetrics(): void {
    // prom-client calls collect() with the metric as `this`: the service is reached through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
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

  /** What the scrape reads registers itself here (no import cycle between the modules): the first source with a part answers. */
  attach(source: Partial<ScrapeSource>): void {
    this.sources.push(source);
  }

  /** The part `k` of the sources, called; undefined when no source has it. */
  private ask<K extends keyof ScrapeSource>(k: K): ReturnType<NonNullable<ScrapeSource[K]>> | undefined {
    const s = this.sources.find((x) => x[k]);
    return s ? (s[k] as () => ReturnType<NonNullable<ScrapeSource[K]>>).call(s) : undefined;
  }

  private queue(): Promise<Partial<Record<string, number>> | undefined> {
    return (this.queueScrape ??= this.readQueue());
  }

  /** The queue's counts, or undefined (counted as a scrape error) when Redis fails or is slow to answer. */
  private async readQueue(): Promise<Partial<Record<string, number>> | undefined> {
    const counts = this.ask('queueCounts');
    if (!counts) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([counts, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), this.queueTimeoutMs)))]);
    } catch {
      this.queueScrapeErrors.inc();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A job starts being processed: how long it waited since it was submitted (Bull's timestamp). */
  jobStarted(type: string | undefined, waitSeconds: number): void {
    this.wait.observe({ type: type ?? 'unknown' }, Math.max(0, waitSeconds));
  }

  jobDone(type: string | undefined, outcome: string, seconds: number): void {
    this.jobs.inc({ type: type ?? 'unknown', outcome });
    this.apply.observe({ type: type ?? 'unknown' }, seconds);
  }

  async text(): Promise<string> {
    this.xdpScrape = this.queueScrape = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.xdpScrape = this.queueScrape = undefined;
    }
  }
}
