// Runs a validated job against the dataplane. The dataplane retries transient failures itself,
// in place, before any later job runs (the queue must not let a later job overtake an earlier
// one); what reaches here has failed for good this time. Whether a resubmission may help is the
// error's own declaration (common/domain-error.ts retryOf).
import { DomainError, Retry } from '../common/domain-error';
import { Dataplane, JobResult } from '../dataplane/dataplane';
import type { OpFailure } from '../dataplane/applier';
import { allTransient } from '../dataplane/errors';
import { AnyJob, DeleteTenantJobDto, RoutesJobDto, UpsertNodeJobDto, UpsertTenantJobDto } from './job.dto';

/** Some kernel operations of a job failed: which and why (errno + extack per operation). */
export class KernelApplyError extends DomainError {
  /** Transient only if every operation failed with a transient errno. */
  readonly retry: Retry;
  readonly status = 502;
  readonly error = 'KernelApplyError';
  constructor(
    readonly failures: OpFailure[],
    readonly result: JobResult,
  ) {
    const first = failures[0];
    const back = result.rolledBack;
    const undone = !back
      ? ''
      : back.failed.length
        ? `; undoing it failed too (${back.failed.length} operation(s), first: ${back.failed[0].what}: ${back.failed[0].extack ?? back.failed[0].message}): resyncs retry`
        : `; undone: the kernel and the desired state are back at version ${result.version}`;
    super(`${failures.length} kernel operation(s) failed; first: ${first.what}: ${first.code ?? ''} ${first.extack ?? first.message}`.trim() + undone);
    this.name = 'KernelApplyError';
    this.retry = allTransient(failures) ? 'transient' : 'permanent';
  }

  override details() {
    const back = this.result.rolledBack;
    return { failures: this.failures, rolledBack: back && { ...back, version: this.result.version } };
  }
}

export interface JobOutcome extends JobResult {
  type: AnyJob['type'];
}

export async function runJob(dp: Dataplane, job: AnyJob): Promise<JobOutcome> {
  let r: JobResult;
  switch (job.type) {
    case 'upsert-node':
      r = await dp.upsertNode((job as UpsertNodeJobDto).node);
      break;
    case 'upsert-tenant':
      r = await dp.upsertTenant((job as UpsertTenantJobDto).tenant);
      break;
    case 'delete-tenant':
      r = await dp.deleteTenant((job as DeleteTenantJobDto).tenant);
      break;
    case 'routes': {
      const j = job as RoutesJobDto;
      r = await dp.changeRoutes(j.tenant, { set: j.set, add: j.add, remove: j.remove });
      break;
    }
    case 'resync':
      r = await dp.resync();
      break;
  }
  if (r.failed.length) throw new KernelApplyError(r.failed, r);
  return { type: job.type, ...r };
}
