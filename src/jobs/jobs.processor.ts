import { Process, Processor } from '@nestjs/bull';
import type Bull from 'bull';
import { QUEUE_NAME } from './job-queue';
import { JobsService } from './jobs.service';

/** One job at a time (concurrency 1): jobs for this hypervisor apply in submission order. */
@Processor(QUEUE_NAME)
export class JobsProcessor {
  constructor(private readonly jobs: JobsService) {}

  @Process()
  handle(job: Bull.Job) {
    return this.jobs.process(job);
  }
}
