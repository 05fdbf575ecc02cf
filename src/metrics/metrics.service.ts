// Prometheus metrics. Counters of what the agent did are updated as it happens; what the kernel
// holds (owned objects, per-SID packet counters from seg6local `count`) is read on scrape.
import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ScrapeSource {
  /** Owned kernel objects by kind, as the dataplane describes them. */
  ownedObjects(): Record<string, number>;
  driftRepairs(): number;
  /** Decap counters per tenant SID, from the kernel. */
  sidCounters(): Promise<{ tenant: string; sid: string; behaviour: string; packets: bigint; bytes: bigint; errors: bigint }[]>;
}

@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private source?: ScrapeSource;
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
  }

  /** The dataplane registers itself here (no import cycle between the modules). */
  attach(source: ScrapeSource): void {
    this.source = source;
  }

  jobDone(type: string | undefined, outcome: string, seconds: number): void {
    this.jobs.inc({ type: type ?? 'unknown', outcome });
    this.apply.observe({ type: type ?? 'unknown' }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
