// The job path: submit → applied in the kernel, through a real Redis on loopback, a Bull worker
// and the dataplane in a fresh namespace. The orchestrator submits from its own process
// (bench/jobs-orchestrator.ts), as in production; the agent's side runs in this one. Baseline, same run: the same kernel change made by
// running `ip route replace` per job (what an orchestrator-less script would do).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HypervisorClient } from '../src/client/hypervisor-client';
import { Dataplane } from '../src/dataplane/dataplane';
import { DesiredStateStore } from '../src/dataplane/state-store';
import { IdempotencyStore, openQueue } from '../src/jobs/job-queue';
import { JOB_CONCURRENCY, OrderedJobProcessor } from '../src/jobs/handle-job';
import { Rtnetlink } from '../src/netlink';
import { TestNetns } from '../src/testing/netns';
import { TestRedis } from '../src/testing/redis';
import { sameTenantJob, SPREAD_TENANTS } from './jobs-orchestrator';
import type { BenchResult } from './run';

const run = promisify(execFile);
const RATE = 200; // jobs per second, steady
const SECONDS = 5;
const WARM_SECONDS = 15;
const BURST = 2000; // jobs submitted at once, for the maximum rate
const TENANTS = SPREAD_TENANTS; // the second burst goes round-robin over these: nothing to coalesce

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const job = sameTenantJob;

/** One phase run by the orchestrator, in its own process (bench/jobs-orchestrator.ts). */
async function orchestrate<T>(args: object): Promise<T> {
  const { stdout } = await run(process.execPath, [join(__dirname, 'jobs-orchestrator.js'), JSON.stringify(args)], { maxBuffer: 1 << 26 });
  return JSON.parse(stdout) as T;
}

export async function jobsBench(): Promise<BenchResult[]> {
  const redis = await TestRedis.start();
  const ns = TestNetns.create('jobs-bench');
  const dir = mkdtempSync(join(tmpdir(), 'srv6-jobs-bench-'));
  ns.vethPairs([['ul0', 'ul1'], ['ta0', 'ta1'], ...Array.from({ length: TENANTS }, (_, t) => [`tb${t}`, `pb${t}`] as [string, string])]);
  const nl = Rtnetlink.open({ netns: ns.name });
  const dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: 'table', netns: ns.name });
  const hv = `bench-${process.pid}`;
  // The baseline: the same route change by iproute2, one process per change.
  const ipEncapRoute = (sid: string) =>
    run('ip', ['-n', ns.name, 'route', 'replace', '10.8.0.0/24', 'encap', 'seg6', 'mode', 'encap', 'segs', sid, 'dev', 'ul0', 'table', '10000']);
  const worker = openQueue(redis.url, hv, { keepCompleted: 100, keepFailed: 100 });
  const client = new HypervisorClient({ redisUrl: redis.url, hypervisor: hv, timeoutMs: 60_000 });
  try {
    await dp.start();
    // As in the agent: concurrent handlers entering the dataplane in queue order.
    const processor = new OrderedJobProcessor(worker, () => dp, new IdempotencyStore(worker, hv));
    worker.process(JOB_CONCURRENCY, (j) => processor.handle(j));
    await client.submit({ type: 'upsert-node', node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 } });
    await client.submit({
      type: 'upsert-tenant',
      tenant: { id: 'alpha', behaviour: 'End.DT6', interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }], routes: [] },
    });
    for (let t = 0; t < TENANTS; t++)
      await client.submit({
        type: 'upsert-tenant',
        tenant: { id: `b${t}`, behaviour: 'End.DT6', interfaces: [{ name: `tb${t}`, gateways: ['10.0.0.1/24'] }], routes: [] },
      });
    for (let i = 0; i < 50; i++) await client.submit(job(i)); // warm up

    // Steady rate: latency from submit to the job's result (its kernel changes acknowledged),
    // measured by the orchestrator in its own process. Both are long-running services, so the
    // figure is taken after WARM_SECONDS of the same stream: until then V8 is still compiling
    // the hot paths of both processes, on the same two cores as the jobs (about 3,000 jobs
    // here). The stream's first SECONDS are reported as the cold start.
    const { cold, latencies } = await orchestrate<{ cold: number[]; latencies: number[] }>({
      redisUrl: redis.url,
      hypervisor: hv,
      phase: 'steady',
      rate: RATE,
      seconds: SECONDS,
      warmSeconds: WARM_SECONDS,
      from: 1000,
    });

    // Baseline: `ip route replace` of the same change, once per job, at the same rate.
    const ipLat: number[] = [];
    const ipPending: Promise<void>[] = [];
    const t1 = performance.now();
    for (let i = 0; i < RATE * SECONDS; i++) {
      const due = t1 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const s = performance.now();
      ipPending.push(ipEncapRoute(`fc00:0:8:${(i % 65535).toString(16)}::`).then(() => void ipLat.push(performance.now() - s)));
    }
    await Promise.all(ipPending);

    // Maximum rate: a burst, all submitted at once, until the last result.
    const same = await orchestrate<{ seconds: number }>({ redisUrl: redis.url, hypervisor: hv, phase: 'burst', n: BURST, kind: 'same', from: 10_000 });
    const ours = BURST / same.seconds;
    const spread = await orchestrate<{ seconds: number; coalesced: number }>({
      redisUrl: redis.url,
      hypervisor: hv,
      phase: 'burst',
      n: BURST,
      kind: 'spread',
      from: 0,
    });
    const oursSpread = BURST / spread.seconds;
    if (spread.coalesced) throw new Error('the round-robin burst was coalesced: it no longer measures grouping alone');
    const t = performance.now();
    for (let i = 0; i < BURST; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => ipEncapRoute(`fc00:0:7:${(i + k + 1).toString(16)}::`)));
    const base = BURST / ((performance.now() - t) / 1000);

    return [
      { name: `jobs.latency_p50_ms_at_${RATE}_per_s_vs_ip_exec`, ours: pct(latencies, 50), base: pct(ipLat, 50), unit: 'ms' },
      { name: `jobs.latency_p99_ms_at_${RATE}_per_s_vs_ip_exec`, ours: pct(latencies, 99), base: pct(ipLat, 99), unit: 'ms' },
      { name: `jobs.latency_p99_ms_at_${RATE}_per_s_cold_start_vs_ip_exec`, ours: pct(cold, 99), base: pct(ipLat, 99), unit: 'ms' },
      { name: 'jobs.max_small_jobs_per_s_vs_ip_exec', ours, base, unit: 'jobs/s' },
      { name: `jobs.max_small_jobs_per_s_${TENANTS}_tenants_round_robin_vs_ip_exec`, ours: oursSpread, base, unit: 'jobs/s' },
    ];
  } finally {
    await client.close();
    await worker.close();
    dp.stop();
    nl.close();
    ns.destroy();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
