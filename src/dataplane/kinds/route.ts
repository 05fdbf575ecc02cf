// Routes with the agent's protocol: the tenant tables (remote prefixes, connected, local and
// broadcast routes, throw routes of remote SIDs, the unreachable defaults) and, in main, the SID
// routes (seg6local) and the cross-connects' host routes.
import type { Family } from '../../netlink/ip';
import type { Rtnetlink } from '../../netlink/rtnetlink';
import { Route, routeAddRequest, routeDeleteRequest } from '../../netlink/route';
import type { NamedRoute } from '../kernel-objects';
import { diffByKey, ifIndex, IfIndex, KindDescriptor } from './kind';
import { sameJson } from './same-json';

export type RouteOp = { kind: 'route'; action: 'create' | 'replace'; route: NamedRoute } | { kind: 'route'; action: 'delete'; route: Route };

/** The agent's routes in main, by routeKey: a plan looks up its few keys instead of scanning them all. */
export type MainRoutes = Map<string, Route>;

/** IPv6 routes without a metric get 1024 from the kernel (IP6_RT_PRIO_USER); IPv4 ones 0. */
export function routeKey(r: { family?: Family; table?: number; dst: string; priority?: number }): string {
  return `${r.family}|${r.table}|${r.dst}|${r.priority ?? (r.family === 6 ? 1024 : 0)}`;
}

/** Field-wise comparison of what matters for forwarding; kernel-added detail is ignored. */
function sameRoute(want: NamedRoute, have: Route, index: IfIndex): boolean {
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

/** The agent's routes in main (kept between tenant plans: KeptReads.main). */
export async function readMainRoutes(nl: Rtnetlink, protocol: number): Promise<MainRoutes> {
  return new Map((await nl.routes({ table: 254, protocol })).map((r) => [routeKey(r), r]));
}

export const route: KindDescriptor<RouteOp, NamedRoute, Route> = {
  kind: 'route',
  objects: 'routes',
  key: routeKey,
  same: sameRoute,
  plan(desired, observed) {
    const index = ifIndex(observed.links);
    return diffByKey(desired.routes, observed.routes, (w, h) => sameRoute(w, h, index), {
      create: (r): RouteOp => ({ kind: 'route', action: 'create', route: r }),
      replace: (r): RouteOp => ({ kind: 'route', action: 'replace', route: r }),
      delete: (r): RouteOp => ({ kind: 'route', action: 'delete', route: r }),
    });
  },
  // A SID's throw route must exist before a nexthop starts encapsulating towards that SID.
  runsBefore: (op) => (op.action !== 'delete' && op.route.type === 'throw' ? 'nexthop' : undefined),
  execute: {
    via: 'netlink',
    request(op, { index, protocol }) {
      if (op.action === 'delete') {
        const { dst, family, table, priority, type } = op.route;
        return routeDeleteRequest({ dst, family, table, priority, type, protocol });
      }
      const { oifName, encapOifName, ...r } = op.route;
      const encap = r.encap && encapOifName && r.encap.type === 'seg6local' ? { ...r.encap, oif: index(encapOifName) } : r.encap;
      return routeAddRequest({ ...r, encap, ...(oifName ? { oif: index(oifName) } : {}) }, op.action === 'replace');
    },
    refreshLinks: false,
  },
  describe: (op) => `route ${op.route.dst} table ${op.route.table}`,
  invalidates: (op) => ((op.route.table ?? 254) === 254 ? ['main'] : []),
  observe: {
    via: 'kernel',
    async all({ nl, protocol }) {
      const list = await nl.routes({ protocol });
      return { routes: new Map(list.filter((r) => r.protocol === protocol).map((r) => [routeKey(r), r])) };
    },
    // The tenant's tables whole (strays included), and its SID and cross-connect routes in main.
    async tenant({ nl, protocol, desired, before, tables, kept }) {
      const [inTables, main] = await Promise.all([Promise.all(tables.map((table) => nl.routes({ table, protocol }))), kept.main()]);
      const routes = new Map<string, Route>();
      for (const r of inTables.flat()) routes.set(routeKey(r), r);
      for (const k of new Set([...desired.routes.keys(), ...before.routes.keys()])) {
        const r = main.get(k);
        if (r) routes.set(k, r);
      }
      return { routes };
    },
  },
  // A connected, local or broadcast route, or a cross-connect's host route, through that interface.
  needs: (r) => r.oifName,
};
