// The desired state's bookkeeping: what the agent did to the kernel beyond the tenants' objects,
// so it can undo it — VRFs it created (owned), interfaces' MTUs and sysctls' values from before it
// changed them (put back on release or restore). A plan adds to it before the kernel changes
// (written ahead: a crash must not lose what the agent made); an apply settles it after. Both
// are a Bookkeeping change applied by withBookkeeping(), the only code that edits these fields.
import type { Link } from '../netlink/link';
import type { DesiredState } from './desired-state';
import { sysctlKey } from './kernel-objects';
import type { Op } from './kinds';

export interface Bookkeeping {
  ownVrfs: string[];
  disownVrfs: string[];
  /** Interface → its MTU before the agent configured it (kept if one is saved already). */
  saveMtu: Record<string, number>;
  forgetMtu: string[];
  /** Sysctl key → its value before the agent set it (kept if one is saved already). */
  saveSysctl: Record<string, string>;
  forgetSysctl: string[];
}

export function noBookkeeping(): Bookkeeping {
  return { ownVrfs: [], disownVrfs: [], saveMtu: {}, forgetMtu: [], saveSysctl: {}, forgetSysctl: [] };
}

export function mergeBookkeeping(a: Bookkeeping, b: Bookkeeping): Bookkeeping {
  return {
    ownVrfs: [...a.ownVrfs, ...b.ownVrfs],
    disownVrfs: [...a.disownVrfs, ...b.disownVrfs],
    saveMtu: { ...b.saveMtu, ...a.saveMtu },
    forgetMtu: [...a.forgetMtu, ...b.forgetMtu],
    saveSysctl: { ...b.saveSysctl, ...a.saveSysctl },
    forgetSysctl: [...a.forgetSysctl, ...b.forgetSysctl],
  };
}

/**
 * `s` with `b` applied: disowned VRFs go before owned ones are added (a re-created VRF stays
 * owned), saved values never overwrite one saved earlier. `s` itself when `b` changes nothing,
 * so a commit of it writes nothing.
 */
export function withBookkeeping(s: DesiredState, b: Bookkeeping): DesiredState {
  const gone = new Set(b.disownVrfs);
  const ownedVrfs = [...new Set([...s.ownedVrfs.filter((v) => !gone.has(v)), ...b.ownVrfs])];
  const originalMtu = { ...s.originalMtu };
  for (const n of b.forgetMtu) delete originalMtu[n];
  for (const [n, mtu] of Object.entries(b.saveMtu)) if (!(n in s.originalMtu)) originalMtu[n] = mtu;
  const originalSysctl = { ...s.originalSysctl };
  for (const k of b.forgetSysctl) delete originalSysctl[k];
  for (const [k, v] of Object.entries(b.saveSysctl)) if (!(k in s.originalSysctl)) originalSysctl[k] = v;
  const same = (x: object, y: object) => JSON.stringify(x) === JSON.stringify(y);
  const vrfsSame = ownedVrfs.length === s.ownedVrfs.length && ownedVrfs.every((v, i) => v === s.ownedVrfs[i]);
  const mtuSame = same(originalMtu, s.originalMtu);
  const sysctlSame = same(originalSysctl, s.originalSysctl);
  if (vrfsSame && mtuSame && sysctlSame) return s;
  return { ...s, ...(vrfsSame ? {} : { ownedVrfs }), ...(mtuSame ? {} : { originalMtu }), ...(sysctlSame ? {} : { originalSysctl }) };
}

/**
 * What must be on disk before `ops` run: the MTUs and sysctls they change for the first time,
 * with their values before, and the VRFs they create (a crash after the create must not leave
 * one the restart takes for foreign: refused, never deleted; a create that fails is disowned after).
 */
export function beforeApply(ops: Op[], state: DesiredState, links: Map<string, Link>, sysctls?: Map<string, string | undefined>): Bookkeeping {
  const b = noBookkeeping();
  for (const op of ops) {
    if (op.kind === 'link' && op.action === 'configure' && !(op.link.name in state.originalMtu)) b.saveMtu[op.link.name] ??= links.get(op.link.name)?.mtu ?? 0;
    if (op.kind === 'vrf' && op.action === 'create' && !state.ownedVrfs.includes(op.name)) b.ownVrfs.push(op.name);
    if (op.kind === 'sysctl' && op.action === 'set') {
      // A sysctl that could not be read has no value to save (its set fails the same way).
      const k = sysctlKey(op.path);
      const v = sysctls?.get(k);
      if (!(k in state.originalSysctl) && v !== undefined) b.saveSysctl[k] = v;
    }
  }
  return b;
}

/**
 * What `ops` did, `failed` among them: VRFs created are owned (a failed create disowned), VRFs
 * deleted and interfaces released forgotten, restored sysctls forgotten (a failed restore keeps its
 * value for the next reconcile), plus what the plan found gone (`forget`, `forgetSysctls`).
 */
export function afterApply(ops: Op[], failed: ReadonlySet<Op | undefined>, forget: string[] = [], forgetSysctls: string[] = []): Bookkeeping {
  const b = noBookkeeping();
  b.forgetMtu.push(...forget);
  b.forgetSysctl.push(...forgetSysctls);
  for (const op of ops) {
    const ok = !failed.has(op);
    if (op.kind === 'link' && op.action === 'release' && ok) b.forgetMtu.push(op.name);
    if (op.kind === 'sysctl' && op.action === 'restore' && ok) b.forgetSysctl.push(sysctlKey(op.path));
    if (op.kind === 'vrf' && op.action === 'create') (ok ? b.ownVrfs : b.disownVrfs).push(op.name);
    if (op.kind === 'vrf' && op.action === 'delete' && ok) b.disownVrfs.push(op.name);
  }
  return b;
}
