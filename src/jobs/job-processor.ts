// What the agent does with one Bull job: validate, apply once (idempotency), report.
import type Bull from 'bull';
import { Dataplane } from '../dataplane/dataplane';
import { JobValidationError, validateJob } from './job-validation';
import { classify, JobOutcome, KernelApplyError, runJobWithRetries } from './job-runner';
import { IdempotencyStore, JobFailure } from './job-queue';

export interface ProcessedJob extends JobOutcome {
  /** True when the idempotency key was seen before: nothing was applied, this is the first result. */
  duplicate?: boolean;
}

export function failureOf(e: unknown): JobFailure {
  const err = e as Error & Record<string, unknown>;
  const f: JobFailure = { name: err?.name ?? 'Error', message: err?.message ?? String(e), retry: classify(e) };
  if (e instanceof JobValidationError) f.errors = e.errors;
  if (e instanceof KernelApplyError) f.failures = e.failures;
  for (const k of ['field', 'feature', 'alternative', 'errno', 'code', 'extack', 'ifname', 'tenant']) if (err && err[k] !== undefined) f[k] = err[k];
  return f;
}

export async function processJob(job: Bull.Job, dp: Dataplane, idem: IdempotencyStore, log?: (msg: string, d: object) => void): Promise<ProcessedJob> {
  try {
    const validated = validateJob(job.data);
    const key = validated.idempotencyKey;
    if (key) {
      const seen = await idem.get(key);
      if (seen) return { ...(seen as JobOutcome), duplicate: true };
    }
    const outcome = await runJobWithRetries(dp, validated, { onRetry: (e, attempt) => log?.('job retry', { id: job.id, attempt, error: (e as Error).message }) });
    if (key) await idem.put(key, outcome);
    return outcome;
  } catch (e) {
    // Bull keeps only a message: it carries the structured failure as JSON.
    throw new Error(JSON.stringify(failureOf(e)));
  }
}
