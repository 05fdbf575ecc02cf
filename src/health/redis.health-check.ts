import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type Bull from 'bull';
import { QUEUE_NAME } from '../jobs/job-queue';
import { HealthCheck } from './health-check';

/** The job queue's Redis answers PING. */
@Injectable()
export class RedisHealthCheck implements HealthCheck {
  readonly name = 'redis';
  constructor(@InjectQueue(QUEUE_NAME) private readonly queue: Bull.Queue) {}

  async check(): Promise<void> {
    const pong = await this.queue.client.ping();
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
  }
}
