// Gateway addresses on tenant interfaces, marked with the agent's protocol (IFA_PROTO): the only
// addresses it ever deletes.
import { Address, addressAddRequest, addressDeleteRequest } from '../../netlink/address';
import { diffByKey, KindDescriptor } from './kind';

export interface AddressObject {
  ifname: string;
  address: string;
  noprefixroute: boolean;
}

export type AddressOp = { kind: 'address'; action: 'create' | 'delete'; ifname: string; address: string; noprefixroute: boolean };

type ObservedAddress = Address & { ifname: string };

/** "<ifname>|<addr/len>" */
export function addressKey(a: { ifname: string; address: string }): string {
  return `${a.ifname}|${a.address}`;
}

/** The key (interface and address) is all there is to compare. */
const same = () => true;

export const address: KindDescriptor<AddressOp, AddressObject, ObservedAddress> = {
  kind: 'address',
  objects: 'addresses',
  key: addressKey,
  same,
  plan: (desired, observed) =>
    diffByKey(desired.addresses, observed.addresses, same, {
      create: (a): AddressOp => ({ kind: 'address', action: 'create', ...a }),
      delete: (a): AddressOp => ({ kind: 'address', action: 'delete', ifname: a.ifname, address: a.address, noprefixroute: false }),
    }),
  execute: {
    via: 'netlink',
    request(op, { index, protocol }) {
      const spec = { index: index(op.ifname), address: op.address, nodad: true, noprefixroute: op.noprefixroute, protocol };
      return op.action === 'create' ? addressAddRequest(spec) : addressDeleteRequest(spec);
    },
    refreshLinks: false,
  },
  describe: (op) => `address ${op.address} on ${op.ifname}`,
  // ADR 0012. A device's last IPv4 address takes the device's IPv4 routes along, main's too.
  invalidates: () => ['main'],
  observe: {
    via: 'kernel',
    async all({ nl, protocol, links }) {
      const [list, all] = await Promise.all([nl.addresses(), links]);
      const byIndex = new Map(all.map((l) => [l.index, l.name]));
      const addresses = new Map<string, ObservedAddress>();
      for (const a of list) {
        const ifname = byIndex.get(a.index);
        if (a.protocol === protocol && ifname) addresses.set(addressKey({ ifname, address: a.address }), { ...a, ifname });
      }
      return { addresses };
    },
    // Those of the tenant's interfaces that exist, one read each.
    async tenant({ nl, protocol, desired, before, links }) {
      const byName = await links;
      const names = [...desired.links.keys(), ...before.links.keys()];
      const present = names.filter((n, i) => byName.has(n) && names.indexOf(n) === i);
      const lists = await Promise.all(present.map((n) => nl.addresses(undefined, byName.get(n)!.index)));
      const addresses = new Map<string, ObservedAddress>();
      present.forEach((ifname, i) => {
        for (const a of lists[i]) if (a.protocol === protocol) addresses.set(addressKey({ ifname, address: a.address }), { ...a, ifname });
      });
      return { addresses };
    },
  },
  needs: (a) => a.ifname,
};
