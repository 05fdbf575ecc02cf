// Loads the N-API addon (build/Release/srv6_native.node) and types its netlink half.
// The addon is found from the package root so this works from src/ (ts-jest) and dist/src/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type NetnsRef = string | number | undefined | null;

export interface NativeNetlink {
  nlOpen(protocol: number, netns?: NetnsRef): { fd: number; portId: number };
  nlMembership(fd: number, group: number, join: boolean): void;
  nlSend(fd: number, data: Buffer): number;
  nlSendAsync(fd: number, data: Buffer): Promise<number>;
  /** Datagrams back to back in `data`, one length each. */
  nlRecv(fd: number, max: number): { data: Buffer; lengths: number[] };
  nlWatch(fd: number, onReadable: (status: number) => void): object;
  nlUnwatch(handle: object): void;
  nlRef(handle: object, ref: boolean): void;
  closeFd(fd: number): void;
  sysctl(netns: NetnsRef, path: string, value?: string): string;
}

export function packageRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`package.json not found above ${from}`);
    dir = up;
  }
  return dir;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- typed by native<T>() at each use
let cached: any;

/** The addon's exports; the libbpf half is typed in src/bpf/. */
export function native<T = NativeNetlink>(): T {
  if (!cached) {
    const file = join(packageRoot(), 'build', 'Release', 'srv6_native.node');
    if (!existsSync(file)) throw new Error(`native addon missing: ${file} (run "npm run build")`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a compiled addon at a path known only at run time
    cached = require(file);
  }
  return cached as T;
}

/** "/var/run/netns/NAME" for a bare name; paths and fds pass through. */
export function netnsRef(ns: NetnsRef): NetnsRef {
  if (typeof ns === 'string' && !ns.includes('/')) return `/var/run/netns/${ns}`;
  return ns;
}
