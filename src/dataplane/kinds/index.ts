// The kinds of kernel object the agent owns, and the order their operations are applied in.
// A new kind: a file like the others (its Op variants and its KindDescriptor), its variants in
// `Op`, its descriptor in KINDS, its actions in PHASES, its map in KernelObjects (filled by
// buildKernelObjects) and its map in Observed (filled by its `observe`). The compiler points at a
// missing descriptor or member (KindDescriptor), phase or KernelObjects map (the checks at the
// end of this file), and at the applier's count of a new action.
import type { KernelObjects } from '../kernel-objects';
import { address, AddressOp } from './address';
import type { KindDescriptor } from './kind';
import { link, LinkOp } from './link';
import { nexthop, NexthopOp } from './nexthop';
import { route, RouteOp } from './route';
import { rule, RuleOp } from './rule';
import { sysctl, SysctlOp } from './sysctl';
import { vrf, VrfOp } from './vrf';

export type Op = VrfOp | SysctlOp | LinkOp | AddressOp | NexthopOp | RouteOp | RuleOp;
export type Kind = Op['kind'];
type OpOf<K extends Kind> = Extract<Op, { kind: K }>;

/**
 * One descriptor per kind of Op: a kind without one, or one for ops of another kind, does not
 * compile. The planner diffs in this order (a VRF or link refusal is thrown before anything else
 * is looked at); /v1/state and the owned-objects metric count in it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind's desired and observed types differ
export const KINDS = { vrf, link, address, nexthop, route, rule, sysctl } satisfies { readonly [K in Kind]: KindDescriptor<OpOf<K>, any, any> };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a kind whatever its desired and observed types
type AnyKind = KindDescriptor<Op, any, any>;

/** KINDS in order, for the loops over every kind. */
export const KIND_LIST: readonly AnyKind[] = Object.values(KINDS) as readonly AnyKind[];

/** The descriptor of an operation's kind (KINDS pairs each kind with its own operations). */
export function descriptorOf(op: Op): AnyKind {
  return KINDS[op.kind] as AnyKind;
}

/**
 * Apply order; each phase is one batch. Creates run in dependency order, deletes in the reverse,
 * sysctls go back to their value from before last. (A route's runsBefore moves a SID's throw
 * route ahead of the nexthops.)
 */
export const PHASES = [
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
] as const satisfies readonly { readonly [K in Kind]: readonly [K, readonly OpOf<K>['action'][]] }[Kind][];

const PHASE_INDEX = new Map<string, number>(PHASES.flatMap(([kind, actions], i) => actions.map((a) => [`${kind} ${a}`, i] as const)));
const FIRST_PHASE = new Map<string, number>(PHASES.map(([kind], i) => [kind, i] as const).reverse());

/** The phase an operation is applied in (fractional: just before a phase, see runsBefore). */
export function phaseOf(op: Op): number {
  const before = descriptorOf(op).runsBefore?.(op);
  if (before !== undefined) return FIRST_PHASE.get(before)! - 0.5;
  return PHASE_INDEX.get(`${op.kind} ${op.action}`) ?? -1;
}

/** How many objects of each kind `o` holds, by kind, in KINDS order. */
export function countByKind(o: KernelObjects): Record<Kind, number> {
  return Object.fromEntries(KIND_LIST.map((k) => [k.kind, o[k.objects].size])) as Record<Kind, number>;
}

// Compile-time checks; an error names what is missing.
type NoneLeft<T extends never> = T;
type KindAction<O> = O extends { kind: infer K extends string; action: infer A extends string } ? `${K} ${A}` : never;
type PhaseActions<P> = P extends readonly [infer K extends string, readonly (infer A extends string)[]] ? `${K} ${A}` : never;
type Phased = PhaseActions<(typeof PHASES)[number]>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any map, whatever it holds
type MapsOf<T> = { [F in keyof T]: T[F] extends Map<any, any> ? F : never }[keyof T];
/** Every action of every kind has a phase. */
export type EveryActionHasAPhase = NoneLeft<Exclude<KindAction<Op>, Phased>>;
/** Every map of KernelObjects belongs to a kind. */
export type EveryMapHasAKind = NoneLeft<Exclude<MapsOf<KernelObjects>, (typeof KINDS)[Kind]['objects']>>;
