// Jobs end to end without HTTP: orchestrator client → Bull queue on a real Redis → processor →
// dataplane → kernel (a throwaway netns), observed with iproute2.
//
//   netns srv6t-jobs-*:  ul0 <-> ul1 (underlay), ta0 <-> ta1 (tenant "alpha")
//   redis-server on 127.0.0.1:<random port>, append-only
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Bull from 'bull';
import { HypervisorClient } from '../client/hypervisor-client';
import type { Job, TenantSpec } from '../client/job-types';
import { Dataplane } from '../dataplane/dataplane';
import { DEFAULT_OWNERSHIP } from '../dataplane/kernel-objects';
import { DesiredStateStore } from '../dataplane/state-store';
import { NetlinkSocketError } from '../netlink/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { TestRedis } from '../testing/redis';
import { IdempotencyStore, JobFailedError, JobQueue, openQueue } from './job-queue';
import { JOB_CONCURRENCY, OrderedJobProcessor } from './handle-job';
import { JobValidationError } from './job-validation';

jest.setTimeout(scaled(60000));

const MODE = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const P = DEFAULT_OWNERSHIP.protocol;
const HV = `hv-${process.pid}`;

let ns: TestNetns;
let nl: Rtnetlink;
let redis: TestRedis;
let dir: string;
let dp: Dataplane;
let worker: Bull.Queue;
let client: HypervisorClient;

const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const alpha = (routes: { prefix: string; sids: string[] }[]): TenantSpec => ({
  id: 'alpha',
  behaviour: 'End.DT6',
  interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }],
  routes,
});
const kernelRoutes = () =>
  ns.ipJson(['route', 'show', 'table', 'all', 'proto', String(P)]).length + ns.ipJson(['-6', 'route', 'show', 'table', 'all', 'proto', String(P)]).length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'srv6-jobs-'));
  redis = await TestRedis.start();
  ns = TestNetns.create('jobs');
  ns.vethPairs([
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
  ]);
  nl = Rtnetlink.open({ netns: ns.name });
  dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
  await dp.start();
  worker = openQueue(redis.url, HV);
  const idem = new IdempotencyStore(worker, HV);
  // Concurrent handlers entering the dataplane in queue order, as in the agent.
  const processor = new OrderedJobProcessor(worker, () => dp, idem);
  worker.process(JOB_CONCURRENCY, (job) => processor.handle(job));
  client = new HypervisorClient({ redisUrl: redis.url, hypervisor: HV, timeoutMs: scaled(20000) });
  await dp.upsertNode(node); // node jobs need no SRv6: the tests that run where the kernel lacks it have a node
});

afterAll(async () => {
  await client?.close();
  await worker?.close();
  dp?.stop();
  nl?.close();
  destroyAllNetns();
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('jobs through Redis', () => {
  itWith(SRV6)('applies node and tenant jobs and reports what changed', async () => {
    const n = await client.submit({ type: 'upsert-node', node });
    expect(n.failed).toEqual([]);
    const t = await client.submit({ type: 'upsert-tenant', tenant: alpha([{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }]) });
    expect(t.created).toMatchObject({ nexthop: 1, address: 1 });
    expect(t.durationMs).toBeGreaterThan(0);
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
  });

  it('rejects an invalid job locally with field-level messages, enqueuing nothing', async () => {
    const before = await worker.getJobCounts();
    const err = await client
      .submit({ type: 'routes', tenant: 'alpha', add: [{ prefix: '10.0.0.1/24', sids: ['not-a-sid'] }], bogus: 1 } as unknown as Job)
      .catch((e) => e); // invalid on purpose: refused at run time
    expect(err).toBeInstanceOf(JobValidationError);
    const fields = err.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['add[0].prefix', 'add[0].sids', 'bogus']);
    expect(await worker.getJobCounts()).toEqual(before);
  });

  it('an invalid job that reaches the queue fails at once, without retry, kernel untouched', async () => {
    const routes = kernelRoutes();
    const job = await worker.add({ type: 'upsert-tenant', tenant: { id: 'Bad Id!', behaviour: 'End.DT6', interfaces: [], routes: [] } });
    const err = await job.finished().catch((e: Error) => e);
    const failure = JSON.parse((err as Error).message);
    expect(failure).toMatchObject({ name: 'JobValidationError', retry: 'permanent' });
    expect(failure.errors[0].field).toBe('tenant.id');
    const after = await worker.getJob(job.id);
    expect(after!.attemptsMade).toBe(1);
    expect(kernelRoutes()).toBe(routes);
  });

  it('a job the kernel refuses fails permanently with errno/extack, naming the operation', async () => {
    const err = await client.submit({ type: 'upsert-tenant', tenant: { ...alpha([]), interfaces: [{ name: 'nosuch0', gateways: [] }] } }).catch((e) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.failure).toMatchObject({ name: 'MissingInterfaceError', retry: 'permanent', ifname: 'nosuch0' });
  });

  it('listing the newest N jobs gives N, whatever states they are in', async () => {
    const q = new JobQueue(worker);
    const done = await Promise.all([1, 2, 3].map(() => worker.add({ type: 'resync' })));
    const bad = await Promise.all([1, 2, 3].map(() => worker.add({ type: 'resync', bogus: 1 })));
    for (const j of done) await q.wait(j, scaled(20000));
    for (const j of bad) await q.wait(j, scaled(20000)).catch(() => undefined);
    const listed = await q.list(undefined, 4);
    expect(listed).toHaveLength(4);
    // the newest four: no job left out is newer than one listed
    const ids = new Set(listed.map((j) => String(j.id)));
    const oldestListed = Math.min(...listed.map((j) => j.timestamp));
    expect([...done, ...bad].filter((j) => !ids.has(String(j.id))).every((j) => j.timestamp <= oldestListed)).toBe(true);
  });

  itWith(SRV6)('the same idempotency key twice applies once and returns the first result', async () => {
    const job: Job = { type: 'routes', tenant: 'alpha', add: [{ prefix: '10.7.0.0/24', sids: ['fc00:0:7:1::'] }], idempotencyKey: `k-${process.pid}` };
    const first = await client.submit(job);
    expect(first.operations).toBeGreaterThan(0);
    ns.ip(['route', 'del', '10.7.0.0/24', 'table', '10000']); // a second apply would put it back
    const second = await client.submit(job);
    expect(second.jobId).toBe(first.jobId);
    expect(second.operations).toBe(first.operations);
    await new Promise((r) => setTimeout(r, 300));
    // not re-applied by the job (drift repair might; it runs in the agent only when started with it)
    expect(dp.state.tenants.alpha.routes['10.7.0.0/24']).toBeDefined();
  });

  itWith(SRV6)('a key whose job failed transiently runs again when submitted again; a permanent failure stays the answer', async () => {
    // The netlink socket fails on every attempt of this job (the runner's own retries included).
    const change = dp.changeRoutes.bind(dp);
    dp.changeRoutes = () => Promise.reject(new NetlinkSocketError('socket closed under us'));
    const job: Job = { type: 'routes', tenant: 'alpha', add: [{ prefix: '10.6.0.0/24', sids: ['fc00:0:6:1::'] }], idempotencyKey: `t-${process.pid}` };
    let err: JobFailedError;
    try {
      err = await client.submit(job).catch((e) => e);
    } finally {
      dp.changeRoutes = change;
    }
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err.failure.retry).toBe('transient');
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.6.0.0/24'])).toEqual([]);
    const again = await client.submit(job);
    expect(again.jobId).toBe(err.jobId);
    expect(again.operations).toBeGreaterThan(0);
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.6.0.0/24'])).toHaveLength(1);

    const bad: Job = { type: 'upsert-tenant', tenant: { ...alpha([]), interfaces: [{ name: 'nosuch1', gateways: [] }] }, idempotencyKey: `p-${process.pid}` };
    const first = await client.submit(bad).catch((e) => e);
    const second = await client.submit(bad).catch((e) => e);
    expect([first.failure.retry, second.failure.name, second.jobId]).toEqual(['permanent', 'MissingInterfaceError', first.jobId]);
  });

  itWith(SRV6)('applies a burst of jobs one at a time, in submission order', async () => {
    const ids: string[] = [];
    const N = 200;
    // enqueued without waiting for results: the queue fills and the handlers run concurrently
    for (let i = 0; i < N; i++)
      ids.push(await client.enqueue({ type: 'routes', tenant: 'alpha', set: [{ prefix: '10.9.0.0/24', sids: [`fc00:0:9:${i + 1}::`] }] }));
    const last = await worker.getJob(ids[ids.length - 1]);
    await last!.finished();
    const done = await Promise.all(ids.map((id) => worker.getJob(id)));
    const finished = done.map((j) => j!.finishedOn!);
    expect(finished).toEqual([...finished].sort((a, b) => a - b));
    // each job's state version is one above its predecessor's: applied exactly in submission order
    const versions = done.map((j) => j!.returnvalue.version as number);
    expect(versions.map((v, i) => v - versions[0] - i)).toEqual(versions.map(() => 0));
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.9.0.0/24'])[0].segs).toEqual([`fc00:0:9:${N}::`]); // the last job's SID
  });

  itWith(SRV6)('every job type submitted a second time ends as submitted once: no operation, same kernel, same state', async () => {
    ns.vethPairs([['tb0', 'tb1']]);
    const beta: TenantSpec = {
      id: 'beta',
      behaviour: 'End.DT6',
      interfaces: [{ name: 'tb0', gateways: ['10.8.0.1/24', 'fd00:8::1/64'] }],
      routes: [{ prefix: 'fd00:88::/64', sids: ['fc00:0:8:1::'] }],
    };
    const jobs: Job[] = [
      { type: 'upsert-node', node: { ...node, underlayMtu: 1480 } },
      { type: 'upsert-tenant', tenant: beta },
      { type: 'routes', tenant: 'beta', add: [{ prefix: 'fd00:89::/64', sids: ['fc00:0:8:2::'] }] },
      { type: 'routes', tenant: 'beta', set: [{ prefix: 'fd00:90::/64', sids: ['fc00:0:8:3::'] }] },
      { type: 'routes', tenant: 'beta', remove: ['fd00:90::/64'] },
      { type: 'resync' },
      { type: 'delete-tenant', tenant: 'beta' },
      { type: 'upsert-node', node },
    ];
    for (const job of jobs) {
      const first = await client.submit(job);
      expect({ type: job.type, failed: first.failed }).toEqual({ type: job.type, failed: [] });
      const kernel = ns.kernelSnapshot();
      const state = JSON.stringify(dp.state);
      const second = await client.submit(job);
      expect({ type: job.type, operations: second.operations, version: second.version }).toEqual({ type: job.type, operations: 0, version: dp.state.version });
      expect(ns.kernelSnapshot()).toEqual(kernel);
      expect(JSON.stringify(dp.state)).toBe(state);
    }
  });
});
