// What every kind of kernel object the agent owns says about itself (one file per kind in this
// folder, collected in index.ts): its key and equality, how its operations are planned from the
// desired and the observed objects, the netlink request of each, how it is described in failures,
// how the kernel is read for it, and which kept reads its operations make stale. The planner, the
// applier and the reconciler loop over the kinds; none of them names one.
import type { Address } from '../../netlink/address';
import type { Link } from '../../netlink/link';
import type { NlRequest } from '../../netlink/message';
import type { Nexthop } from '../../netlink/nexthop';
import type { Route } from '../../netlink/route';
import type { Rtnetlink } from '../../netlink/rtnetlink';
import type { Rule } from '../../netlink/rule';
import type { KernelObjects } from '../kernel-objects';
import type { Kind } from './index';
import type { MainRoutes } from './route';
import type { RuleList } from './rule';

/** What the kernel holds: every link (for names), and the agent's own objects of each kind. */
export interface Observed {
  links: Map<string, Link>;
  /** key "<ifname>|<addr/len>" (addressKey), owned (IFA_PROTO) only */
  addresses: Map<string, Address & { ifname: string }>;
  nexthops: Map<number, Nexthop>;
  routes: Map<string, Route>;
  rules: Map<string, Rule>;
  /** Current values of the sysctls the desired state names. */
  sysctls: Map<string, string | undefined>;
  /** Families (4, 6) that have the kernel's `0: lookup local` rule. Unknown: left alone. */
  localRuleAtZero?: Set<number>;
}

/** A full observation also lists every nexthop id, foreign ones included: new ids avoid them. */
export type FullObserved = Observed & { allNexthopIds: Set<number> };

export interface PlanContext {
  /** Owned VRF device names (created by the agent, maybe no longer desired). */
  ownedVrfs: Set<string>;
  /** Interfaces the agent configured, with their MTU before (restored on release). */
  configured: Map<string, number | undefined>;
  /** Sysctls the agent changed, by key, with their value before (restored when no longer desired). */
  originalSysctls: Map<string, string>;
}

/** The node-wide reads tenant plans keep between jobs (reconciler.ts, ADR 0012). */
export interface KeptReads {
  /** The agent's routes in main. */
  main(): Promise<MainRoutes>;
  /** The rule list. */
  rules(): Promise<RuleList>;
}

export type KeptRead = keyof KeptReads;

/** A full reconcile's reads (Reconciler.observe): every link, read once for all kinds. */
export interface FullReads {
  nl: Rtnetlink;
  protocol: number;
  links: Promise<Link[]>;
}

/** A tenant plan's reads (Reconciler.planTenant): the tenant's objects before and after, its tables, the links they name. */
export interface TenantReads {
  nl: Rtnetlink;
  protocol: number;
  desired: KernelObjects;
  before: KernelObjects;
  /** The tenant's tables, before and after (one if unchanged). */
  tables: number[];
  /** The links the plan names (Observation 'links'), by name; those that do not exist are absent. */
  links: Promise<Map<string, Link>>;
  kept: KeptReads;
}

export type Observation =
  /** Devices: observed through Observed.links, which every plan reads; `names` are what a tenant plan reads of them. */
  | { via: 'links'; names(o: KernelObjects): Iterable<string> }
  /**
   * The kind's own reads, each filling its part of Observed: `all` for a full reconcile (the
   * agent's objects in the whole kernel), `tenant` for a tenant plan (targeted reads).
   */
  | { via: 'kernel'; all(r: FullReads): Promise<Partial<FullObserved>>; tenant(r: TenantReads): Promise<Partial<Observed>> };

/** How an operation reaches the kernel. */
export type Execution<O> =
  /**
   * One netlink request per operation, one batch per phase. `refreshLinks`: the phase makes or
   * removes devices, so later phases resolve names against a fresh link dump.
   */
  | { via: 'netlink'; request(op: O, to: RequestContext): NlRequest; refreshLinks: boolean }
  /** Written one by one, outside netlink (sysctls: procfs). */
  | { via: 'direct'; run(op: O, nl: Rtnetlink): void };

export interface RequestContext {
  /** The ifindex of an interface as of this phase; throws MissingInterfaceError. */
  index(name: string): number;
  /** The agent's protocol number (Ownership.protocol). */
  protocol: number;
}

/** An interface's index in the observed links; undefined for no name or no such link. */
export type IfIndex = (name: string | undefined) => number | undefined;

export function ifIndex(links: Map<string, Link>): IfIndex {
  return (name) => (name === undefined ? undefined : links.get(name)?.index);
}

/** The maps of KernelObjects that hold `W`s. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any key type
export type ObjectsOf<W> = { [F in keyof KernelObjects]: KernelObjects[F] extends Map<any, W> ? F : never }[keyof KernelObjects];

/**
 * One kind of kernel object: `O` its operations, `W` a desired object (in KernelObjects), `H` an
 * observed one (in Observed).
 */
export interface KindDescriptor<O extends { kind: Kind; action: string }, W, H> {
  readonly kind: O['kind'];
  /** Its map in KernelObjects (desired). */
  readonly objects: ObjectsOf<W>;
  /** The key of a desired object in that map; the observation keys what it reads the same way. */
  key(w: W): string | number;
  /** Whether what the kernel holds under the key is what is desired (for forwarding: kernel-added detail is ignored). */
  same(want: W, have: H, index: IfIndex): boolean;
  /**
   * The diff: this kind's operations for the desired against the observed objects, in the order
   * they run within a phase (creates and changes in desired order, deletes in observed order).
   * Throws ForeignObjectError / MissingInterfaceError where the kernel cannot be made to match.
   */
  plan(desired: KernelObjects, observed: Observed, ctx: PlanContext): O[];
  /** The kind whose first phase this operation must run just before, instead of in its own phase. */
  runsBefore?(op: O): Kind | undefined;
  execute: Execution<O>;
  /** The operation in failures and logs when it has no request (a direct write, or a name that did not resolve). */
  describe(op: O): string;
  /** The kept reads the operation may make stale (ADR 0012: what it changes, and what the kernel changes with it). */
  invalidates(op: O): readonly KeptRead[];
  observe: Observation;
  /**
   * The tenant interface the object cannot exist without, if any: while that interface is
   * missing, the object is left out of the plan (withoutDevices), the rest is reconciled.
   */
  needs(w: W): string | undefined;
}

/**
 * The usual diff by key: a desired object that is not there is created, one that differs is
 * replaced (when `replace` is given; otherwise the key is the whole identity), an observed one
 * that is not desired is deleted.
 */
export function diffByKey<K, W, H, O>(
  want: Map<K, W>,
  have: Map<K, H>,
  same: (w: W, h: H) => boolean,
  make: { create(w: W): O; replace?(w: W): O; delete(h: H, key: K): O },
): O[] {
  const ops: O[] = [];
  for (const [key, w] of want) {
    const h = have.get(key);
    if (h === undefined) ops.push(make.create(w));
    else if (make.replace && !same(w, h)) ops.push(make.replace(w));
  }
  for (const [key, h] of have) if (!want.has(key)) ops.push(make.delete(h, key));
  return ops;
}
