import { Module } from '@nestjs/common';

import { HEALTH_CHECKS, HealthCheck } from './health-check';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { NetlinkHealthCheck } from './netlink.health-check';
import { RedisHealthCheck } from './redis.health-check';
import { BpffsHealthCheck } from './bpffs.health-check';
import { JobsModule } from '../jobs/jobs.module';

@Module({
  imports: [JobsModule], // the Redis check uses the job queue's connection
  controllers: [HealthController],
  providers: [
    HealthService,
    NetlinkHealthCheck,
    RedisHealthCheck,
    BpffsHealthCheck,
    // Readiness checks, in report order.
    { provide: HEALTH_CHECKS, useFactory: (...checks: HealthCheck[]) => checks, inject: [NetlinkHealthCheck, RedisHealthCheck, BpffsHealthCheck] },
  ],
})
export class HealthModule {}
