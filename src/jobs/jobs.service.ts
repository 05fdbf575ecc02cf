// Jobs inside the application: the REST API enqueues into the same Bull queue the orchestrator
// uses, and the processor applies them through the dataplane.
import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type Bull from 'bull';
import { AgentConfig } from '../config/agent.config';
import { DataplaneService } from '../dataplane/dataplane.service';
import { MetricsService } from '../metrics/metrics.service';
import { decodeFailure } from './job-failure';
import { IdempotencyStore, JobQueue, JobView, QUEUE_NAME, viewJob } from './job-queue';
import { OrderedJobProcessor, ProcessedJob } from './handle-job';

export interface SubmitResult {
  job: JobView;
  duplicate: boolean;
}

@Injectable()
export class JobsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Jobs');
  private readonly jobs: JobQueue;
  private readonly idem: IdempotencyStore;
  private readonly processor: OrderedJobProcessor;

  constructor(
    @InjectQueue(QUEUE_NAME) queue: Bull.Queue,
    config: AgentConfig,
    private readonly dataplane: DataplaneService,
    private readonly metrics: MetricsService,
  ) {
    this.jobs = new JobQueue(queue);
    this.idem = new IdempotencyStore(queue, config.agent.hypervisor);
    // The queue starts handing out jobs during start-up, before the startup reconcile is done.
    this.processor = new OrderedJobProcessor(queue, () => this.dataplane.ready, this.idem);
  }

  /** The queue's depth by state, read by each /metrics scrape. */
  onModuleInit(): void {
    this.metrics.attach({ queueCounts: async () => ({ ...(await this.counts()) }) });
  }

  /** Validates and enqueues; with `waitMs` also waits for the result (the view then has it). */
  async submit(raw: unknown, waitMs?: number): Promise<SubmitResult> {
    const { job, duplicate } = await this.jobs.submit(raw);
    if (waitMs) await this.jobs.wait(job, waitMs).catch(() => undefined); // the view tells how it ended
    const fresh = (await this.jobs.get(String(job.id))) ?? job;
    return { job: await viewJob(fresh), duplicate };
  }

  async get(id: string): Promise<JobView | undefined> {
    const j = await this.jobs.get(id);
    return j ? viewJob(j) : undefined;
  }

  async list(limit: number): Promise<JobView[]> {
    return Promise.all((await this.jobs.list(undefined, limit)).map(viewJob));
  }

  async counts(): Promise<Bull.JobCounts> {
    return this.jobs.queue.getJobCounts();
  }

  /**
   * Stop taking jobs and let the running one finish before the netlink socket closes (that
   * happens in the shutdown phase after this one): SIGTERM never cuts a job in half.
   */
  async onModuleDestroy(): Promise<void> {
    await this.jobs.queue.close();
  }

  /** The processor's work: one job, applied once, entering the dataplane in queue order. */
  async process(job: Bull.Job): Promise<ProcessedJob> {
    const t0 = performance.now();
    // Submitted (Bull's timestamp, the submitter's clock) to taken (processedOn: moved to active).
    this.metrics.jobStarted(job.data?.type, ((job.processedOn ?? Date.now()) - job.timestamp) / 1000);
    try {
      const r = await this.processor.handle(job);
      this.metrics.jobDone(job.data?.type, r.duplicate ? 'duplicate' : 'completed', (performance.now() - t0) / 1000);
      return r;
    } catch (e) {
      const f = decodeFailure((e as Error).message);
      this.metrics.jobDone(job.data?.type, f.retry === 'permanent' ? 'failed' : 'failed-transient', (performance.now() - t0) / 1000);
      this.logger.warn(`job ${job.id} (${job.data?.type}) failed: ${f.message}`);
      throw e;
    }
  }
}
