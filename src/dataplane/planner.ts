// Diff desired kernel objects against what the kernel holds (only what the agent owns) into an
// ordered list of operations: creates in dependency order, deletes in reverse. Pure.
import type { Address } from '../netlink/address';
import type { Link } from '../netlink/link';
import type { Nexthop } from '../netlink/nexthop';
import type { Route } from '../netlink/route';
import type { Rule } from '../netlink/rule';
import type { Seg6Encap } from '../netlink/seg6';
import { KernelObjects, LinkConfig, NamedNexthop, NamedRoute, routeKey, ruleKey, sysctlInterface, sysctlPath } from './kernel-objects';

/** What the kernel holds: every link (for names), and the agent's own objects of each kind. */
export interface Observed {
  links: Map<string, Link>;
  /** key "<ifname>|<addr/len>", owned (IFA_PROTO) only */
  addresses: Map<string, Address & { ifname: string }>;
  nexthops: Map<number, Nexthop>;
  routes: Map<string, Route>;
  rules: Map<string, Rule>;
  /** Current values of the sysctls the desired state names. */
  sysctls: Map<string, string | undefined>;
  /** Families (4, 6) that have the kernel's `0: lookup local` rule. Unknown: left alone. */
  localRuleAtZero?: Set<number>;
}

export type Op =
  | { kind: 'vrf'; action: 'create' | 'delete'; name: string; table: number }
  /** restore: back to the value from before the agent set it (PlanContext.originalSysctls). */
  | { kind: 'sysctl'; action: 'set' | 'restore'; path: string[]; value: string }
  | { kind: 'link'; action: 'configure'; link: LinkConfig }
  | { kind: 'link'; action: 'release'; name: string; mtu?: number }
  | { kind: 'address'; action: 'create' | 'delete'; ifname: string; address: string; noprefixroute: boolean }
  | { kind: 'nexthop'; action: 'create' | 'replace'; nexthop: NamedNexthop }
  | { kind: 'nexthop'; action: 'delete'; id: number }
  | { kind: 'route'; action: 'create' | 'replace'; route: NamedRoute }
  | { kind: 'route'; action: 'delete'; route: Route }
  | { kind: 'rule'; action: 'create' | 'delete'; rule: Rule };

/** Apply order; each phase is one batch. Deletes run in the reverse dependency order. */
export const PHASES: [Op['kind'], Op['action'][]][] = [
  ['vrf', ['create']],
  ['sysctl', ['set']],
  ['link', ['configure']],
  ['address', ['create']],
  ['nexthop', ['create', 'replace']],
  ['route', ['create', 'replace']],
  ['rule', ['create']],
  ['rule', ['delete']],
  ['route', ['delete']],
  ['nexthop', ['delete']],
  ['address', ['delete']],
  ['link', ['release']],
  ['vrf', ['delete']],
  ['sysctl', ['restore']],
];

const PHASE_NEXTHOPS = PHASES.findIndex(([k]) => k === 'nexthop');

export interface PlanContext {
  /** Owned VRF device names (created by the agent, maybe no longer desired). */
  ownedVrfs: Set<string>;
  /** Interfaces the agent configured, with their MTU before (restored on release). */
  configured: Map<string, number | undefined>;
  /** Sysctls the agent changed, by key, with their value before (restored when no longer desired). */
  originalSysctls: Map<string, string>;
}

export function phaseOf(op: Op): number {
  // A SID's throw route must exist before a nexthop starts encapsulating towards that SID.
  if (op.kind === 'route' && op.action !== 'delete' && op.route.type === 'throw') return PHASE_NEXTHOPS - 0.5;
  return PHASES.findIndex(([k, actions]) => k === op.kind && actions.includes(op.action));
}

export function plan(desired: KernelObjects, observed: Observed, ctx: PlanContext): Op[] {
  const ops: Op[] = [];
  const index = (name: string | undefined) => (name === undefined ? undefined : observed.links.get(name)?.index);

  for (const v of desired.vrfs.values()) {
    const l = observed.links.get(v.name);
    if (l && (l.kind !== 'vrf' || l.table !== v.table)) {
      if (ctx.ownedVrfs.has(v.name) && l.kind === 'vrf') ops.push({ kind: 'vrf', action: 'delete', name: v.name, table: l.table ?? 0 });
      else throw new ForeignObjectError(`link ${v.name} exists and is not the agent's VRF for table ${v.table}`);
      ops.push({ kind: 'vrf', action: 'create', ...v });
    } else if (!l) ops.push({ kind: 'vrf', action: 'create', ...v });
  }
  for (const name of ctx.ownedVrfs)
    if (!desired.vrfs.has(name) && observed.links.get(name)?.kind === 'vrf') ops.push({ kind: 'vrf', action: 'delete', name, table: observed.links.get(name)!.table ?? 0 });

  for (const [key, s] of desired.sysctls) if (observed.sysctls.get(key) !== s.value) ops.push({ kind: 'sysctl', action: 'set', ...s });
  // What the agent changed and no longer wants goes back to its value from before, last. A
  // per-interface sysctl whose interface is gone has nothing to restore (the reconciler forgets
  // it); that of a tenant interface that is missing is still desired, only left out by withoutDevices.
  for (const [key, value] of ctx.originalSysctls) {
    if (desired.sysctls.has(key)) continue;
    const path = sysctlPath(key);
    const ifname = sysctlInterface(path);
    if (ifname === undefined || observed.links.has(ifname)) ops.push({ kind: 'sysctl', action: 'restore', path, value });
  }

  for (const want of desired.links.values()) {
    const l = observed.links.get(want.name);
    if (!l) throw new MissingInterfaceError(want.name);
    // Table mode (master null) leaves the master alone; VRF mode needs the tenant's VRF.
    const masterOk = want.master === null || (l.master !== undefined && l.master === index(want.master));
    if (!masterOk || l.mtu !== want.mtu || !l.up) ops.push({ kind: 'link', action: 'configure', link: want });
  }
  for (const [name, mtu] of ctx.configured)
    if (!desired.links.has(name) && observed.links.has(name)) ops.push({ kind: 'link', action: 'release', name, mtu });

  for (const [key, a] of desired.addresses) if (!observed.addresses.has(key)) ops.push({ kind: 'address', action: 'create', ...a });
  for (const [key, a] of observed.addresses)
    if (!desired.addresses.has(key)) ops.push({ kind: 'address', action: 'delete', ifname: a.ifname, address: a.address, noprefixroute: false });

  for (const [id, n] of desired.nexthops) {
    const have = observed.nexthops.get(id);
    if (!have) ops.push({ kind: 'nexthop', action: 'create', nexthop: n });
    else if (have.oif !== index(n.oifName) || !sameJson(have.encap, n.encap) || have.family !== n.family) ops.push({ kind: 'nexthop', action: 'replace', nexthop: n });
  }
  for (const id of observed.nexthops.keys()) if (!desired.nexthops.has(id)) ops.push({ kind: 'nexthop', action: 'delete', id });

  for (const [key, r] of desired.routes) {
    const have = observed.routes.get(key);
    if (!have) ops.push({ kind: 'route', action: 'create', route: r });
    else if (!sameRoute(r, have, index)) ops.push({ kind: 'route', action: 'replace', route: r });
  }
  for (const [key, r] of observed.routes) if (!desired.routes.has(key)) ops.push({ kind: 'route', action: 'delete', route: r });

  for (const [key, r] of desired.rules) if (!observed.rules.has(key)) ops.push({ kind: 'rule', action: 'create', rule: r });
  for (const [key, r] of observed.rules) if (!desired.rules.has(key)) ops.push({ kind: 'rule', action: 'delete', rule: r });

  // The local rule (kernel-objects localRules): deleted at 0 once the moved one is planned, put
  // back at 0 (before the moved one goes: creates run first) only where the agent moved it.
  const atZero = observed.localRuleAtZero;
  if (atZero)
    for (const family of [4, 6] as const) {
      const zero: Rule = { family, priority: 0, table: 255 };
      // (table mode's link-scope rules also look up local, but name a destination)
      const movedByUs = [...observed.rules.values()].some((r) => r.family === family && r.table === 255 && r.dst === undefined && r.iif === undefined);
      if (desired.moveLocalRule && atZero.has(family)) ops.push({ kind: 'rule', action: 'delete', rule: zero });
      else if (!desired.moveLocalRule && !atZero.has(family) && movedByUs) ops.push({ kind: 'rule', action: 'create', rule: { ...zero, protocol: 2 } });
    }

  return ops.map((op, i) => [phaseOf(op), i, op] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, , op]) => op);
}

/** Field-wise comparison of what matters for forwarding; kernel-added detail is ignored. */
function sameRoute(want: NamedRoute, have: Route, index: (n: string | undefined) => number | undefined): boolean {
  if ((want.type ?? 'unicast') !== have.type) return false;
  if (want.nhid !== undefined || have.nhid !== undefined) return want.nhid === have.nhid; // the kernel also dumps the nexthop's device and encap
  if (want.oifName !== undefined && index(want.oifName) !== have.oif) return false;
  if (!want.encap || !have.encap) return !want.encap && !have.encap;
  if (want.encap.type === 'seg6local' && have.encap.type === 'seg6local') {
    const { counters: wc, oif: _o, ...w } = want.encap;
    const { counters: hc, oif: ho, ...h } = have.encap;
    return !!wc === !!hc && sameJson(w, h) && (want.encapOifName === undefined ? ho === undefined : index(want.encapOifName) === ho);
  }
  return sameJson(want.encap, have.encap);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as any)[k] !== undefined)
        .sort()
        .map((k) => [k, canonical((v as any)[k])]),
    );
  return typeof v === 'bigint' ? String(v) : v;
}

function sameJson(a: unknown, b: unknown): boolean {
  // The common case, compared field by field: tens of thousands of seg6 nexthops per reconcile.
  const x = a as Seg6Encap | undefined;
  const y = b as Seg6Encap | undefined;
  if (x?.type === 'seg6' && y?.type === 'seg6' && Object.keys(x).length === 3 && Object.keys(y).length === 3)
    return x.mode === y.mode && x.segments.length === y.segments.length && x.segments.every((sid, i) => sid === y.segments[i]);
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export class MissingInterfaceError extends Error {
  constructor(
    readonly ifname: string,
    /** What the job names it as: a tenant interface, or (upsert-node) an underlay interface. */
    role: 'tenant' | 'underlay' = 'tenant',
  ) {
    super(`${role} interface ${ifname} does not exist on this hypervisor`);
    this.name = 'MissingInterfaceError';
  }
}

export class ForeignObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForeignObjectError';
  }
}

export { routeKey, ruleKey };
