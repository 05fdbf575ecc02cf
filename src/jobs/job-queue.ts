// The per-hypervisor Bull queue: submission (validated first, idempotency keys as job ids),
// inspection, waiting for results, and the processing side's idempotency memory.
import Bull from 'bull';
import { AnyJob } from './job.dto';
import { JobValidationError, MAX_JOB_BYTES, validateJob } from './job-validation';

export interface QueueSettings {
  /** How long a job's lock lives; a job whose agent died is re-run after it expires. */
  lockDurationMs?: number;
  /** Completed/failed jobs kept for audit. */
  keepCompleted?: number;
  keepFailed?: number;
}

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
      removeOnComplete: s.keepCompleted ?? 10_000,
      removeOnFail: s.keepFailed ?? 10_000,
    },
  };
}

export function openQueue(redisUrl: string, hypervisor: string, s: QueueSettings = {}): Bull.Queue {
  return new Bull(QUEUE_NAME, redisUrl, queueOptions(hypervisor, s));
}

/** A failure as stored in Bull's failedReason: JSON, so clients get the field-level detail. */
export interface JobFailure {
  name: string;
  message: string;
  retry: 'transient' | 'permanent';
  errors?: { field: string; messages: string[] }[];
  failures?: unknown[];
  [k: string]: unknown;
}

export function parseFailure(reason: string | undefined): JobFailure {
  try {
    const f = JSON.parse(reason ?? '');
    if (f && typeof f === 'object' && typeof f.message === 'string') return f as JobFailure;
  } catch {
    /* a plain message */
  }
  return { name: 'Error', message: reason ?? 'unknown failure', retry: 'transient' };
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
  if (job.failedReason && v.state === 'failed') v.failure = parseFailure(job.failedReason);
  if (job.data?.idempotencyKey) v.idempotencyKey = job.data.idempotencyKey;
  return v;
}

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  since: number;
}

/** How often waiters are checked against Redis (events missed while the subscriber reconnected). */
const SWEEP_MS = 2000;

export class JobQueue {
  /** Jobs being waited for, by id: one pair of queue listeners serves them all. */
  private readonly waiters = new Map<string, Set<Waiter>>();
  private listening?: Promise<void>;
  private sweeper?: NodeJS.Timeout;

  constructor(readonly queue: Bull.Queue) {}

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
      if (existing && (await this.retriedAfterTransientFailure(existing))) return { job: existing, duplicate: false, validated };
      if (existing) return { job: existing, duplicate: true, validated };
    }
    const job = await this.queue.add(raw as object, key ? { jobId: key } : {});
    return { job, duplicate: false, validated };
  }

  /**
   * A key whose job failed for a transient reason (Redis or the kernel busy, a lock lost in a
   * Redis restart) is a job still owed: submitting the key again runs it again, once (Bull's
   * retry is atomic; a concurrent second submitter finds it waiting). A permanent failure stays
   * the answer.
   */
  private async retriedAfterTransientFailure(job: Bull.Job): Promise<boolean> {
    if (!job.failedReason || parseFailure(job.failedReason).retry !== 'transient') return false;
    try {
      await job.retry();
      return true;
    } catch {
      return false; // someone else retried it first, or it is no longer failed
    }
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
      throw new JobFailedError(id, parseFailure((e as Error).message));
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
    await Promise.all([...this.waiters].map(([id, set]) => ([...set].some((w) => w.since < old) ? this.settleIfFinished(id, [...set]) : undefined))).catch(() => undefined);
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
      const register = (this.queue as unknown as { _registerEvent?: (e: string) => Promise<unknown> })._registerEvent;
      if (register) await Promise.all([register.call(this.queue, 'global:completed'), register.call(this.queue, 'global:failed')]);
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

export class JobFailedError extends Error {
  constructor(
    readonly jobId: string,
    readonly failure: JobFailure,
  ) {
    super(`job ${jobId} failed: ${failure.message}`);
    this.name = 'JobFailedError';
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
    const v = await this.queue.client.hget(this.hash, key);
    return v === null ? undefined : JSON.parse(v);
  }

  async put(key: string, result: unknown): Promise<void> {
    const c = this.queue.client;
    await c.multi().hset(this.hash, key, JSON.stringify(result)).zadd(this.order, Date.now(), key).exec();
    const n = await c.zcard(this.order);
    if (n > this.keep) {
      const old = await c.zrange(this.order, 0, n - this.keep - 1);
      if (old.length) await c.multi().hdel(this.hash, ...old).zrem(this.order, ...old).exec();
    }
  }
}
