// bpftool as the independent observer of what the tracer left in the kernel: its programs are
// all named ipft* (ipft_fentry_0, ipft_tp_…, ipft_probe; the kernel keeps 15 characters).
import { execFileSync } from 'node:child_process';

function bpftoolJson<T>(args: string[]): T[] {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 1 << 28 }) || '[]') as T[];
}

/** The tracer's programs loaded in the kernel, and the links that attach them. */
export function ipftInKernel(): { progs: number; links: number } {
  const ours = new Set(
    bpftoolJson<{ id: number; name?: string }>(['prog', 'show'])
      .filter((p) => p.name?.startsWith('ipft'))
      .map((p) => p.id),
  );
  const links = bpftoolJson<{ prog_id: number }>(['link', 'show']).filter((l) => ours.has(l.prog_id)).length;
  return { progs: ours.size, links };
}
