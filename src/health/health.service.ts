// Liveness (the process answers) and readiness (every dependency check passes, each within a deadline).
import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';

import { MetricsService } from '../metrics/metrics.service';

import { CheckResult, HEALTH_CHECKS, HealthCheck, ReadinessReport } from './health-check';

export const CHECK_TIMEOUT_MS = 2000;

export interface Liveness {
  status: 'ok';
  pid: number;
  uptimeSeconds: number;
}

@Injectable()
export class HealthService implements OnModuleInit {
  constructor(
    @Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[],
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  /** srv6_agent_ready answers what GET /v1/health/ready does, by the same checks. */
  onModuleInit(): void {
    this.metrics?.attach({ ready: async () => (await this.readiness()).status === 'ready' });
  }

  liveness(): Liveness {
    return { status: 'ok', pid: process.pid, uptimeSeconds: Math.round(process.uptime()) };
  }

  async readiness(): Promise<ReadinessReport> {
    const results = await Promise.all(this.checks.map((c) => this.run(c)));
    return { status: results.every((r) => r.ok) ? 'ready' : 'not-ready', checks: results };
  }

  private async run(c: HealthCheck): Promise<CheckResult> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      return { name: c.name, ok: true, durationMs: Date.now() - started };
    } catch (e) {
      return { name: c.name, ok: false, durationMs: Date.now() - started, error: e instanceof Error ? e.message : String(e) };
    } finally {
      clearTimeout(timer);
    }
  }
}
