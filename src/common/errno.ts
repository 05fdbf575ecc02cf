// errno names and which errnos mean "try again": the netlink, bpf and trace layers share them.
import { constants as os } from 'node:os';

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.errno).map(([name, n]) => [n, name]));
// The kernel's own ENOTSUPP (524, include/linux/errno.h) reaches user space from BPF attaches; libc has no name for it.
ERRNO_NAMES.set(524, 'ENOTSUPP');

/** "ENOENT" for 2; the one table of errno names (netlink, bpf and the tracer's attach errors). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** errnos that mean "try again": the kernel or a socket was busy or short of memory. */
export const TRANSIENT_ERRNO: ReadonlySet<string> = new Set(['EBUSY', 'EAGAIN', 'ENOBUFS', 'ENOMEM', 'EINTR']);
