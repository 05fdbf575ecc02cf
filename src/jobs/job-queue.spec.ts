// What a finished job keeps (issue 15, defect 15); against a real Redis in job-queue.kernel.ts.
import { decodeFailure } from './job-failure';
import type Bull from 'bull';
import { retryOf } from '../common/domain-error';
import { compactFailure, compactStacktrace, FINISHED_FAILURE_MAX, FINISHED_STACK_MAX, IdempotencyStore, payloadStub, QueueStoreError } from './job-queue';

describe('compactFailure', () => {
  it('leaves a failure within the limit as it is, byte for byte', () => {
    const small = JSON.stringify({ name: 'KernelApplyError', message: 'm', retry: 'permanent', failures: [{ what: 'route x' }] });
    expect(compactFailure(small)).toBe(small);
    expect(compactFailure('job stalled more than allowable limit')).toBe('job stalled more than allowable limit');
  });

  it('keeps the first 20 entries of every list, nested ones too, with how many were left out', () => {
    const failures = Array.from({ length: 5000 }, (_, i) => ({ kind: 'route', what: `route 10.0.${i >> 8}.${i & 255}/32`, code: 'EINVAL', message: 'EINVAL' }));
    const reason = JSON.stringify({
      name: 'KernelApplyError',
      message: '5000 kernel operation(s) failed',
      retry: 'transient',
      failures,
      rolledBack: { failed: failures, version: 7 },
    });
    const out = compactFailure(reason);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(FINISHED_FAILURE_MAX);
    expect(decodeFailure(out)).toEqual({
      name: 'KernelApplyError',
      message: '5000 kernel operation(s) failed',
      retry: 'transient',
      failures: failures.slice(0, 20),
      failuresOmitted: 4980,
      rolledBack: { failed: failures.slice(0, 20), failedOmitted: 4980, version: 7 },
    });
  });

  it('falls back to name, message and retry when the entries themselves are huge', () => {
    const reason = JSON.stringify({ name: 'E', message: 'x'.repeat(50_000), retry: 'permanent', extack: 'y'.repeat(50_000) });
    const out = compactFailure(reason);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(FINISHED_FAILURE_MAX);
    expect(decodeFailure(out)).toEqual({ name: 'E', message: 'x'.repeat(2000), retry: 'permanent', truncated: true });
  });
});

describe('compactStacktrace', () => {
  it('keeps the last stack, its first line (the failure as JSON) cut short, within the limit', () => {
    const stack = (n: number) =>
      `Error: ${JSON.stringify({ message: 'm'.repeat(n) })}\n    at processJob (handle-job.ts:47:11)\n    at async OrderedJobProcessor.handle`;
    expect(compactStacktrace([stack(10)])).toBe(JSON.stringify([stack(10)]));
    const out = compactStacktrace([stack(100_000), stack(200_000)]);
    expect(out.length).toBeLessThanOrEqual(FINISHED_STACK_MAX);
    const [only] = JSON.parse(out) as string[];
    expect(only).toMatch(/^Error: \{"message":"m{180,}\n {4}at processJob \(handle-job\.ts:47:11\)\n/);
  });
});

describe('payloadStub', () => {
  it('names the type and the key, cut to their lengths, and nothing else', () => {
    expect(payloadStub({ type: 'routes', tenant: 'alpha', add: [1, 2], idempotencyKey: 'k-1' })).toEqual({ type: 'routes', idempotencyKey: 'k-1' });
    expect(payloadStub({ type: 't'.repeat(1000), idempotencyKey: 'k'.repeat(1000) })).toEqual({ type: 't'.repeat(64), idempotencyKey: 'k'.repeat(128) });
    expect(JSON.stringify(payloadStub(null))).toBe('{}');
  });
});

describe('IdempotencyStore', () => {
  it('Redis failing a read or a write is a QueueStoreError: transient, the job is owed', async () => {
    const down = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }));
    const client = { hget: down, multi: () => ({ hset: () => ({ zadd: () => ({ exec: down }) }) }) };
    const store = new IdempotencyStore({ client } as unknown as Bull.Queue, 'hv1');
    for (const call of [store.get('k'), store.put('k', { type: 'resync' })]) {
      const e = await call.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(QueueStoreError);
      expect(e).toMatchObject({ code: 'ECONNREFUSED', message: expect.stringMatching(/^redis idempotency (get|put): connect ECONNREFUSED/) });
      expect(retryOf(e)).toBe('transient');
    }
  });
});
