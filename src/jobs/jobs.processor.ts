import { Process, Processor } from '@nestjs/bull';
import type Bull from 'bull';
import { QUEUE_NAME } from './job-queue';
import { JOB_CONCURRENCY } from './job-processor';
import { JobsService } from './jobs.service';

/**
 * Several handlers at once, so that jobs can queue up in the dataplane and go as a group; they
 * still enter it in queue order (PopOrderGate) and apply one at a time, in that order.
 */
@Processor(QUEUE_NAME)
export class JobsProcessor {
  constructor(private readonly jobs: JobsService) {}

  @Process({ concurrency: JOB_CONCURRENCY })
  handle(job: Bull.Job) {
    return this.jobs.process(job);
  }
}
