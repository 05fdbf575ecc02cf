// The per-hypervisor Bull queue: submission (validated first, idempotency keys as job ids),
// inspection, waiting for results, the processing side's idempotency memory, and what Redis keeps
// of finished jobs (bounded by count, age and bytes: docs/operations.md "Redis").
import { bullInternals } from './bull-internals';
import Bull from 'bull';
import { DomainError } from '../common/domain-error';
import { AnyJob } from './job.dto';
import { decodeFailure, JobFailedError, JobFailure } from './job-failure';
import { JobValidationError, MAX_JOB_BYTES, validateJob } from './job-validation';

export { JobFailedError };
export type { JobFailure };

export interface QueueSettings {
  /** How long a job's lock lives; a job whose agent died is re-run after it expires. */
  lockDurationMs?: number;
  /** Finished jobs kept for inspection: a count, or Bull's { age (seconds), count }. */
  keepCompleted?: number | Bull.KeepJobsOptions;
  keepFailed?: number | Bull.KeepJobsOptions;
}

/**
 * Finished jobs kept by default: the newest 1,000 of each kind, none older than a day. Applied by
 * Bull when a job finishes, with the options the job was submitted with (the agent's and the
 * orchestrator's HypervisorClient both take them from here).
 */
export const KEEP_FINISHED: Readonly<Bull.KeepJobsOptions> = { age: 86_400, count: 1_000 };

/** Every hypervisor has one queue named "jobs" under its own key prefix. */
export const QUEUE_NAME = 'jobs';
export const queuePrefix = (hypervisor: string) => `srv6-agent:${hypervisor}`;

/** Queue options shared by the agent (@nestjs/bull) and the orchestrator client. */
export function queueOptions(hypervisor: string, s: QueueSettings = {}): Bull.QueueOptions {
  const lock = s.lockDurationMs ?? 30_000;
  return {
    prefix: queuePrefix(hypervisor),
    settings: {
      lockDuration: lock,
      lockRenewTime: Math.floor(lock / 2),
      stalledInterval: lock,
      // A job interrupted by a crash runs again; only a job that keeps killing the agent fails.
      maxStalledCount: 3,
    },
    defaultJobOptions: {
      // One attempt: retries of transient failures happen inside the processor, so that a job
      // being retried never lets a later one overtake it.
      attempts: 1,
      removeOnComplete: s.keepCompleted ?? { ...KEEP_FINISHED },
      removeOnFail: s.keepFailed ?? { ...KEEP_FINISHED },
      // Each failure's stack holds its message (the whole failure as JSON): only the last is kept.
      stackTraceLimit: 1,
    },
  };
}

export function openQueue(redisUrl: string, hypervisor: string, s: QueueSettings = {}): Bull.Queue {
  return new Bull(QUEUE_NAME, redisUrl, queueOptions(hypervisor, s));
}

export interface JobView {
  id: string;
  type: string;
  state: string;
  submittedAt: number;
  finishedAt?: number;
  result?: unknown;
  failure?: JobFailure;
  idempotencyKey?: string;
}

export async function viewJob(job: Bull.Job): Promise<JobView> {
  const v: JobView = { id: String(job.id), type: job.data?.type, state: await job.getState(), submittedAt: job.timestamp };
  if (job.finishedOn) v.finishedAt = job.finishedOn;
  if (job.returnvalue !== undefined && job.returnvalue !== null) v.result = job.returnvalue;
  // Bull keeps the reason of an earlier failed attempt (e.g. a lock lost in a Redis restart) on a
  // job that then ran again and completed: a completed job has no failure.
  if (job.failedReason && v.state === 'failed') v.failure = decodeFailure(job.failedReason);
  if (job.data?.idempotencyKey) v.idempotencyKey = job.data.idempotencyKey;
  return v;
}

/**
 * What a finished job may keep in Redis. Its payload (up to MAX_JOB_BYTES) is needed only until
 * it has run: larger than FINISHED_DATA_MAX, it is replaced by a stub naming its type and key
 * (all that job views show). The failure and the stack are cut to their limits, the failure
 * staying JSON with the first FAILURE_ENTRIES of each list and how many were left out.
 */
export const FINISHED_DATA_MAX = 1024;
export const FINISHED_FAILURE_MAX = 16 * 1024;
export const FINISHED_STACK_MAX = 2048;
const FAILURE_ENTRIES = 20;

export type FinishedState = 'completed' | 'failed';

/** What stays of a finished job's payload: what job views show, and how large it was. */
export function payloadStub(data: unknown): Record<string, unknown> {
  const d = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const stub: Record<string, unknown> = { type: typeof d.type === 'string' ? d.type.slice(0, 64) : undefined };
  if (typeof d.idempotencyKey === 'string') stub.idempotencyKey = d.idempotencyKey.slice(0, 128);
  return stub; // payloadBytes is added in Redis, which knows the size without a copy here
}

function trimLists(v: unknown, depth: number): unknown {
  if (Array.isArray(v)) return v.slice(0, FAILURE_ENTRIES).map((x) => trimLists(x, depth + 1));
  if (!v || typeof v !== 'object' || depth > 3) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = trimLists(x, depth + 1);
    if (Array.isArray(x) && x.length > FAILURE_ENTRIES) out[`${k}Omitted`] = x.length - FAILURE_ENTRIES;
  }
  return out;
}

/** A failedReason of at most `max` bytes that decodeFailure still reads (name, message, retry kept). */
export function compactFailure(reason: string, max = FINISHED_FAILURE_MAX): string {
  if (Buffer.byteLength(reason) <= max) return reason;
  const f = decodeFailure(reason);
  const trimmed = JSON.stringify(trimLists(f, 0));
  if (Buffer.byteLength(trimmed) <= max) return trimmed;
  return JSON.stringify({ name: String(f.name).slice(0, 100), message: f.message.slice(0, 2000), retry: f.retry, truncated: true });
}

/** Bull's stacktrace field (a JSON list) within FINISHED_STACK_MAX: each stack without the message that starts it. */
export function compactStacktrace(stacks: string[], max = FINISHED_STACK_MAX): string {
  const whole = JSON.stringify(stacks);
  if (whole.length <= max) return whole;
  const last = stacks.slice(-1).map((st) => st.replace(/^[^\n]*/, (line) => line.slice(0, 200)).slice(0, max / 2));
  return JSON.stringify(last);
}

// Compacts a job only while it is still in the finished set it was moved to: one retried (or
// removed) in the meantime is left alone. HSTRLEN sizes the payload without moving it.
//   KEYS: job hash, completed/failed set; ARGV: id, data limit, stub JSON, [field, value]...
const COMPACT_LUA = `
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HSTRLEN', KEYS[1], 'data')
if n > tonumber(ARGV[2]) then
  local stub = cjson.decode(ARGV[3])
  stub['payloadBytes'] = n
  redis.call('HSET', KEYS[1], 'data', cjson.encode(stub))
end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
return 1`;

// A failed job's payload back (from its resubmission), only while it is still failed.
//   KEYS: job hash, failed set; ARGV: id, data
const RESTORE_LUA = `
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1`;

/** Queues whose finished jobs a JobQueue compacts (one listener pair per queue). */
const compacting = new WeakSet<Bull.Queue>();

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  since: number;
}

/** How often waiters are checked against Redis (events missed while the subscriber reconnected). */
const SWEEP_MS = 2000;

/**
 * Submitting, inspecting and waiting for jobs. On the queue that processes them (the agent's), it
 * also compacts every job as it finishes (payloadStub, compactFailure, compactStacktrace), and
 * once per process every finished job left uncompacted (a crash in between, an older agent).
 */
export class JobQueue {
  /** Jobs being waited for, by id: one pair of queue listeners serves them all. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private listening?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  /** Every finished job is to be looked at (at the first finish, and after a compaction failed). */
  private compactAllDue = true;

  constructor(readonly queue: Bull.Queue) {
    if (compacting.has(queue)) return;
    compacting.add(queue);
    // Local events: they fire only where jobs are processed, after Bull moved the job.
    const finished = (job: Bull.Job | null, state: FinishedState) => {
      if (!job) return;
      const all = this.compactAllDue;
      this.compactAllDue = false;
      void this.compact(job, state)
        .then(() => (all ? this.compactAll() : 0))
        .catch(() => (this.compactAllDue = true)); // Redis away: the next finish looks at them all
    };
    queue.on('completed', (job: Bull.Job) => finished(job, 'completed'));
    queue.on('failed', (job: Bull.Job | null) => finished(job, 'failed'));
  }

  /** Cuts a finished job down to what FINISHED_*_MAX allow; false when it is no longer finished as `state`. */
  async compact(job: Bull.Job, state: FinishedState): Promise<boolean> {
    const q = bullInternals(this.queue);
    const id = String(job.id);
    const fields: string[] = [];
    if (job.failedReason) {
      const f = compactFailure(job.failedReason);
      if (f !== job.failedReason) fields.push('failedReason', f);
    }
    const stacks = Array.isArray(job.stacktrace) ? job.stacktrace : [];
    const st = compactStacktrace(stacks);
    if (st !== JSON.stringify(stacks)) fields.push('stacktrace', st);
    const done = await this.queue.client.eval(
      COMPACT_LUA,
      2,
      q.jobKey(id),
      q.key(state),
      id,
      String(FINISHED_DATA_MAX),
      JSON.stringify(payloadStub(job.data)),
      ...fields,
    );
    return done === 1;
  }

  /** Compacts every finished job that is over a limit; returns how many. */
  async compactAll(): Promise<number> {
    const q = bullInternals(this.queue);
    const c = this.queue.client;
    let n = 0;
    for (const state of ['completed', 'failed'] as const) {
      const ids = await c.zrange(q.key(state), 0, -1);
      for (let i = 0; i < ids.length; i += 200) {
        const batch = ids.slice(i, i + 200);
        const p = c.pipeline();
        for (const id of batch) p.hstrlen(q.jobKey(id), 'data').hstrlen(q.jobKey(id), 'failedReason').hstrlen(q.jobKey(id), 'stacktrace');
        const sizes = ((await p.exec()) ?? []).map(([, v]) => Number(v));
        for (const [j, id] of batch.entries()) {
          const [data, reason, stack] = sizes.slice(3 * j, 3 * j + 3) as [number, number, number];
          if (data <= FINISHED_DATA_MAX && reason <= FINISHED_FAILURE_MAX && stack <= FINISHED_STACK_MAX) continue;
          const job = await this.queue.getJob(id); // the one read of a large payload, to name its type
          if (job && (await this.compact(job, state))) n++;
        }
      }
    }
    return n;
  }

  /**
   * Validates, then enqueues. With an idempotency key the key is the job id: a second
   * submission finds the first job (and, once it finished, its result) instead of adding one.
   */
  async submit(raw: unknown): Promise<{ job: Bull.Job; duplicate: boolean; validated: AnyJob }> {
    const size = Buffer.byteLength(JSON.stringify(raw) ?? '');
    if (size > MAX_JOB_BYTES) throw new JobValidationError([{ field: '(job)', messages: [`job is ${size} bytes, at most ${MAX_JOB_BYTES}`] }]);
    const validated = validateJob(raw);
    const key = validated.idempotencyKey;
    if (key) {
      const existing = await this.queue.getJob(key);
      if (existing && (await this.retriedAfterTransientFailure(existing, raw))) return { job: existing, duplicate: false, validated };
      if (existing) return { job: existing, duplicate: true, validated };
    }
    const job = await this.queue.add(raw as object, key ? { jobId: key } : {});
    return { job, duplicate: false, validated };
  }

  /**
   * A key whose job failed for a transient reason (Redis or the kernel busy, a lock lost in a
   * Redis restart) is a job still owed: submitting the key again runs it again, once (Bull's
   * retry is atomic; a concurrent second submitter finds it waiting). A permanent failure stays
   * the answer. Its payload was compacted away when it failed: it runs with this submission's,
   * put back in the same MULTI as Bull's retry script, so that no compaction comes in between.
   */
  private async retriedAfterTransientFailure(job: Bull.Job, raw: unknown): Promise<boolean> {
    if (!job.failedReason || decodeFailure(job.failedReason).retry !== 'transient') return false;
    await this.queue.isReady(); // Bull's scripts are loaded
    const q = bullInternals(this.queue);
    const id = String(job.id);
    const jobKey = q.jobKey(id);
    const multi = this.queue.client.multi() as unknown as {
      eval(script: string, nkeys: number, ...args: string[]): typeof multi;
      reprocessJob(args: (string | number)[]): typeof multi;
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    // Bull's Job.retry(): scripts.reprocessJob with state 'failed'.
    const keys = [jobKey, `${jobKey}:lock`, q.key('failed'), q.key('wait'), q.key('meta-paused'), q.key('paused')];
    const res = await multi
      .eval(RESTORE_LUA, 2, jobKey, q.key('failed'), id, JSON.stringify(raw))
      .reprocessJob([...keys, id, job.opts.lifo ? 'RPUSH' : 'LPUSH', q.token, Date.now()])
      .exec();
    if (res?.[1]?.[1] !== 1) return false; // someone else retried it first, or it is no longer failed
    Object.assign(job, { data: raw, failedReason: null, finishedOn: null, processedOn: null });
    return true;
  }

  async get(id: string): Promise<Bull.Job | null> {
    return this.queue.getJob(id);
  }

  async list(states: Bull.JobStatus[] = ['waiting', 'active', 'completed', 'failed', 'delayed'], limit = 100): Promise<Bull.Job[]> {
    // Bull applies the range to each state: the newest `limit` of each, of which the newest `limit` overall.
    const jobs = await this.queue.getJobs(states, 0, limit - 1);
    return jobs
      .filter((j): j is Bull.Job => !!j)
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, limit);
  }

  /**
   * The job's result; rejects with its failure (parsed) or after the timeout. Bull's own
   * `job.finished()` adds two listeners and a timer per waiting job, so every completion walks all
   * waiters: quadratic once hundreds of jobs are in flight. Here a completion is one map lookup.
   */
  async wait(job: Bull.Job, timeoutMs: number): Promise<unknown> {
    const id = String(job.id);
    await this.listen();
    let timer: NodeJS.Timeout | undefined;
    let waiter!: Waiter;
    const done = new Promise<unknown>((resolve, reject) => {
      waiter = { resolve, reject, since: Date.now() };
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      timer = setTimeout(() => reject(new JobTimeoutError(id, timeoutMs)), timeoutMs);
    });
    // A failure event may reject `done` while the look-up below is still under way, before the
    // `await done` that handles it: without a handler now, Node reports an unhandled rejection.
    done.catch(() => undefined);
    this.sweeper ??= setInterval(() => void this.sweep(), SWEEP_MS).unref();
    try {
      // It may have finished before the listener was in place: registered first, then looked up.
      await this.settleIfFinished(id, [waiter]);
      return await done;
    } catch (e) {
      if (e instanceof JobTimeoutError) throw e;
      throw new JobFailedError(id, decodeFailure((e as Error).message));
    } finally {
      clearTimeout(timer);
      const set = this.waiters.get(id);
      set?.delete(waiter);
      if (set && !set.size) this.waiters.delete(id);
      if (!this.waiters.size && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }
  }

  /**
   * Completion events are published, not stored: one that comes while the subscriber reconnects
   * (a Redis restart) is lost, and its waiter would wait for the timeout. Waiters older than a
   * sweep interval are therefore checked against the job's record in Redis.
   */
  private async sweep(): Promise<void> {
    const old = Date.now() - SWEEP_MS;
    await Promise.all([...this.waiters].map(([id, set]) => ([...set].some((w) => w.since < old) ? this.settleIfFinished(id, [...set]) : undefined))).catch(
      () => undefined,
    );
  }

  private async settleIfFinished(id: string, waiters: Waiter[]): Promise<void> {
    const job = await this.queue.getJob(id);
    if (!job?.finishedOn) return;
    // Bull keeps an earlier attempt's failedReason on a job that then completed: the state decides.
    const failed = !!job.failedReason && (job.returnvalue === null || job.returnvalue === undefined || (await job.getState()) === 'failed');
    for (const w of waiters) {
      if (failed) w.reject(new Error(job.failedReason));
      else w.resolve(job.returnvalue);
    }
  }

  private listen(): Promise<void> {
    const settle = (id: unknown, f: (w: Waiter) => void) => {
      for (const w of this.waiters.get(String(id)) ?? []) f(w);
    };
    return (this.listening ??= (async () => {
      this.queue.on('global:completed', (id: unknown, value: unknown) => settle(id, (w) => w.resolve(parseResult(value))));
      this.queue.on('global:failed', (id: unknown, reason: unknown) => settle(id, (w) => w.reject(new Error(String(reason)))));
      // Resolved once Redis confirms the subscriptions: no completion after this can be missed.
      const q = bullInternals(this.queue);
      await Promise.all([q.registerEvent('global:completed'), q.registerEvent('global:failed')]);
      await this.queue.isReady();
    })());
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    return this.queue.close();
  }
}

/** Completion events carry the result as JSON text. */
function parseResult(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

export class JobTimeoutError extends Error {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`job ${jobId} did not finish within ${timeoutMs} ms (it may still run)`);
    this.name = 'JobTimeoutError';
  }
}

/** Redis refused or did not answer a read or write of the queue's own records (here: idempotency). */
export class QueueStoreError extends DomainError {
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'QueueStoreError';
  /** The socket error's code (ECONNREFUSED, …), when the cause had one. */
  readonly code?: string;
  constructor(
    readonly op: string,
    cause: unknown,
  ) {
    const c = cause as { message?: string; code?: unknown } | undefined;
    super(`redis ${op}: ${c?.message ?? String(cause)}`, { cause });
    this.name = 'QueueStoreError';
    if (typeof c?.code === 'string') this.code = c.code;
  }

  override details() {
    return { code: this.code };
  }
}

/** The Redis call's result, or QueueStoreError: whatever ioredis rejects with is I/O. */
async function stored<T>(op: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw new QueueStoreError(op, e);
  }
}

/**
 * Results of finished jobs by idempotency key, in Redis next to the queue, bounded: a key seen
 * again after its job left the queue's retention still applies nothing twice.
 */
export class IdempotencyStore {
  private readonly hash: string;
  private readonly order: string;

  constructor(
    private readonly queue: Bull.Queue,
    hypervisor: string,
    private readonly keep = 100_000,
  ) {
    this.hash = `${queuePrefix(hypervisor)}:${QUEUE_NAME}:idempotency`;
    this.order = `${this.hash}:order`;
  }

  async get(key: string): Promise<unknown | undefined> {
    const v = await stored('idempotency get', () => this.queue.client.hget(this.hash, key));
    return v === null ? undefined : JSON.parse(v);
  }

  async put(key: string, result: unknown): Promise<void> {
    const c = this.queue.client;
    const value = JSON.stringify(result);
    await stored('idempotency put', async () => {
      await c.multi().hset(this.hash, key, value).zadd(this.order, Date.now(), key).exec();
      const n = await c.zcard(this.order);
      if (n > this.keep) {
        const old = await c.zrange(this.order, 0, n - this.keep - 1);
        if (old.length)
          await c
            .multi()
            .hdel(this.hash, ...old)
            .zrem(this.order, ...old)
            .exec();
      }
    });
  }
}
