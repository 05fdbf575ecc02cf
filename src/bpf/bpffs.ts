// The BPF filesystem: where pinned maps and links outlive the agent. One place says whether a
// path is on one and mounts /sys/fs/bpf where a host did not (minimal VMs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BpfError } from './errors';

export const BPFFS = '/sys/fs/bpf';

/** The mount holding `path` (the longest mount point above it), from /proc/self/mounts. */
export function mountOf(path: string, mounts = readFileSync('/proc/self/mounts', 'utf8')): { point: string; type: string } | undefined {
  let best: { point: string; type: string } | undefined;
  for (const line of mounts.split('\n')) {
    const [, point, type] = line.split(' ');
    if (!point || !type) continue;
    if ((path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`)) && (!best || point.length >= best.point.length)) best = { point, type };
  }
  return best;
}

export function onBpffs(path: string): boolean {
  return mountOf(path)?.type === 'bpf';
}

/** Makes sure `dir` is on a bpffs, mounting /sys/fs/bpf when that is where it should be; BpfError (EINVAL) if it is not. */
export function ensureBpffs(dir: string = BPFFS): void {
  if (onBpffs(dir)) return;
  if (dir === BPFFS || dir.startsWith(`${BPFFS}/`)) {
    execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { stdio: 'pipe' });
    if (onBpffs(dir)) return;
  }
  throw new BpfError(`${dir} is not on a bpf filesystem`, 'ensureBpffs', 22, 'EINVAL');
}
