// Diff desired kernel objects against what the kernel holds (only what the agent owns) into an
// ordered list of operations: each kind's diff (kinds/<kind>.ts), sorted into apply order
// (PHASES: creates in dependency order, deletes in reverse). Pure.
import { ForeignObjectError, MissingInterfaceError } from './errors';
import type { KernelObjects } from './kernel-objects';
import { KIND_LIST, Op, phaseOf } from './kinds';
import type { Observed, PlanContext } from './kinds/kind';

export type { Op } from './kinds';
export { PHASES, phaseOf } from './kinds';
export type { Observed, PlanContext } from './kinds/kind';

export function plan(desired: KernelObjects, observed: Observed, ctx: PlanContext): Op[] {
  const ops: Op[] = [];
  for (const kind of KIND_LIST) for (const op of kind.plan(desired, observed, ctx)) ops.push(op);
  // Stable: within a phase, each kind's own order.
  return ops
    .map((op, i) => [phaseOf(op), i, op] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, , op]) => op);
}

export { ForeignObjectError, MissingInterfaceError };
