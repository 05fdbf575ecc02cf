// Typed errors of the netlink layer. Callers branch on the class and on errno, never on text.
import { constants as os } from 'node:os';

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.errno).map(([name, n]) => [n, name]));
// The kernel's own ENOTSUPP (524, include/linux/errno.h) reaches user space from BPF attaches; libc has no name for it.
ERRNO_NAMES.set(524, 'ENOTSUPP');

/** "ENOENT" for 2; the one table of errno names (netlink, bpf and the tracer's attach errors). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** The failing request, as much as is needed to act on an error. */
export interface RequestInfo {
  type: number;
  flags: number;
  seq: number;
  /** Human description of the object, e.g. "route fc00::1/128 table 100". */
  what: string;
}

/** The kernel refused a request: errno plus the extended ACK the kernel gave. */
export class KernelError extends Error {
  readonly code: string;
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
}

/** Bytes that do not parse as netlink: a typed error, never a crash. */
export class NetlinkDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkDecodeError';
  }
}

/** Argument validation before anything reaches the kernel. */
export class InvalidArgumentError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidArgumentError';
  }
}

/** A socket-level failure: the socket is closed, or the kernel dropped our messages (ENOBUFS). */
export class NetlinkSocketError extends Error {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'NetlinkSocketError';
  }
}

/** errnos that mean "try again": the kernel or a socket was busy or short of memory. */
export const TRANSIENT_ERRNO: ReadonlySet<string> = new Set(['EBUSY', 'EAGAIN', 'ENOBUFS', 'ENOMEM', 'EINTR']);
