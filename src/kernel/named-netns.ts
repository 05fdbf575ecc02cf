// Named network namespaces (/var/run/netns/NAME), through iproute2 so that the bind mounts are made
// exactly as `ip netns` makes them and every other tool sees the same namespaces.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NETNS_DIR = '/var/run/netns';

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** `ip netns add NAME`; rejects with iproute2's message on failure. */
export async function addNetns(name: string): Promise<void> {
  try {
    await run('ip', ['netns', 'add', name]);
  } catch (e) {
    throw new Error(`ip netns add ${name}: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}

/** `ip netns del NAME`; a namespace that is already gone is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return;
  try {
    await run('ip', ['netns', 'del', name]);
  } catch (e) {
    if (netnsExists(name)) throw new Error(`ip netns del ${name}: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`);
  }
}
