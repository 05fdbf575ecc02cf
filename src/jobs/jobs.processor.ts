import { Process, Processor } from '@nestjs/bull';
import type Bull from 'bull';
import { QUEUE_NAME } from './job-queue';
import { JOB_CONCURRENCY } from './handle-job';
import { JobsService } from './jobs.service';

/**
 * JOB_CONCURRENCY handlers (ADR 0009): jobs queue up in the dataplane and go as a group, still
 * entering it in queue order (PopOrderGate) and applying in that order.
 */
@Processor(QUEUE_NAME)
export class JobsProcessor {
  constructor(private readonly jobs: JobsService) {}

  @Process({ concurrency: JOB_CONCURRENCY })
  handle(job: Bull.Job) {
    return this.jobs.process(job);
  }
}
