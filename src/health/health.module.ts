import { Module } from '@nestjs/common';

import { HEALTH_CHECKS, HealthCheck } from './health-check';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';
import { NetlinkHealthCheck } from './netlink.health-check';

@Module({
  controllers: [HealthController],
  providers: [
    HealthService,
    NetlinkHealthCheck,
    // Readiness checks, in report order; Redis and bpffs join here.
    { provide: HEALTH_CHECKS, useFactory: (...checks: HealthCheck[]) => checks, inject: [NetlinkHealthCheck] },
  ],
})
export class HealthModule {}
