// Runs a validated job against the dataplane and says whether a failure is worth retrying. The
// dataplane retries transient failures itself, in place, before any later job runs (the queue must
// not let a later job overtake an earlier one); what reaches here has failed for good this time.
import { CapabilityMissingError } from '../common/errors';
import { Dataplane, JobResult } from '../dataplane/dataplane';
import { ForeignObjectError, MissingInterfaceError } from '../dataplane/planner';
import { UnknownTenantError } from '../dataplane/state-transitions';
import { InvalidArgumentError, KernelError, NetlinkSocketError, TRANSIENT_ERRNO } from '../netlink/errors';
import type { OpFailure } from '../dataplane/applier';
import { AnyJob, DeleteTenantJobDto, RoutesJobDto, UpsertNodeJobDto, UpsertTenantJobDto } from './job.dto';
import { JobValidationError } from './job-validation';

export { TRANSIENT_ERRNO };

export type Retry = 'transient' | 'permanent';

export function classify(e: unknown): Retry {
  if (e instanceof JobValidationError || e instanceof InvalidArgumentError || e instanceof UnknownTenantError) return 'permanent';
  if (e instanceof CapabilityMissingError || e instanceof MissingInterfaceError || e instanceof ForeignObjectError) return 'permanent';
  if (e instanceof KernelError) return TRANSIENT_ERRNO.has(e.code) ? 'transient' : 'permanent';
  if (e instanceof NetlinkSocketError) return 'transient';
  if (e instanceof KernelApplyError) return e.retry;
  // A programming error (a TypeError on an input shape validation let through) fails the same way again.
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return 'permanent';
  return 'transient'; // unknown: an I/O hiccup (Redis, the disk) is likelier than a bug that retrying would hide
}

/** Some kernel operations of a job failed: which and why (errno + extack per operation). */
export class KernelApplyError extends Error {
  readonly retry: Retry;
  constructor(
    readonly failures: OpFailure[],
    readonly result: JobResult,
  ) {
    const first = failures[0];
    const back = result.rolledBack;
    const undone = !back ? '' : back.failed.length ? `; undoing it failed too (${back.failed.length} operation(s), first: ${back.failed[0].what}: ${back.failed[0].extack ?? back.failed[0].message}): resyncs retry` : `; undone: the kernel and the desired state are back at version ${result.version}`;
    super(`${failures.length} kernel operation(s) failed; first: ${first.what}: ${first.code ?? ''} ${first.extack ?? first.message}`.trim() + undone);
    this.name = 'KernelApplyError';
    this.retry = failures.every((f) => f.code && TRANSIENT_ERRNO.has(f.code)) ? 'transient' : 'permanent';
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
