// What the running kernel can do, checked with iproute2 (not with our own code) in a throwaway
// netns, for tests that must skip, by name, where a kernel lacks a feature. The names are the ones
// netns-tests/lab/check-skips.js maps to the lab kernel's config: a skip there fails the lab run.
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

// A device with carrier, for routes and nexthops that need one (lo takes no nexthop objects; a
// nexthop on a veth whose peer is down is refused: "Carrier for nexthop device is down").
const VETH: string[][] = [
  ['link', 'add', 'f0', 'type', 'veth', 'peer', 'name', 'f1'],
  ['link', 'set', 'f1', 'up'],
  ['link', 'set', 'f0', 'up'],
];

const CHECKS = {
  CONFIG_NET_VRF: [['link', 'add', 'vrf-probe', 'type', 'vrf', 'table', '10']],
  /** seg6 lwtunnel encapsulation on a route (CONFIG_IPV6_SEG6_LWTUNNEL). */
  seg6: [...VETH, ['-6', 'route', 'add', 'fc00:9::/64', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00::1', 'dev', 'f0']],
  /** seg6local (End.DX4/DX6, End.DT6 by table): the agent's decapsulation routes, with counters. */
  seg6local: [...VETH, ['-6', 'route', 'add', 'fc00:9::1/128', 'encap', 'seg6local', 'action', 'End.DT6', 'table', '100', 'count', 'dev', 'f0']],
  /** Nexthop objects with seg6 encapsulation: the agent's H.Encaps. */
  'nexthop.seg6': [...VETH, ['nexthop', 'add', 'id', '1', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00::1', 'dev', 'f0']],
} satisfies Record<string, string[][]>;

export type KernelFeature = keyof typeof CHECKS;

/** What the agent's kernel datapath needs for a tenant with remote routes: H.Encaps nexthops and a decapsulation SID. */
export const SRV6: KernelFeature[] = ['seg6local', 'nexthop.seg6'];

export function kernelHas(feature: KernelFeature): boolean {
  if (!cache.has(feature)) cache.set(feature, tryInNetns(CHECKS[feature]));
  return cache.get(feature)!;
}

/** The features of `features` this kernel lacks. */
export function kernelLacks(...features: Array<KernelFeature | KernelFeature[]>): KernelFeature[] {
  return features.flat().filter((f) => !kernelHas(f));
}

/** `it` when the kernel has every feature, else a skip whose name says what is missing. */
export function itWith(...features: Array<KernelFeature | KernelFeature[]>): jest.It {
  return itUnlessMissing(kernelLacks(...features));
}

/** `it` when nothing is missing, else `it.skip` (`.each` too) named "… [skipped: kernel lacks A, B]". */
export function itUnlessMissing(missing: string[]): jest.It {
  if (!missing.length) return it;
  const named = (name: string) => `${name} [skipped: kernel lacks ${missing.join(', ')}]`;
  const skip = (name: string, fn?: jest.ProvidesCallback, timeout?: number) => it.skip(named(name), fn, timeout);
  skip.each = (table: readonly unknown[]) => (name: string, fn: (...args: any[]) => unknown, timeout?: number) =>
    it.skip.each(table as unknown[][])(named(name), fn as never, timeout);
  return skip as unknown as jest.It;
}

/**
 * For tests of what the agent does on a kernel that LACKS features (refusals): `it` when one of
 * `features` is missing, else a skip saying there is nothing to refuse. Not a gap of the lab (whose
 * kernel has them): netns-tests/lab/check-skips.js and subset.js look at "kernel lacks" skips only.
 */
export function itWithout(...features: Array<KernelFeature | KernelFeature[]>): jest.It {
  if (kernelLacks(...features).length) return it;
  const has = features.flat().join(', ');
  return ((name: string, fn?: jest.ProvidesCallback, timeout?: number) =>
    it.skip(`${name} [skipped: kernel has ${has}: nothing to refuse]`, fn, timeout)) as unknown as jest.It;
}
