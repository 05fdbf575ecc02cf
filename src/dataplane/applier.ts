// Executes a plan: one netlink batch per phase, interface names resolved to indexes just before
// each phase (VRFs created in the first phase get their index then). A failed operation is
// reported with errno and the kernel's extack text; the rest of the plan still runs, and the next
// reconcile finishes what is left.
import { addressAddRequest, addressDeleteRequest } from '../netlink/address';
import type { KernelError } from '../netlink/errors';
import { Link, linkChangeRequest, linkCreateRequest, linkDeleteRequest } from '../netlink/link';
import { NlRequest } from '../netlink/message';
import { nexthopAddRequest, nexthopDeleteRequest } from '../netlink/nexthop';
import { routeAddRequest, routeDeleteRequest } from '../netlink/route';
import { ruleAddRequest, ruleDeleteRequest } from '../netlink/rule';
import { Rtnetlink } from '../netlink/rtnetlink';
import type { Ownership } from './kernel-objects';
import { MissingInterfaceError, Op, phaseOf } from './planner';

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

function count(r: ApplyResult, op: Op): void {
  const bucket = op.action === 'create' ? r.created : op.action === 'delete' || op.action === 'release' ? r.deleted : r.updated;
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
      const kind = phase[0].kind;
      if (kind === 'sysctl') {
        for (const op of phase) if (op.kind === 'sysctl') this.sysctl(op, result);
        continue;
      }
      const index = (name: string) => {
        const l = names.get(name);
        if (!l) throw new MissingInterfaceError(name);
        return l.index;
      };
      const reqs: (NlRequest | Error)[] = phase.map((op) => {
        try {
          return this.request(op, index);
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
        else result.failed.push(failure(op, outcome.error, r instanceof Error ? describe(op) : r.what));
      });
      // New VRFs have indexes now; later phases enslave to them and point routes at them.
      if (kind === 'vrf') names = new Map((await this.nl.links()).map((l) => [l.name, l]));
    }
    return result;
  }

  private sysctl(op: Extract<Op, { kind: 'sysctl' }>, result: ApplyResult): void {
    try {
      this.nl.sysctl.set(op.path, op.value);
      count(result, op);
    } catch (e) {
      result.failed.push(failure(op, e as Error, `sysctl ${op.path.join('.')}`));
    }
  }

  private request(op: Op, index: (name: string) => number): NlRequest {
    const p = this.own.protocol;
    switch (op.kind) {
      case 'vrf':
        return op.action === 'create' ? linkCreateRequest({ name: op.name, kind: 'vrf', table: op.table, up: true }) : linkDeleteRequest(op.name);
      case 'link':
        if (op.action === 'configure') return linkChangeRequest(op.link.name, { up: true, mtu: op.link.mtu, ...(op.link.master ? { master: index(op.link.master) } : {}) });
        return linkChangeRequest(op.name, { master: 0, ...(op.mtu ? { mtu: op.mtu } : {}) });
      case 'address': {
        const spec = { index: index(op.ifname), address: op.address, nodad: true, noprefixroute: op.noprefixroute, protocol: p };
        return op.action === 'create' ? addressAddRequest(spec) : addressDeleteRequest(spec);
      }
      case 'nexthop': {
        if (op.action === 'delete') return nexthopDeleteRequest(op.id);
        const { oifName, ...n } = op.nexthop;
        return nexthopAddRequest({ ...n, oif: index(oifName) }, op.action === 'replace');
      }
      case 'route': {
        if (op.action === 'delete') {
          const { dst, family, table, priority, type } = op.route;
          return routeDeleteRequest({ dst, family, table, priority, type, protocol: p });
        }
        const { oifName, encapOifName, ...r } = op.route;
        const encap = r.encap && encapOifName && r.encap.type === 'seg6local' ? { ...r.encap, oif: index(encapOifName) } : r.encap;
        return routeAddRequest({ ...r, encap, ...(oifName ? { oif: index(oifName) } : {}) }, op.action === 'replace');
      }
      case 'rule':
        return op.action === 'create' ? ruleAddRequest(op.rule) : ruleDeleteRequest(op.rule);
      case 'sysctl':
        throw new Error('sysctls are not netlink requests');
    }
  }
}

function describe(op: Op): string {
  switch (op.kind) {
    case 'vrf':
      return `vrf ${op.name}`;
    case 'link':
      return `link ${op.action === 'configure' ? op.link.name : op.name}`;
    case 'address':
      return `address ${op.address} on ${op.ifname}`;
    case 'nexthop':
      return `nexthop ${op.action === 'delete' ? op.id : op.nexthop.id}`;
    case 'route':
      return `route ${op.route.dst} table ${op.route.table}`;
    case 'rule':
      return `rule iif ${op.rule.iif} table ${op.rule.table}`;
    case 'sysctl':
      return `sysctl ${op.path.join('.')}`;
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
