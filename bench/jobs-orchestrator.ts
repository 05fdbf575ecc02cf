// The orchestrator's side of the jobs benchmark, in its own process as in production (the
// orchestrator never shares the agent's event loop): submits jobs to a hypervisor's queue through
// Redis and reports, as one JSON line on stdout, what it measured.
//
//   node dist/bench/jobs-orchestrator.js '{"redisUrl":..., "hypervisor":..., "phase":"steady", "rate":200, "seconds":5, "warmSeconds":15, "from":1000}'
//   ... '{"phase":"burst", "n":2000, "kind":"same"|"spread", "from":5000, ...}'
import { HypervisorClient } from '../src/client/hypervisor-client';

/** Tenants of the round-robin burst (their interfaces tb<i> exist in the benchmark's namespace). */
export const SPREAD_TENANTS = 50;

/** A small job: tenant alpha's one remote route, to a SID that changes with i. */
export const sameTenantJob = (i: number) => ({
  type: 'routes' as const,
  tenant: 'alpha',
  set: [{ prefix: '10.9.0.0/24', sids: [`fc00:0:9:${(i % 65535).toString(16)}::`] }],
});

/** Job i of a burst over many tenants: consecutive jobs are about different tenants (grouped, never coalesced). */
export const spreadJob = (i: number) => ({
  type: 'routes' as const,
  tenant: `b${i % SPREAD_TENANTS}`,
  add: [{ prefix: `10.${10 + Math.floor(i / 250)}.${i % 250}.0/24`, sids: [`fc00:0:8:${(i % 97) + 1}::`] }],
});

/** Submits `rate` jobs per second for `seconds`; the latency of each, in ms, in submission order. */
async function steady(client: HypervisorClient, rate: number, seconds: number, from: number): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    pending.push(client.submit(sameTenantJob(from + i)).then(() => void (latencies[i] = performance.now() - s)));
  }
  await Promise.all(pending);
  return latencies;
}

interface Args {
  redisUrl: string;
  hypervisor: string;
  phase: 'steady' | 'burst';
  rate?: number;
  seconds?: number;
  warmSeconds?: number;
  n?: number;
  kind?: 'same' | 'spread';
  from: number;
}

async function main(a: Args): Promise<object> {
  const client = new HypervisorClient({ redisUrl: a.redisUrl, hypervisor: a.hypervisor, timeoutMs: 120_000 });
  try {
    await client.submit(sameTenantJob(65534)); // connections and subscriptions up before timing
    if (a.phase === 'steady') {
      // Latency from submit to the job's result (its kernel changes acknowledged), at a steady
      // rate: a warm-up stream, whose first `seconds` are the cold figures, then the measured one.
      const warmSeconds = a.warmSeconds ?? 0;
      const warm = await steady(client, a.rate!, warmSeconds, a.from);
      const latencies = await steady(client, a.rate!, a.seconds!, a.from + a.rate! * warmSeconds);
      return { cold: warm.slice(0, a.rate! * a.seconds!), latencies };
    }
    // A burst, all submitted at once, until the last result.
    const make = a.kind === 'spread' ? spreadJob : sameTenantJob;
    const t = performance.now();
    const results = await Promise.all(Array.from({ length: a.n! }, (_, i) => client.submit(make(a.from + i))));
    return { seconds: (performance.now() - t) / 1000, coalesced: results.filter((r) => r.coalesced).length };
  } finally {
    await client.close();
  }
}

if (require.main === module)
  main(JSON.parse(process.argv[2]) as Args).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
