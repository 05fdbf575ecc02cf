// Sysctls the agent needs (forwarding, seg6_enabled, rp_filter, the VRF strict mode), written
// through procfs, not netlink. The value from before the agent first set one is kept
// (PlanContext.originalSysctls) and written back once it is no longer desired.
import type { Rtnetlink } from '../../netlink/rtnetlink';
import type { KernelObjects } from '../kernel-objects';
import type { KindDescriptor } from './kind';

export interface SysctlObject {
  path: string[];
  value: string;
}

/** restore: back to the value from before the agent set it (PlanContext.originalSysctls). */
export type SysctlOp = { kind: 'sysctl'; action: 'set' | 'restore'; path: string[]; value: string };

/** Key of a sysctl in KernelObjects.sysctls and DesiredState.originalSysctl (no key segment contains '/'). */
export function sysctlKey(path: string[]): string {
  return path.join('/');
}

export function sysctlPath(key: string): string[] {
  return key.split('/');
}

/** The interface of a per-interface sysctl (net/<family>/conf/<ifname>/...); undefined for the others (all, default, net/vrf). */
export function sysctlInterface(path: string[]): string | undefined {
  return path[2] === 'conf' && path[3] !== 'all' && path[3] !== 'default' ? path[3] : undefined;
}

/** Current values of the sysctls the desired objects name (undefined: unreadable). */
export function readSysctls(nl: Rtnetlink, desired: KernelObjects): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [key, s] of desired.sysctls) {
    try {
      out.set(key, nl.sysctl.get(s.path));
    } catch {
      out.set(key, undefined); // e.g. the interface is missing: the set will report it
    }
  }
  return out;
}

const same = (want: SysctlObject, have: string | undefined) => have === want.value;

export const sysctl: KindDescriptor<SysctlOp, SysctlObject, string | undefined> = {
  kind: 'sysctl',
  objects: 'sysctls',
  key: (s) => sysctlKey(s.path),
  same,
  plan(desired, observed, ctx) {
    const ops: SysctlOp[] = [];
    for (const [key, s] of desired.sysctls) if (!same(s, observed.sysctls.get(key))) ops.push({ kind: 'sysctl', action: 'set', ...s });
    // What the agent changed and no longer wants goes back to its value from before, last. A
    // per-interface sysctl whose interface is gone has nothing to restore (the reconciler forgets
    // it); that of a tenant interface that is missing is still desired, only left out by withoutDevices.
    for (const [key, value] of ctx.originalSysctls) {
      if (desired.sysctls.has(key)) continue;
      const path = sysctlPath(key);
      const ifname = sysctlInterface(path);
      if (ifname === undefined || observed.links.has(ifname)) ops.push({ kind: 'sysctl', action: 'restore', path, value });
    }
    return ops;
  },
  execute: { via: 'direct', run: (op, nl) => nl.sysctl.set(op.path, op.value) },
  describe: (op) => `sysctl ${op.path.join('.')}`,
  invalidates: () => [],
  observe: {
    via: 'kernel',
    // A full reconcile reads them once the desired objects are known (Reconciler.readSysctls).
    all: async () => ({ sysctls: new Map() }),
    tenant: async ({ nl, desired }) => ({ sysctls: readSysctls(nl, desired) }),
  },
  // A per-interface one (net/<family>/conf/<ifname>/...).
  needs: (s) => (s.path[2] === 'conf' ? s.path[3] : undefined),
};
