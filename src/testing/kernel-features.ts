// What the running kernel can do, checked with iproute2 (not with our own code) in a throwaway
// netns, for tests that must skip, by name, where a kernel lacks a feature.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const cache = new Map<string, boolean>();

function tryInNetns(cmds: string[][]): boolean {
  const ns = `srv6t-feat-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    for (const c of cmds) execFileSync('ip', ['-n', ns, ...c], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* never created */
    }
  }
}

const CHECKS: Record<string, string[][]> = {
  CONFIG_NET_VRF: [['link', 'add', 'vrf-probe', 'type', 'vrf', 'table', '10']],
};

export function kernelHas(feature: keyof typeof CHECKS): boolean {
  if (!cache.has(feature)) cache.set(feature, tryInNetns(CHECKS[feature]));
  return cache.get(feature)!;
}

/** `it` when the kernel has the feature, else a skip whose name says what is missing. */
export function itWith(feature: keyof typeof CHECKS): jest.It {
  if (kernelHas(feature)) return it;
  const skip = ((name: string, fn?: jest.ProvidesCallback, timeout?: number) =>
    it.skip(`${name} [skipped: kernel lacks ${feature}]`, fn, timeout)) as unknown as jest.It;
  return skip;
}
