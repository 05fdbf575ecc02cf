// The one shape of the agent's errors. Each class says for itself whether the same request can
// succeed later unchanged (`retry`), how the REST API answers it (`status`, `error`) and which of
// its fields a client gets (`details()`). retryOf(), DomainExceptionFilter and a job's failure in
// Bull (jobs/job-failure.ts) read only these: a new error is one class, nothing else to edit.

/** permanent: the same job fails the same way again. transient: it may succeed later, unchanged. */
export type Retry = 'permanent' | 'transient';

export abstract class DomainError extends Error {
  /** A field or a getter: a KernelError is transient only for a transient errno. */
  abstract readonly retry: Retry;
  /** The HTTP status of the REST answer. */
  abstract readonly status: number;
  /** The REST answer's `error`: a stable name clients branch on ('KernelError', 'InvalidArgument', …). */
  abstract readonly error: string;

  /**
   * What a client needs beyond the message, in the REST answer and in a job's failure alike.
   * undefined means unknown: null in the answer, left out of the failure.
   */
  details(): Record<string, unknown> {
    return {};
  }
}

/**
 * Whether retrying can help. Only a DomainError says so; anything else is a bug or an input
 * nobody foresaw, and fails the same way again. I/O that may pass (the netlink socket, the state
 * directory, Redis) is thrown as a typed error that declares itself transient.
 */
export function retryOf(e: unknown): Retry {
  return e instanceof DomainError ? e.retry : 'permanent';
}
