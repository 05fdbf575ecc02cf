// Nexthop objects: one seg6 encapsulation per (tenant, mode, SID list), shared by the tenant's
// routes towards it, out of the uplink.
import { Nexthop, nexthopAddRequest, nexthopDeleteRequest } from '../../netlink/nexthop';
import type { NamedNexthop } from '../kernel-objects';
import { diffByKey, ifIndex, IfIndex, KindDescriptor } from './kind';
import { sameJson } from './same-json';

export type NexthopOp = { kind: 'nexthop'; action: 'create' | 'replace'; nexthop: NamedNexthop } | { kind: 'nexthop'; action: 'delete'; id: number };

function same(want: NamedNexthop, have: Nexthop, index: IfIndex): boolean {
  return have.oif === index(want.oifName) && sameJson(have.encap, want.encap) && have.family === want.family;
}

export const nexthop: KindDescriptor<NexthopOp, NamedNexthop, Nexthop> = {
  kind: 'nexthop',
  objects: 'nexthops',
  key: (n) => n.id,
  same,
  plan(desired, observed) {
    const index = ifIndex(observed.links);
    return diffByKey(desired.nexthops, observed.nexthops, (w, h) => same(w, h, index), {
      create: (n): NexthopOp => ({ kind: 'nexthop', action: 'create', nexthop: n }),
      replace: (n): NexthopOp => ({ kind: 'nexthop', action: 'replace', nexthop: n }),
      delete: (_n, id): NexthopOp => ({ kind: 'nexthop', action: 'delete', id }),
    });
  },
  execute: {
    via: 'netlink',
    request(op, { index }) {
      if (op.action === 'delete') return nexthopDeleteRequest(op.id);
      const { oifName, ...n } = op.nexthop;
      return nexthopAddRequest({ ...n, oif: index(oifName) }, op.action === 'replace');
    },
    refreshLinks: false,
  },
  describe: (op) => `nexthop ${op.action === 'delete' ? op.id : op.nexthop.id}`,
  // The kernel flushes the routes through a deleted nexthop, in main too (for IPv4 without an event).
  invalidates: (op) => (op.action === 'delete' ? ['main'] : []),
  observe: {
    via: 'kernel',
    async all({ nl, protocol }) {
      const list = await nl.nexthops();
      return { nexthops: new Map(list.filter((n) => n.protocol === protocol).map((n) => [n.id, n])), allNexthopIds: new Set(list.map((n) => n.id)) };
    },
    // By id: the tenant's before and after.
    async tenant({ nl, protocol, desired, before }) {
      const ids = [...new Set([...desired.nexthops.keys(), ...before.nexthops.keys()])];
      const nexthops = new Map<number, Nexthop>();
      for (const n of await Promise.all(ids.map((id) => nl.nexthop(id)))) if (n && n.protocol === protocol) nexthops.set(n.id, n);
      return { nexthops };
    },
  },
  // Out of the uplink, never through a tenant interface.
  needs: () => undefined,
};
