// The orchestrator's side: submit jobs to one hypervisor's queue through Redis and await their
// results. Usable as a library: `new HypervisorClient({ redisUrl, hypervisor }).submit(job)`.
import { JobQueue, JobView, openQueue, viewJob } from '../jobs/job-queue';
import type { ProcessedJob } from '../jobs/job-processor';

export interface ClientOptions {
  redisUrl: string;
  hypervisor: string;
  /** Default time to wait for a job's result. */
  timeoutMs?: number;
}

export class HypervisorClient {
  private readonly jobs: JobQueue;

  constructor(private readonly opts: ClientOptions) {
    this.jobs = new JobQueue(openQueue(opts.redisUrl, opts.hypervisor));
  }

  /**
   * Validates locally (the agent's own DTOs: field errors at once, nothing enqueued), enqueues, and
   * resolves with the result; rejects with JobFailedError (its failure says why and whether a
   * retry can help) or JobTimeoutError.
   */
  async submit(job: object, opts: { timeoutMs?: number } = {}): Promise<ProcessedJob & { jobId: string }> {
    const { job: j } = await this.jobs.submit(job);
    const result = (await this.jobs.wait(j, opts.timeoutMs ?? this.opts.timeoutMs ?? 60_000)) as ProcessedJob;
    return { ...result, jobId: String(j.id) };
  }

  /** Enqueues without waiting; returns the job id (the idempotency key when given). */
  async enqueue(job: object): Promise<string> {
    const { job: j } = await this.jobs.submit(job);
    return String(j.id);
  }

  async status(id: string): Promise<JobView | undefined> {
    const j = await this.jobs.get(id);
    return j ? viewJob(j) : undefined;
  }

  close(): Promise<void> {
    return this.jobs.close();
  }
}
