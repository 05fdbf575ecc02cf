import { Controller, Get, HttpStatus, Res } from '@nestjs/common';

import { ReadinessReport } from './health-check';
import { HealthService, Liveness } from './health.service';

@Controller('v1/health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Liveness: the process is up and serving. */
  @Get()
  live(): Liveness {
    return this.health.liveness();
  }

  /** Readiness: 200 when every check passes, 503 otherwise; the body lists each check. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) res: { status(code: number): unknown }): Promise<ReadinessReport> {
    const report = await this.health.readiness();
    res.status(report.status === 'ready' ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return report;
  }
}
