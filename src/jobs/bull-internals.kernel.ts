// Kernel tier (a real Redis, a real Bull queue): every Bull internal the agent relies on
// (src/jobs/bull-internals.ts) is there and means what the agent takes it to mean. A Bull update
// that renames or changes one of them fails here, by name.
import type Bull from 'bull';
import { TestRedis } from '../testing/redis';
import { scaled } from '../testing/time-scale';
import { bullInternals, BullInternalsError } from './bull-internals';
import { openQueue, queuePrefix } from './job-queue';

jest.setTimeout(scaled(60_000));

let redis: TestRedis;
let queue: Bull.Queue;
const hv = `bi-${process.pid}`;
const prefixed = (s: string) => `${queuePrefix(hv)}:jobs:${s}`;

beforeAll(async () => {
  redis = await TestRedis.start();
  queue = openQueue(redis.url, hv, { lockDurationMs: 12_345 });
  await queue.isReady();
});
afterAll(async () => {
  await queue?.close();
  await redis?.destroy();
});

it('names the queue keys Bull really uses: a waiting job is in the wait list, its hash at jobKey()', async () => {
  const q = bullInternals(queue);
  for (const k of ['active', 'wait', 'paused', 'meta-paused', 'completed', 'failed'] as const) expect(q.key(k)).toBe(prefixed(k));
  await queue.pause(true); // local pause: nothing takes the job
  const job = await queue.add({ type: 'resync' });
  expect(await queue.client.lrange(q.key('wait'), 0, -1)).toContain(String(job.id));
  expect(await queue.client.hget(q.jobKey(String(job.id)), 'data')).toBe(JSON.stringify({ type: 'resync' }));
  await job.remove();
});

it('has a lock token, the lock duration it was opened with, and a subscription that resolves', async () => {
  const q = bullInternals(queue);
  expect(q.token).toMatch(/^[0-9a-f-]{36}$/);
  expect(q.lockDurationMs).toBe(12_345);
  await expect(
    Promise.race([q.registerEvent('global:failed').then(() => 'subscribed'), new Promise((r) => setTimeout(() => r('timeout'), scaled(5000)))]),
  ).resolves.toBe('subscribed');
});

it('refuses a queue without them, naming what is missing', () => {
  expect(() => bullInternals({} as Bull.Queue)).toThrow(new BullInternalsError("queue.keys['active']"));
  const q = queue as unknown as Record<string, unknown>;
  expect(() => bullInternals({ ...q, keys: q.keys, token: q.token, toKey: q.toKey } as unknown as Bull.Queue)).toThrow(/_registerEvent/);
});
