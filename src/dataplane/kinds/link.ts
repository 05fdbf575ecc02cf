// Tenant interfaces (links the agent does not create): configured (up, MTU, enslaved to the
// tenant's VRF in VRF mode) while desired, released when no longer (out of the VRF, the MTU from
// before back; PlanContext.configured).
import type { Link } from '../../netlink/link';
import { linkChangeRequest } from '../../netlink/link';
import { MissingInterfaceError } from '../errors';
import type { LinkConfig } from '../kernel-objects';
import { ifIndex, IfIndex, KindDescriptor } from './kind';

export type LinkOp = { kind: 'link'; action: 'configure'; link: LinkConfig } | { kind: 'link'; action: 'release'; name: string; mtu?: number };

function same(want: LinkConfig, have: Link, index: IfIndex): boolean {
  // Table mode (master null) leaves the master alone; VRF mode needs the tenant's VRF.
  const masterOk = want.master === null || (have.master !== undefined && have.master === index(want.master));
  return masterOk && have.mtu === want.mtu && have.up;
}

export const link: KindDescriptor<LinkOp, LinkConfig, Link> = {
  kind: 'link',
  objects: 'links',
  key: (l) => l.name,
  same,
  plan(desired, observed, ctx) {
    const ops: LinkOp[] = [];
    const index = ifIndex(observed.links);
    for (const want of desired.links.values()) {
      const l = observed.links.get(want.name);
      if (!l) throw new MissingInterfaceError(want.name);
      if (!same(want, l, index)) ops.push({ kind: 'link', action: 'configure', link: want });
    }
    for (const [name, mtu] of ctx.configured)
      if (!desired.links.has(name) && observed.links.has(name)) ops.push({ kind: 'link', action: 'release', name, mtu });
    return ops;
  },
  execute: {
    via: 'netlink',
    request(op, { index }) {
      if (op.action === 'release') return linkChangeRequest(op.name, { master: 0, ...(op.mtu ? { mtu: op.mtu } : {}) });
      const { name, mtu, master } = op.link;
      return linkChangeRequest(name, { up: true, mtu, ...(master ? { master: index(master) } : {}) });
    },
    refreshLinks: false,
  },
  describe: (op) => `link ${op.action === 'configure' ? op.link.name : op.name}`,
  // ADR 0012. Enslaving to a VRF cycles the device, which flushes its routes (in main too).
  invalidates: () => ['rules', 'main'],
  observe: { via: 'links', names: (o) => o.links.keys() },
  needs: (l) => l.name,
};
