// Reliability of the job path with real parts: a Redis restarted under a stream of jobs, an agent
// killed with SIGKILL in the middle of each kind of large job, and a flood of malformed payloads.
//
//   netns srv6t-rel-*: ul0 <-> ul1 (underlay), ta0 <-> ta1 (tenant "alpha", table 10000)
//   redis-server 127.0.0.1:<random>, append-only with fsync on every write (durable)
//   agent: in-process processor (Redis test, fuzz), or `srv6-agent serve` as a child (SIGKILL test)
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Bull from 'bull';
import { HypervisorClient } from '../client/hypervisor-client';
import type { Job, TenantSpec } from '../client/job-types';
import { Dataplane } from '../dataplane/dataplane';
import { DEFAULT_OWNERSHIP } from '../dataplane/kernel-objects';
import { DesiredStateStore } from '../dataplane/state-store';
import { Rtnetlink } from '../netlink/rtnetlink';
import { packageRoot } from '../native/addon';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { TestRedis } from '../testing/redis';
import { IdempotencyStore, JobFailedError, JobQueue, openQueue } from './job-queue';
import { JOB_CONCURRENCY, OrderedJobProcessor } from './handle-job';
import { JobValidationError, validateJob } from './job-validation';
import type { UpsertTenantJobDto } from './job.dto';

jest.setTimeout(scaled(120_000));

const MODE = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const P = String(DEFAULT_OWNERSHIP.protocol);
const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const alpha: TenantSpec = { id: 'alpha', behaviour: 'End.DT6', interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }], routes: [] };

function hypervisorNs(tag: string): TestNetns {
  const ns = TestNetns.create(tag);
  ns.vethPairs([
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
    ['tb0', 'tb1'],
  ]);
  return ns;
}

/** Everything the agent owns in the kernel, as iproute2 prints it (sorted, comparable). */
function ownedKernelState(ns: TestNetns): string[] {
  const lines = [
    ...ns.ip(['route', 'show', 'table', 'all', 'proto', P]).split('\n'),
    ...ns.ip(['-6', 'route', 'show', 'table', 'all', 'proto', P]).split('\n'),
    ...ns.ip(['nexthop', 'show', 'proto', P]).split('\n'),
  ];
  const taps = ns
    .ipJson<{ ifname: string; mtu: number; master?: string }[]>(['link', 'show'])
    .filter((l) => /^t[ab]0$/.test(l.ifname))
    .map((l) => `link ${l.ifname} mtu ${l.mtu} master ${l.master ?? '-'}`);
  return [...lines, ...taps]
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  destroyAllNetns();
  await redis?.destroy();
});

describe('Redis restarted in the middle of a stream of 500 jobs', () => {
  let ns: TestNetns;
  let nl: Rtnetlink;
  let dir: string;
  let dp: Dataplane;
  let worker: Bull.Queue;
  let client: HypervisorClient;
  const applied = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'srv6t-rel-'));
    ns = hypervisorNs('rel');
    nl = Rtnetlink.open({ netns: ns.name });
    dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
    await dp.start();
    const hv = `rel-${process.pid}`;
    worker = openQueue(redis.url, hv, { lockDurationMs: scaled(2000) }); // a lock not renewed in a stalled (emulated) event loop is lost
    const idem = new IdempotencyStore(worker, hv);
    // The agent's processing: JOB_CONCURRENCY handlers in pop order, jobs grouped in the dataplane.
    const processor = new OrderedJobProcessor(worker, () => dp, idem);
    worker.process(JOB_CONCURRENCY, async (job) => {
      const r = await processor.handle(job);
      const key = job.data.idempotencyKey;
      if (key && r.operations > 0 && !r.duplicate) applied.set(key, (applied.get(key) ?? 0) + 1);
      return r;
    });
    client = new HypervisorClient({ redisUrl: redis.url, hypervisor: hv, timeoutMs: scaled(60_000) });
    await client.submit({ type: 'upsert-node', node });
    await client.submit({ type: 'upsert-tenant', tenant: alpha });
  });

  afterAll(async () => {
    await client?.close();
    await worker?.close();
    dp?.stop();
    nl?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  itWith(SRV6)('loses no job and applies none twice', async () => {
    const N = 500;
    const key = (i: number) => `rel-${process.pid}-${i}`;
    const job = (i: number) => ({
      type: 'routes' as const,
      tenant: 'alpha',
      idempotencyKey: key(i),
      add: [{ prefix: `10.${100 + (i >> 8)}.${i & 255}.0/24`, sids: [`fc00:0:2:${(i % 7) + 1}::`] }],
    });
    // The orchestrator side: submit, and on a connection error submit the same job again (its
    // idempotency key makes that safe); then wait for every result.
    const submit = async (i: number): Promise<unknown> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await client.submit(job(i), { timeoutMs: scaled(60_000) });
        } catch (e) {
          if (attempt > 50 || e instanceof JobValidationError) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      results.push(submit(i));
      if (i === 200) await redis.restart(300); // Redis goes away mid-stream, with jobs queued and one running
    }
    await Promise.all(results);
    // Every job's route is in the kernel, exactly once.
    const routes = ns.ipJson(['route', 'show', 'table', '10000', 'proto', P]).filter((r: any) => r.dst.startsWith('10.10'));
    expect(routes).toHaveLength(N);
    expect(Object.keys(dp.state.tenants.alpha.routes)).toHaveLength(N);
    // Applied at most once each (a job re-run after the restart finds nothing to do).
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
    expect(applied.size).toBe(N);
  });
});

describe('agent killed with SIGKILL in the middle of each kind of large job', () => {
  let ns: TestNetns;
  let dir: string;
  let agent: ChildProcess | undefined;
  const hv = `kill-${process.pid}`;

  const startAgent = (): ChildProcess => {
    const p = spawn(process.execPath, [join(packageRoot(), 'dist', 'src', 'cli', 'srv6-agent.js'), 'serve'], {
      env: {
        ...process.env,
        SRV6_NETNS: ns.name,
        SRV6_REDIS_URL: redis.url,
        SRV6_STATE_DIR: dir,
        SRV6_HYPERVISOR: hv,
        SRV6_LISTEN: '127.0.0.1:0',
        SRV6_QUEUE_LOCK_MS: String(scaled(2000)),
        SRV6_RESYNC_SECONDS: '0',
      },
      stdio: 'ignore',
    });
    return p;
  };
  const stop = async (p: ChildProcess | undefined, sig: NodeJS.Signals) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    await gone;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'srv6t-kill-'));
    ns = hypervisorNs('kill');
  });
  afterAll(async () => {
    await stop(agent, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const prefixes = (n: number, second: number) => Array.from({ length: n }, (_, i) => `${second}.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`);
  const alphaRoutes = prefixes(10_000, 172).map((prefix, i) => ({ prefix, sids: [`fc00:0:${(i % 100) + 10}:1::`] }));
  const beta: TenantSpec = {
    id: 'beta',
    behaviour: 'End.DT6',
    interfaces: [{ name: 'tb0', gateways: ['10.1.0.1/24'] }],
    routes: prefixes(1_000, 173).map((prefix, i) => ({ prefix, sids: [`fc00:0:${(i % 50) + 10}:2::`] })),
  };
  const betaSet = prefixes(1_000, 174).map((prefix, i) => ({ prefix, sids: [`fc00:0:${(i % 50) + 60}:2::`] }));
  /** The large jobs, each killed as soon as it runs; then the same once in a reference namespace. */
  const killed: { name: string; job: Job; once: (dp: Dataplane) => Promise<unknown> }[] = [
    { name: 'routes add (10,000)', job: { type: 'routes', tenant: 'alpha', add: alphaRoutes }, once: (dp) => dp.changeRoutes('alpha', { add: alphaRoutes }) },
    {
      name: 'upsert-tenant (1,000 routes)',
      job: { type: 'upsert-tenant', tenant: beta },
      once: (dp) => dp.upsertTenant((validateJob({ type: 'upsert-tenant', tenant: beta }) as UpsertTenantJobDto).tenant),
    },
    { name: 'routes set (1,000 others)', job: { type: 'routes', tenant: 'beta', set: betaSet }, once: (dp) => dp.changeRoutes('beta', { set: betaSet }) },
    {
      name: 'upsert-node (MTU of every tap)',
      job: { type: 'upsert-node', node: { ...node, underlayMtu: 1400 } },
      once: (dp) => dp.upsertNode({ ...node, underlayMtu: 1400 }),
    },
    { name: 'delete-tenant (1,000 routes)', job: { type: 'delete-tenant', tenant: 'beta' }, once: (dp) => dp.deleteTenant('beta') },
  ];

  itWith(SRV6)('runs each job again after a restart and ends exactly as if each had run once', async () => {
    const client = new HypervisorClient({ redisUrl: redis.url, hypervisor: hv, timeoutMs: scaled(60_000) });
    try {
      agent = startAgent();
      await client.submit({ type: 'upsert-node', node });
      await client.submit({ type: 'upsert-tenant', tenant: alpha });
      const atKill: string[] = [];
      for (const [i, k] of killed.entries()) {
        const before = ownedKernelState(ns).join('\n');
        const id = await client.enqueue({ ...k.job, idempotencyKey: `big-${i}-${process.pid}` });
        // Kill once the job runs and the kernel shows its first changes (mid-apply); if it is done
        // before a change is seen (a small job), right then.
        const queue = openQueue(redis.url, hv);
        let state: string | undefined;
        try {
          for (let t0 = Date.now(); (state = await (await queue.getJob(id))?.getState()) !== 'active';) {
            if (state === 'completed' || state === 'failed') break;
            if (Date.now() - t0 > scaled(30_000)) throw new Error(`${k.name}: the job never became active`);
            await new Promise((r) => setTimeout(r, 2));
          }
          for (let t0 = Date.now(); state === 'active' && ownedKernelState(ns).join('\n') === before && Date.now() - t0 < scaled(30_000);)
            state = await (await queue.getJob(id))?.getState();
        } finally {
          await queue.close();
        }
        await stop(agent, 'SIGKILL');
        const changed = ownedKernelState(ns).join('\n') !== before;
        atKill.push(`${k.name}: ${state === 'active' ? (changed ? 'mid-apply' : 'before any kernel change') : `after it ${state}`}`);
        agent = startAgent();
        const status = await waitFor(async () => {
          const s = await client.status(id);
          return s && (s.state === 'completed' || s.state === 'failed') ? s : undefined;
        }, scaled(60_000));
        expect({ job: k.name, state: status.state }).toEqual({ job: k.name, state: 'completed' });
      }
      const after = ownedKernelState(ns);
      // As if once: a reference agent applying the same jobs to a fresh namespace holds the same.
      const reference = hypervisorNs('kill-ref');
      const refDir = mkdtempSync(join(tmpdir(), 'srv6t-kill-ref-'));
      const nl = Rtnetlink.open({ netns: reference.name });
      const dp = new Dataplane({ nl, store: new DesiredStateStore(refDir), mode: MODE, netns: reference.name });
      await dp.start();
      await dp.upsertNode(node);
      await dp.upsertTenant((validateJob({ type: 'upsert-tenant', tenant: alpha }) as UpsertTenantJobDto).tenant);
      for (const k of killed) await k.once(dp);
      dp.stop();
      nl.close();
      rmSync(refDir, { recursive: true, force: true });
      const normalise = (lines: string[]) => lines.map((l) => l.replace(/\bid \d+|nhid \d+/g, 'ID')).sort();
      expect(normalise(after)).toEqual(normalise(ownedKernelState(reference)));
      expect(after.filter((l) => l.startsWith('172.')).length).toBe(10_000);
      expect(after.filter((l) => /^17[34]\./.test(l)).length).toBe(0);
      expect(after.find((l) => l.startsWith('link ta0'))).toMatch(/^link ta0 mtu 13\d\d /); // underlayMtu 1400 less the encapsulation
      expect(after.find((l) => l.startsWith('link tb0'))).toBe('link tb0 mtu 1500 master -'); // released with beta
      console.log(`SIGKILL test, where each kill landed: ${atKill.join('; ')}; ${after.length} owned kernel objects at the end`);
    } finally {
      await client.close();
      await stop(agent, 'SIGTERM');
    }
  });
});

async function waitFor<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('1,000 malformed payloads', () => {
  // Validation comes before the dataplane: no tenant is needed, so this runs on every kernel.
  it('are all rejected with field errors; kernel unchanged; the processor stays alive', async () => {
    const ns = hypervisorNs('fuzz');
    const dir = mkdtempSync(join(tmpdir(), 'srv6t-fuzz-'));
    const nl = Rtnetlink.open({ netns: ns.name });
    const dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
    await dp.start();
    await dp.upsertNode(node);
    const before = ns.kernelSnapshot();
    const hv = `fuzz-${process.pid}`;
    const worker = openQueue(redis.url, hv);
    const idem = new IdempotencyStore(worker, hv);
    const processor = new OrderedJobProcessor(worker, () => dp, idem);
    worker.process(JOB_CONCURRENCY, (job) => processor.handle(job));
    try {
      let seed = 42;
      const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
      const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
      // Values that are wrong for every field they are put in (none is a valid id, list or prefix).
      const junk = () =>
        pick<unknown>([
          null,
          42,
          -1,
          1.5,
          true,
          'x'.repeat(100 + Math.floor(rnd() * 5000)),
          {},
          ['a'],
          { a: 1 },
          '10.0.0.0/33',
          'fc00::1::2',
          '',
          '💥',
          2 ** 53,
        ]);
      const valid = () => ({ type: 'routes', tenant: 'alpha', add: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }] });
      const mutations: ((j: any) => void)[] = [
        (j) => (j.type = junk()),
        (j) => (j.tenant = junk()),
        (j) => (j.add = junk()),
        (j) => (j.add[0].prefix = pick(['10.0.0.1/24', '300.1.1.0/24', 'fc00::/200', 'nope', junk()])),
        (j) => (j.add[0].sids = pick([[], ['10.0.0.1'], ['fc00::1::'], Array(17).fill('fc00::1'), junk()])),
        (j) => (j.add[0].mode = pick(['inline', 'l2encap', 7, junk()])),
        (j) => (j[pick(['bogus', 'extra', '__proto__x', 'constructor'])] = junk()),
        (j) => (j.add[0].unknownField = 1),
        (j) => (j.add = rnd() < 0.1 ? Array.from({ length: 100_001 }, () => ({ prefix: '10.1.0.0/24', sids: ['fc00::1'] })) : Array(300).fill(junk())),
        (j) => (j.idempotencyKey = pick<unknown>(['', 'x'.repeat(200), 'bad key!', 42, null, [], {}, true])),
        (j) => (j.remove = pick<unknown>([['10.0.0.300/24'], 'nope', [1], junk()])),
      ];
      let rejected = 0;
      const raw: object[] = [];
      for (let i = 0; i < 1000; i++) {
        const j: any = valid();
        const n = 1 + Math.floor(rnd() * 3);
        for (let k = 0; k < n; k++) {
          try {
            pick(mutations)(j);
          } catch {
            /* an earlier mutation removed what this one edits: the job stays malformed anyway */
          }
        }
        try {
          validateJob(j);
          throw new Error(`accepted a malformed job: ${JSON.stringify(j).slice(0, 300)}`);
        } catch (e) {
          if (!(e instanceof JobValidationError)) throw e;
          expect((e as JobValidationError).errors.length).toBeGreaterThan(0);
          for (const f of (e as JobValidationError).errors) expect(f.field).toMatch(/\S/);
          rejected++;
        }
        if (i % 10 === 0 && JSON.stringify(j).length < 1_000_000) raw.push(j);
      }
      expect(rejected).toBe(1000);
      // A hundred of them straight into the queue (as a buggy orchestrator could): failed at once.
      // Awaited as the client does (one pair of listeners for all, not Bull's two per job).
      const results = new JobQueue(worker);
      const jobs = await Promise.all(raw.map((j) => worker.add(j)));
      const outcomes = await Promise.all(
        jobs.map((j) =>
          results.wait(j, scaled(60_000)).then(
            () => 'completed',
            (e: JobFailedError) => e.failure,
          ),
        ),
      );
      for (const o of outcomes) expect(o).toMatchObject({ name: 'JobValidationError', retry: 'permanent' });
      expect(ns.kernelSnapshot()).toEqual(before);
      // Still serving: a valid job after the flood applies (a node job: the underlay MTU changes).
      const ok = await worker.add({ type: 'upsert-node', node: { ...node, underlayMtu: 1400 } });
      expect(await results.wait(ok, scaled(60_000))).toMatchObject({ type: 'upsert-node' });
      expect(dp.state.node?.underlayMtu).toBe(1400);
    } finally {
      await worker.close();
      dp.stop();
      nl.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
