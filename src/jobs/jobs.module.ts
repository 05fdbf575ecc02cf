import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { AgentConfig } from '../config/agent.config';
import { DataplaneModule } from '../dataplane/dataplane.module';
import { MetricsModule } from '../metrics/metrics.module';
import { QUEUE_NAME, queueOptions } from './job-queue';
import { JobsController } from './jobs.controller';
import { JobsProcessor } from './jobs.processor';
import { JobsService } from './jobs.service';

@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AgentConfig],
      useFactory: (c: AgentConfig) => ({ url: c.redis.url, ...queueOptions(c.agent.hypervisor, { lockDurationMs: c.queue.lockMs }) }),
    }),
    BullModule.registerQueue({ name: QUEUE_NAME }),
    DataplaneModule,
    MetricsModule,
  ],
  controllers: [JobsController],
  providers: [JobsService, JobsProcessor],
  exports: [JobsService, BullModule],
})
export class JobsModule {}
