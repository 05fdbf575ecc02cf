// A readiness check: resolves when its dependency answers, rejects (with a reason) otherwise.
// Checks are collected under HEALTH_CHECKS; Redis and bpffs checks join the list later.

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');

export interface CheckResult {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

export interface ReadinessReport {
  status: 'ready' | 'not-ready';
  checks: CheckResult[];
}
