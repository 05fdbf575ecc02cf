// What Redis keeps of finished jobs (issue 15, defect 15), against a real redis-server: payloads
// compacted to a stub once a job finished, failures and stacks cut to their limits, Bull's
// retention by count and age, and a transient failure that runs again with its resubmitted
// payload. Observed through Redis itself (INFO memory, HSTRLEN, ZCARD), not only through JobQueue.
//
//   redis-server 127.0.0.1:<random>; one queue per test (its own hypervisor name)
import type Bull from 'bull';

import { scaled } from '../testing/time-scale';
import { TestRedis } from '../testing/redis';
import { decodeFailure } from './job-failure';
import {
  FINISHED_DATA_MAX,
  FINISHED_FAILURE_MAX,
  FINISHED_STACK_MAX,
  JobQueue,
  KEEP_FINISHED,
  openQueue,
  queueOptions,
  queuePrefix,
  viewJob,
} from './job-queue';

jest.setTimeout(scaled(120_000));

let redis: TestRedis;
const open: Bull.Queue[] = [];
let n = 0;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await Promise.all(open.map((q) => q.close()));
  await redis?.destroy();
});

/** A queue of its own (worker and JobQueue share it, as in the agent). */
function queue(settings: Parameters<typeof openQueue>[2] = {}): { q: Bull.Queue; jobs: JobQueue; key: (s: string) => string } {
  const hv = `jq-${process.pid}-${++n}`;
  const q = openQueue(redis.url, hv, settings);
  open.push(q);
  return { q, jobs: new JobQueue(q), key: (s) => `${queuePrefix(hv)}:jobs:${s}` };
}

const ROUTE = { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] };
/** A routes job of about `bytes` bytes of JSON. */
const routesJob = (bytes: number, extra: object = {}) => ({
  type: 'routes',
  tenant: 'alpha',
  add: Array.from({ length: Math.floor(bytes / (JSON.stringify(ROUTE).length + 1)) }, () => ROUTE),
  ...extra,
});

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = scaled(20_000)): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const usedMemory = async (q: Bull.Queue) => Number(/used_memory:(\d+)/.exec(await q.client.info('memory'))![1]);
const permanent = (message: string, extra: object = {}) => new Error(JSON.stringify({ name: 'KernelApplyError', message, retry: 'permanent', ...extra }));

describe('finished jobs in Redis', () => {
  it('keep no 16 MiB payloads: 4 jobs of 16 MiB (2 completed, 2 failed) leave less than 64 KiB behind', async () => {
    const { q, key } = queue();
    let i = 0;
    q.process(1, async () => {
      if (i++ % 2) throw permanent('kernel said no');
      return { type: 'routes', operations: 1 };
    });
    // A small job of each outcome first: Bull's and our scripts are in Redis's script cache then.
    for (const id of ['warm-0', 'warm-1']) await q.add(routesJob(100), { jobId: id });
    await until('the warm-up jobs finished', async () => (await q.getCompletedCount()) + (await q.getFailedCount()) === 2);
    await new Promise((r) => setTimeout(r, 200));
    const before = await usedMemory(q);
    const ids: string[] = [];
    for (let j = 0; j < 4; j++) ids.push(String((await q.add(routesJob(16 * 1024 * 1024 - 100, { idempotencyKey: `big-${j}` }), { jobId: `big-${j}` })).id));
    // Observed in Redis: every payload is a stub once its job has finished.
    await until('every job finished and compacted', async () => {
      const sizes = await Promise.all(ids.map((id) => q.client.hstrlen(key(id), 'data')));
      return (await q.getCompletedCount()) + (await q.getFailedCount()) === 6 && sizes.every((s) => s > 0 && s <= FINISHED_DATA_MAX);
    });
    const grown = (await usedMemory(q)) - before;
    expect(grown).toBeLessThan(64 * 1024); // 64 MiB without compaction; measured: about 3 KB
    // What a job view shows is still there; the stub says what was removed.
    const done = await q.getJob('big-0');
    expect(done!.data).toEqual({ type: 'routes', idempotencyKey: 'big-0', payloadBytes: expect.any(Number) });
    expect(done!.data.payloadBytes).toBeGreaterThan(16 * 1024 * 1024 - 200);
    expect(await viewJob(done!)).toMatchObject({
      id: 'big-0',
      type: 'routes',
      state: 'completed',
      result: { type: 'routes', operations: 1 },
      idempotencyKey: 'big-0',
    });
    expect(await viewJob((await q.getJob('big-1'))!)).toMatchObject({
      type: 'routes',
      state: 'failed',
      failure: { message: 'kernel said no', retry: 'permanent' },
    });
    // Payloads under FINISHED_DATA_MAX stay as they were.
    expect((await q.getJob('warm-0'))!.data).toEqual(routesJob(100));
  });

  it('keep at most 16 KiB of a failure with 100,000 failed operations, still parseable, and a short stack', async () => {
    const { q, jobs, key } = queue();
    const failures = Array.from({ length: 100_000 }, (_, k) => ({
      kind: 'route',
      action: 'create',
      what: `route 10.${k >> 16}.${(k >> 8) & 255}.${k & 255}/32 table 10000`,
      errno: 22,
      code: 'EINVAL',
      extack: 'Invalid prefix for given prefix length',
      message: 'EINVAL',
    }));
    q.process(1, async () => {
      throw permanent('100000 kernel operation(s) failed', { failures, rolledBack: { failed: failures.slice(0, 50) } });
    });
    const { job } = await jobs.submit(routesJob(4000));
    const err = await jobs.wait(job, scaled(10_000)).catch((e: { failure: unknown }) => e.failure);
    // A waiter listening when the job fails gets it all, from the event; one that looked the job up
    // after it had failed (a loaded host) gets the compacted failure, with the count left out.
    const got = err as { failures: unknown[]; failuresOmitted?: number };
    if (got.failures.length !== 100_000) expect({ kept: got.failures.length, omitted: got.failuresOmitted }).toEqual({ kept: 20, omitted: 99_980 });
    const id = String(job.id);
    await until('the failure compacted', async () => (await q.client.hstrlen(key(id), 'failedReason')) <= FINISHED_FAILURE_MAX);
    expect(await q.client.hstrlen(key(id), 'stacktrace')).toBeLessThanOrEqual(FINISHED_STACK_MAX);
    const f = decodeFailure((await q.getJob(id))!.failedReason);
    expect(f).toMatchObject({
      name: 'KernelApplyError',
      message: '100000 kernel operation(s) failed',
      retry: 'permanent',
      failuresOmitted: 99_980,
      rolledBack: { failedOmitted: 30 },
    });
    expect(f.failures).toEqual(failures.slice(0, 20));
    expect(JSON.parse((await q.client.hget(key(id), 'stacktrace'))!)[0]).toMatch(/^Error: \{"name":"KernelApplyError".{0,200}\n\s+at /);
  });

  it('a transient failure resubmitted with its key runs again with the payload it was resubmitted with', async () => {
    const { q, jobs, key } = queue();
    const seen: number[] = [];
    q.process(1, async (job: Bull.Job) => {
      seen.push(job.data.add?.length ?? -1);
      if (seen.length === 1) throw new Error(JSON.stringify({ name: 'KernelError', message: 'EBUSY', retry: 'transient' }));
      return { type: 'routes', routes: job.data.add.length };
    });
    const raw = routesJob(200_000, { idempotencyKey: 'again-1' });
    const first = await jobs.submit(raw);
    await expect(jobs.wait(first.job, scaled(10_000))).rejects.toThrow(/EBUSY/);
    await until('its payload compacted', async () => (await q.client.hstrlen(key('again-1'), 'data')) <= FINISHED_DATA_MAX);
    const again = await jobs.submit(raw);
    expect(again.duplicate).toBe(false);
    expect(await jobs.wait(again.job, scaled(10_000))).toEqual({ type: 'routes', routes: raw.add.length });
    expect(seen).toEqual([raw.add.length, raw.add.length]);
    // Finished again: compacted again; a third submission is the duplicate it always was.
    await until('compacted again', async () => (await q.client.hstrlen(key('again-1'), 'data')) <= FINISHED_DATA_MAX);
    expect((await jobs.submit(raw)).duplicate).toBe(true);
  });

  it('finished before any JobQueue looked (a crash in between, an older agent): compacted by compactAll', async () => {
    const hv = `jq-${process.pid}-${++n}`;
    const worker = openQueue(redis.url, hv);
    open.push(worker);
    worker.process(1, async () => ({ type: 'routes' }));
    await worker.add(routesJob(2_000_000), { jobId: 'old-1' });
    await until('it completed', async () => (await worker.getCompletedCount()) === 1);
    const k = `${queuePrefix(hv)}:jobs:old-1`;
    expect(await worker.client.hstrlen(k, 'data')).toBeGreaterThan(1_000_000);
    expect(await new JobQueue(worker).compactAll()).toBe(1);
    expect(await worker.client.hstrlen(k, 'data')).toBeLessThanOrEqual(FINISHED_DATA_MAX);
  });
});

describe("retention (Bull removeOnComplete/removeOnFail, the submitter's job options)", () => {
  it('defaults: at most 1,000 finished jobs of each kind, none older than a day', () => {
    expect(KEEP_FINISHED).toEqual({ age: 86_400, count: 1_000 });
    expect(queueOptions('hv').defaultJobOptions).toMatchObject({ removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED });
  });

  it('a job that finishes removes the completed ones beyond 1,000 and those older than a day', async () => {
    const { q, jobs, key } = queue();
    q.process(1, async () => ({ type: 'resync' }));
    // 1,000 jobs that completed two days ago to an hour ago, as Bull records them (score = finishedOn).
    const now = Date.now();
    const m = q.client.multi();
    for (let k = 0; k < 1_000; k++) {
      const at = k === 0 ? now - 2 * 86_400_000 : now - 3_600_000 + k;
      m.hset(key(`f${k}`), 'data', '{"type":"resync"}', 'opts', '{}', 'timestamp', String(at), 'finishedOn', String(at), 'returnvalue', '{}');
      m.zadd(key('completed'), at, `f${k}`);
    }
    await m.exec();
    const { job } = await jobs.submit({ type: 'resync', idempotencyKey: 'newest' });
    await jobs.wait(job, scaled(10_000));
    expect(await q.client.zcard(key('completed'))).toBe(1_000);
    expect(await q.client.exists(key('f0'))).toBe(0); // two days old: gone, its hash too
    expect(await q.client.exists(key('f1'))).toBe(1);
    expect(await jobs.get('f0')).toBeNull(); // GET /v1/jobs/f0: 404, not an error
    expect(await q.client.zscore(key('completed'), 'newest')).not.toBeNull();
  });
});
