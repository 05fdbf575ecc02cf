// A job's failure across Bull. Bull keeps only an error's message (`failedReason`, and the
// `global:failed` event): the agent encodes the failure there as JSON, and every reader (job
// views, the waiter, compaction, the resubmission check, metrics) decodes it here.
import { DomainError, Retry, retryOf } from '../common/domain-error';

/** A failure as stored in Bull's failedReason: JSON, so clients get the field-level detail. */
export interface JobFailure {
  /** The error's class name, e.g. 'KernelApplyError'. */
  name: string;
  message: string;
  retry: Retry;
  /** JobValidationError: every field that is wrong. */
  errors?: { field: string; messages: string[] }[];
  /** KernelApplyError: every operation that failed (and `rolledBack`, how the undo went). */
  failures?: unknown[];
  /** Everything else the error's details() gave: errno, code, extack, field, feature(s), tenant, … */
  [k: string]: unknown;
}

/** What the agent reports of an error: its name, message, retry class and details (unknown ones left out). */
export function failureOf(e: unknown): JobFailure {
  const err = e as Error | undefined;
  const f: JobFailure = { name: err?.name ?? 'Error', message: err?.message ?? String(e), retry: retryOf(e) };
  if (e instanceof DomainError) for (const [k, v] of Object.entries(e.details())) if (v !== undefined && v !== null) f[k] = v;
  return f;
}

/** The failure as Bull stores it. */
export function encodeFailure(e: unknown): string {
  return JSON.stringify(failureOf(e));
}

/** What a job handler throws: Bull keeps the message, which is the failure encoded. */
export function failedJob(e: unknown): Error {
  return new Error(encodeFailure(e));
}

/**
 * A failedReason read back. Bull's own reasons ("job stalled more than allowable limit", a lock
 * lost in a Redis restart) and jobs of older agents are plain text: the job never finished, so
 * it is owed (transient).
 */
export function decodeFailure(reason: string | undefined): JobFailure {
  try {
    const f = JSON.parse(reason ?? '') as Partial<JobFailure> | null;
    if (f && typeof f === 'object' && typeof f.message === 'string') {
      if (typeof f.name !== 'string') f.name = 'Error';
      if (f.retry !== 'permanent' && f.retry !== 'transient') f.retry = 'transient';
      return f as JobFailure;
    }
  } catch {
    /* a plain message */
  }
  return { name: 'Error', message: reason ?? 'unknown failure', retry: 'transient' };
}

/** What a waiter (JobQueue.wait, HypervisorClient) rejects with when the job failed. */
export class JobFailedError extends Error {
  constructor(
    readonly jobId: string,
    readonly failure: JobFailure,
  ) {
    super(`job ${jobId} failed: ${failure.message}`);
    this.name = 'JobFailedError';
  }
}
