// Typed errors of the netlink layer. Callers branch on the class and on errno, never on text.
import { DomainError, Retry } from '../common/domain-error';
import { errnoName, TRANSIENT_ERRNO } from '../common/errno';

export { errnoName, TRANSIENT_ERRNO };

/** The failing request, as much as is needed to act on an error. */
export interface RequestInfo {
  type: number;
  flags: number;
  seq: number;
  /** Human description of the object, e.g. "route fc00::1/128 table 100". */
  what: string;
}

/** The kernel refused a request: errno plus the extended ACK the kernel gave. */
export class KernelError extends DomainError {
  readonly code: string;
  readonly status = 502;
  readonly error = 'KernelError';
  constructor(
    readonly errno: number,
    readonly request: RequestInfo,
    readonly extack?: string,
    /** Byte offset in the request of the attribute the kernel objected to. */
    readonly extackOffset?: number,
  ) {
    super(`${request.what}: ${errnoName(errno)}${extack ? ` (${extack})` : ''}`);
    this.name = 'KernelError';
    this.code = errnoName(errno);
  }

  /** Busy or short of memory: the same request may pass later. */
  get retry(): Retry {
    return TRANSIENT_ERRNO.has(this.code) ? 'transient' : 'permanent';
  }

  override details() {
    return { errno: this.errno, code: this.code, extack: this.extack, what: this.request.what };
  }
}

/** Bytes that do not parse as netlink: a typed error, never a crash. */
export class NetlinkDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkDecodeError';
  }
}

/** Argument validation before anything reaches the kernel. */
export class InvalidArgumentError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 400;
  readonly error = 'InvalidArgument';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidArgumentError';
  }

  override details() {
    return { field: this.field };
  }
}

/** A socket-level failure: the socket is closed, or the kernel dropped our messages (ENOBUFS). */
export class NetlinkSocketError extends DomainError {
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'NetlinkSocketError';
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'NetlinkSocketError';
  }

  override details() {
    return { errno: this.errno };
  }
}
