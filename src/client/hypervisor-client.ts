// The orchestrator's side: submit jobs to one hypervisor's queue through Redis and await their
// results. Usable as a library: `new HypervisorClient({ redisUrl, hypervisor }).submit(job)`.
import Bull from 'bull';
import { JobQueue, openQueue, QUEUE_NAME, queueOptions, viewJob } from '../jobs/job-queue';
import type { HypervisorJobView, Job, JobResult } from './job-types';

export type * from './job-types';

export interface ClientOptions {
  /**
   * redis:// or rediss:// URL, or `unix:` and the absolute path of a Redis unix socket
   * ("unix:/run/redis/redis.sock"): an orchestrator on the Redis host, or a test in another
   * network namespace than the Redis (the socket is a file, reachable from any namespace).
   */
  redisUrl: string;
  hypervisor: string;
  /** Default time to wait for a job's result. */
  timeoutMs?: number;
}

export class HypervisorClient {
  private readonly jobs: JobQueue;

  constructor(private readonly opts: ClientOptions) {
    this.jobs = new JobQueue(openClientQueue(opts.redisUrl, opts.hypervisor));
  }

  /**
   * Validates locally (the agent's own DTOs: field errors at once, nothing enqueued), enqueues, and
   * resolves with the result; rejects with JobFailedError (its failure says why and whether a
   * retry can help) or JobTimeoutError.
   */
  async submit(job: Job, opts: { timeoutMs?: number } = {}): Promise<JobResult> {
    const { job: j } = await this.jobs.submit(job);
    const result = (await this.jobs.wait(j, opts.timeoutMs ?? this.opts.timeoutMs ?? 60_000)) as Omit<JobResult, 'jobId'>;
    return { ...result, jobId: String(j.id) };
  }

  /**
   * Several jobs in this order (each enqueued once the previous one is: the agent applies them in
   * that order), then their results; rejects with the first failure, once every job finished.
   */
  async submitAll(jobs: Job[], opts: { timeoutMs?: number } = {}): Promise<JobResult[]> {
    const queued = [];
    for (const job of jobs) queued.push((await this.jobs.submit(job)).job);
    const timeout = opts.timeoutMs ?? this.opts.timeoutMs ?? 60_000;
    const settled = await Promise.allSettled(
      queued.map(async (j) => ({ ...((await this.jobs.wait(j, timeout)) as Omit<JobResult, 'jobId'>), jobId: String(j.id) })),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<JobResult>).value);
  }

  /** Enqueues without waiting; returns the job id (the idempotency key when given). */
  async enqueue(job: Job): Promise<string> {
    const { job: j } = await this.jobs.submit(job);
    return String(j.id);
  }

  async status(id: string): Promise<HypervisorJobView | undefined> {
    const j = await this.jobs.get(id);
    // The queue holds only validated jobs (submit validates first), so type and result are the agent's.
    return j ? ((await viewJob(j)) as HypervisorJobView) : undefined;
  }

  close(): Promise<void> {
    return this.jobs.close();
  }
}

/** The hypervisor's queue through a URL or a unix socket (`unix:/path`). */
function openClientQueue(redisUrl: string, hypervisor: string): Bull.Queue {
  const unix = /^unix:(\/.*)$/.exec(redisUrl);
  if (!unix) return openQueue(redisUrl, hypervisor);
  return new Bull(QUEUE_NAME, { ...queueOptions(hypervisor), redis: { path: unix[1] } });
}
