// Executes a plan: one netlink batch per phase, interface names resolved to indexes just before
// each phase (VRFs created in the first phase get their index then). A failed operation is
// reported with errno and the kernel's extack text; the rest of the plan still runs, and the next
// reconcile finishes what is left.
import type { KernelError } from '../netlink/errors';
import type { Link } from '../netlink/link';
import type { NlRequest } from '../netlink/message';
import type { Rtnetlink } from '../netlink/rtnetlink';
import { MissingInterfaceError } from './errors';
import type { Ownership } from './kernel-objects';
import { descriptorOf, Op, phaseOf } from './kinds';

/** 'xdp': the XDP offload's step of a reconcile (src/xdp/xdp-sync.ts), reported like an operation. */
/** Op kinds, and what reconciles set beside the plan: the XDP offload, the seg6 tunnel source. */
export type ObjectKind = Op['kind'] | 'xdp' | 'tunsrc';

export interface OpFailure {
  kind: ObjectKind;
  action: string;
  what: string;
  errno?: number;
  code?: string;
  extack?: string;
  message: string;
  /** The operation that failed, for the bookkeeping (not enumerable: results leave as JSON without it). */
  readonly op?: Op;
}

export interface ApplyResult {
  created: Partial<Record<ObjectKind, number>>;
  updated: Partial<Record<ObjectKind, number>>;
  deleted: Partial<Record<ObjectKind, number>>;
  failed: OpFailure[];
  operations: number;
}

/** Where each action is counted (a new action does not compile until it has its place). */
const BUCKET: Record<Op['action'], 'created' | 'updated' | 'deleted'> = {
  create: 'created',
  replace: 'updated',
  configure: 'updated',
  set: 'updated',
  restore: 'updated',
  delete: 'deleted',
  release: 'deleted',
};

function count(r: ApplyResult, op: Op): void {
  const bucket = r[BUCKET[op.action]];
  bucket[op.kind] = (bucket[op.kind] ?? 0) + 1;
}

export class Applier {
  constructor(
    private readonly nl: Rtnetlink,
    private readonly own: Ownership,
  ) {}

  async apply(ops: Op[], links: Map<string, Link>): Promise<ApplyResult> {
    const result: ApplyResult = { created: {}, updated: {}, deleted: {}, failed: [], operations: ops.length };
    let names = links;
    const phases = new Map<number, Op[]>();
    for (const op of ops) {
      const n = phaseOf(op);
      const list = phases.get(n);
      if (list) list.push(op);
      else phases.set(n, [op]);
    }
    for (const n of [...phases.keys()].sort((a, b) => a - b)) {
      const phase = phases.get(n)!;
      // A phase holds one kind's operations.
      const kind = descriptorOf(phase[0]);
      const how = kind.execute;
      if (how.via === 'direct') {
        for (const op of phase) {
          try {
            how.run(op, this.nl);
            count(result, op);
          } catch (e) {
            result.failed.push(failure(op, e as Error, kind.describe(op)));
          }
        }
        continue;
      }
      const index = (name: string) => {
        const l = names.get(name);
        if (!l) throw new MissingInterfaceError(name);
        return l.index;
      };
      const reqs: (NlRequest | Error)[] = phase.map((op) => {
        try {
          return how.request(op, { index, protocol: this.own.protocol });
        } catch (e) {
          return e as Error;
        }
      });
      const sendable = reqs.filter((r): r is NlRequest => !(r instanceof Error));
      const res = await this.nl.batch(sendable);
      let k = 0;
      phase.forEach((op, i) => {
        const r = reqs[i];
        const outcome = r instanceof Error ? { ok: false as const, error: r } : res[k++];
        if (outcome.ok) count(result, op);
        else result.failed.push(failure(op, outcome.error, r instanceof Error ? kind.describe(op) : r.what));
      });
      if (how.refreshLinks) names = new Map((await this.nl.links()).map((l) => [l.name, l]));
    }
    return result;
  }
}

function failure(op: Op, e: Error, what: string): OpFailure {
  const k = e as KernelError;
  const f: OpFailure = { kind: op.kind, action: op.action, what, message: e.message };
  if (typeof k.errno === 'number') f.errno = k.errno;
  if (k.code) f.code = k.code;
  if (k.extack) f.extack = k.extack;
  Object.defineProperty(f, 'op', { value: op, enumerable: false });
  return f;
}
