// The dataplane's domain errors: what a job meets in the kernel's interfaces and objects, in the
// desired state, and in the state directory on disk.
import { DomainError } from '../common/domain-error';
import { TRANSIENT_ERRNO } from '../common/errno';
import type { OpFailure } from './applier';

/** Operations that failed may all pass when tried again: every one has a transient errno. */
export function allTransient(failed: readonly OpFailure[]): boolean {
  return failed.every((f) => f.code !== undefined && TRANSIENT_ERRNO.has(f.code));
}

/** An interface a job names is not there: the job can pass once it exists, never as it is. */
export class MissingInterfaceError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 409;
  readonly error = 'MissingInterfaceError';
  constructor(
    readonly ifname: string,
    /** What the job names it as: a tenant interface, or (upsert-node) an underlay interface. */
    role: 'tenant' | 'underlay' = 'tenant',
  ) {
    super(`${role} interface ${ifname} does not exist on this hypervisor`);
    this.name = 'MissingInterfaceError';
  }

  override details() {
    return { ifname: this.ifname };
  }
}

/** A kernel object the job needs is held by someone else (e.g. a link of the VRF's name). */
export class ForeignObjectError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 409;
  readonly error = 'ForeignObjectError';
  constructor(message: string) {
    super(message);
    this.name = 'ForeignObjectError';
  }
}

export class UnknownTenantError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 404;
  readonly error = 'UnknownTenant';
  constructor(readonly tenant: string) {
    super(`unknown tenant ${tenant}`);
    this.name = 'UnknownTenantError';
  }

  override details() {
    return { tenant: this.tenant };
  }
}

// The agent refuses to start on these two (Dataplane.start) until the operator acts. Jobs handed
// out meanwhile fail with DataplaneNotStartedError instead: they never ran.

/** No desired state on disk, but the kernel holds the agent's objects: reconciling would delete them all. */
export class StateMissingError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 503;
  readonly error = 'StateMissingError';
  constructor(
    readonly dir: string,
    readonly protocol: number,
    readonly held: Record<string, number>,
  ) {
    const what = Object.entries(held)
      .filter(([, n]) => n)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    super(
      `no desired state in ${dir}, but the kernel holds objects of the agent (protocol ${protocol}: ${what}); restore the state directory, or start once with --wipe-orphans to delete them`,
    );
    this.name = 'StateMissingError';
  }

  override details() {
    return { dir: this.dir };
  }
}

export class StateCorruptError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 503;
  readonly error = 'StateCorruptError';
  constructor(
    readonly path: string,
    cause: string,
  ) {
    super(`desired state ${path} is unreadable: ${cause}`);
    this.name = 'StateCorruptError';
  }

  override details() {
    return { path: this.path };
  }
}

/**
 * A save of the desired state failed (EIO, ENOSPC, a short write): nothing was acknowledged, so
 * nothing was applied either (the save comes first). The disk may be back for the next attempt.
 */
export class StateWriteError extends DomainError {
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'StateWriteError';
  /** The system error's code and (negative, as Node gives it) errno, when it had them. */
  readonly code?: string;
  readonly errno?: number;
  constructor(
    readonly dir: string,
    cause: unknown,
  ) {
    const c = cause as Partial<NodeJS.ErrnoException> | undefined;
    super(`desired state in ${dir} could not be saved: ${c?.message ?? String(cause)}`, { cause });
    this.name = 'StateWriteError';
    this.code = c?.code;
    this.errno = c?.errno;
  }

  override details() {
    return { code: this.code, errno: this.errno };
  }
}

/**
 * A job met a dataplane that failed to start (the queue hands out jobs during start-up): it never
 * ran, and is owed once the agent starts.
 */
export class DataplaneNotStartedError extends DomainError {
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'DataplaneNotStarted';
  constructor(cause: unknown) {
    super(`the dataplane did not start: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'DataplaneNotStartedError';
  }
}
