// VRF devices (VRF mode): one per tenant, `${vrfPrefix}${tenant}`, bound to the tenant's table.
// The agent deletes only the VRFs it made (PlanContext.ownedVrfs).
import type { Link } from '../../netlink/link';
import { linkCreateRequest, linkDeleteRequest } from '../../netlink/link';
import { ForeignObjectError } from '../errors';
import type { KindDescriptor } from './kind';

export interface VrfObject {
  name: string;
  table: number;
}

export type VrfOp = { kind: 'vrf'; action: 'create' | 'delete'; name: string; table: number };

function same(want: VrfObject, have: Link): boolean {
  return have.kind === 'vrf' && have.table === want.table;
}

export const vrf: KindDescriptor<VrfOp, VrfObject, Link> = {
  kind: 'vrf',
  objects: 'vrfs',
  key: (v) => v.name,
  same,
  plan(desired, observed, ctx) {
    const ops: VrfOp[] = [];
    for (const v of desired.vrfs.values()) {
      const l = observed.links.get(v.name);
      if (l && !same(v, l)) {
        // Ours with another table: made again. A link of that name that is not ours: refused.
        if (ctx.ownedVrfs.has(v.name) && l.kind === 'vrf') ops.push({ kind: 'vrf', action: 'delete', name: v.name, table: l.table ?? 0 });
        else throw new ForeignObjectError(`link ${v.name} exists and is not the agent's VRF for table ${v.table}`);
        ops.push({ kind: 'vrf', action: 'create', ...v });
      } else if (!l) ops.push({ kind: 'vrf', action: 'create', ...v });
    }
    for (const name of ctx.ownedVrfs) {
      const l = observed.links.get(name);
      if (!desired.vrfs.has(name) && l?.kind === 'vrf') ops.push({ kind: 'vrf', action: 'delete', name, table: l.table ?? 0 });
    }
    return ops;
  },
  execute: {
    via: 'netlink',
    request: (op) => (op.action === 'create' ? linkCreateRequest({ name: op.name, kind: 'vrf', table: op.table, up: true }) : linkDeleteRequest(op.name)),
    // New VRFs get their indexes: later phases enslave to them and point routes at them.
    refreshLinks: true,
  },
  describe: (op) => `vrf ${op.name}`,
  // The kernel adds its l3mdev rule with the first VRF; routes in main through a VRF go with it.
  invalidates: () => ['rules', 'main'],
  observe: { via: 'links', names: (o) => o.vrfs.keys() },
  // The agent's own device.
  needs: () => undefined,
};
