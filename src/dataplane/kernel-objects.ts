// The kernel objects a desired state stands for, per mode. Pure: interface indexes are resolved
// by the applier, so the same description is compared with any kernel dump.
import type { Nexthop } from '../netlink/nexthop';
import type { Route } from '../netlink/route';
import type { Rule } from '../netlink/rule';
import { Family, formatPrefix, mask, parsePrefix } from '../netlink/ip';
import { DesiredState, encapKey, nexthopId, TenantState } from './desired-state';
import { KIND_LIST } from './kinds';
import { addressKey } from './kinds/address';
import { routeKey } from './kinds/route';
import { ruleKey } from './kinds/rule';
import { sysctlKey } from './kinds/sysctl';
import type { EncapMode } from './spec.dto';

// The keys live with their kinds (kinds/*.ts); re-exported for the callers that build objects.
export { routeKey, ruleKey, sysctlKey };
export { sysctlInterface, sysctlPath } from './kinds/sysctl';

export type DataplaneMode = 'vrf' | 'table';

export interface Ownership {
  /** rtm_protocol / nhm_protocol / FRA_PROTOCOL / IFA_PROTO of everything the agent creates. */
  protocol: number;
  /** VRF devices are named `${vrfPrefix}${tenant}`. */
  vrfPrefix: string;
  /** Priority of the table-mode `iif <if> lookup <table>` rules. */
  rulePriority: number;
  /**
   * SID routes count packets (seg6local `count`); false where the kernel keeps no seg6local
   * counters: a kernel that ignores the attribute would dump every SID route as drift. Default true.
   */
  counters?: boolean;
}

export const DEFAULT_OWNERSHIP: Ownership = { protocol: 196, vrfPrefix: 'vrf-', rulePriority: 1000 };

/** Routes name interfaces; the applier resolves them to indexes. */
export type NamedRoute = Omit<Route, 'oif'> & { oifName?: string; encapOifName?: string };
export type NamedNexthop = Omit<Nexthop, 'oif'> & { oifName: string };
export type NamedRule = Rule;

export interface LinkConfig {
  name: string;
  /** VRF to enslave to; null: no master. */
  master: string | null;
  mtu: number;
}

/** The desired objects, one map per kind (kinds/: each map's kind, keyed by that kind's key). */
export interface KernelObjects {
  sysctls: Map<string, { path: string[]; value: string }>;
  vrfs: Map<string, { name: string; table: number }>;
  links: Map<string, LinkConfig>;
  /** key "<ifname>|<addr/len>" */
  addresses: Map<string, { ifname: string; address: string; noprefixroute: boolean }>;
  nexthops: Map<number, NamedNexthop>;
  routes: Map<string, NamedRoute>;
  rules: Map<string, NamedRule>;
  /**
   * With tenants: the kernel's `0: lookup local` rule is moved behind the l3mdev rule (VRF mode)
   * or the tenant `iif` rules (table mode), see localRules, so the agent deletes it; without
   * tenants it is put back.
   */
  moveLocalRule: boolean;
}

/** Where the local-table rule goes while tenants exist: right behind the l3mdev / tenant `iif` rules. */
export function localRulePriority(own: Ownership): number {
  return own.rulePriority + 1;
}

/** Table mode: `iif lo` and `iif <underlay>` jump from here over the tenant rules to the local rule. */
export function skipRulePriority(own: Ownership): number {
  return own.rulePriority - 2;
}

/** Table mode: IPv6 link-local and multicast destinations are looked up in local here. */
export function linkScopeRulePriority(own: Ownership): number {
  return own.rulePriority - 1;
}

/**
 * A VM's packet to an address of its own HV (management, underlay) would be delivered by the
 * `0: lookup local` rule before the l3mdev rule (VRF mode) or its interface's `iif` rule (table
 * mode) sends it to the tenant table, which ends in an unreachable default. As the kernel's VRF
 * documentation advises, the local lookup moves behind those rules; the tenant tables carry their
 * own local routes (a VRF's from the kernel, table mode's from the agent, see buildKernelObjects).
 * The HV's own traffic meets the moved rule before main, as before (ADR 0010, 0011).
 */
export function localRules(state: DesiredState, _mode: DataplaneMode, own: Ownership): Rule[] {
  if (!state.node || !Object.keys(state.tenants).length) return [];
  return ([4, 6] as const).map((family) => ({ family, priority: localRulePriority(own), table: 255, protocol: own.protocol }));
}

/**
 * Table mode's node-wide rules, there as long as the node is (so a tenant job never plans them):
 * - `iif lo` (the HV's own lookups) and `iif <underlay>` go to the local rule's priority, past
 *   every tenant rule: one comparison instead of one per tenant interface. While no tenant
 *   exists nothing is at that priority; the kernel then skips the goto (an unresolved target).
 * - IPv6 link-local (fe80::/64) and multicast (ff00::/8) destinations are looked up in local.
 *   Those lookups are bound to the arriving interface (rt6_need_strict): a VM finds the local
 *   route of its own tap's link-local address (which the kernel chooses, so no tenant table can
 *   name it) and the tap's ff00::/8 multicast route (NDP), nothing of another interface.
 */
export function tableModeNodeRules(state: DesiredState, own: Ownership): Rule[] {
  if (!state.node) return [];
  if (skipRulePriority(own) < 1) throw new RangeError(`table mode needs a rule priority of at least 3 (ownership.rulePriority is ${own.rulePriority})`);
  const skip = (family: Family, iif: string): Rule => ({
    family,
    priority: skipRulePriority(own),
    iif,
    action: 'goto',
    goto: localRulePriority(own),
    protocol: own.protocol,
  });
  const rules: Rule[] = [];
  for (const family of [4, 6] as const) for (const iif of ['lo', ...state.node.underlay]) rules.push(skip(family, iif));
  for (const dst of ['fe80::/64', 'ff00::/8']) rules.push({ family: 6, priority: linkScopeRulePriority(own), dst, table: 255, protocol: own.protocol });
  return rules;
}

/** Metric of the fail-closed unreachable defaults: below everything an operator would add. */
export const UNREACHABLE_METRIC = 4278198272;

/** Bytes SRv6 adds to a packet: outer IPv6, plus an SRH unless reduced to the first SID. */
export function encapOverhead(mode: EncapMode, sids: number): number {
  const srhSegments = mode === 'encap.red' ? sids - 1 : sids;
  return 40 + (srhSegments > 0 ? 8 + 16 * srhSegments : 0);
}

/** Tenant MTU: the underlay's minus the largest overhead among the tenant's routes (one SID with SRH by default). */
export function tenantMtu(t: TenantState, underlayMtu: number): number {
  let overhead = encapOverhead('encap', 1);
  for (const r of Object.values(t.routes)) overhead = Math.max(overhead, encapOverhead(r.mode, r.sids.length));
  return underlayMtu - overhead;
}

export function vrfName(own: Ownership, tenant: string): string {
  return `${own.vrfPrefix}${tenant}`;
}

function broadcastOf(addr: Buffer, len: number): Buffer {
  const b = Buffer.from(addr);
  b.writeUInt32BE((b.readUInt32BE(0) | (len === 0 ? 0xffffffff : (1 << (32 - len)) - 1)) >>> 0, 0);
  return b;
}

function familyOfPrefix(p: string): Family {
  return p.includes(':') ? 6 : 4;
}

export function buildKernelObjects(state: DesiredState, mode: DataplaneMode, own: Ownership): KernelObjects {
  const o: KernelObjects = {
    sysctls: new Map(),
    vrfs: new Map(),
    links: new Map(),
    addresses: new Map(),
    nexthops: new Map(),
    routes: new Map(),
    rules: new Map(),
    moveLocalRule: false,
  };
  const node = state.node;
  if (!node) return o;
  setLocalRules(o, state, mode, own);
  if (mode === 'table') for (const r of tableModeNodeRules(state, own)) o.rules.set(ruleKey(r), r);
  const sysctl = (path: string[], value: string | number) => o.sysctls.set(sysctlKey(path), { path, value: String(value) });
  const route = (r: NamedRoute) => o.routes.set(routeKey(r), { protocol: own.protocol, ...r });
  const uplink = node.underlay[0];

  setNodeSysctls(o, state, mode);
  const tenants = Object.values(state.tenants);

  for (const t of tenants) {
    const vrf = mode === 'vrf' ? vrfName(own, t.id) : null;
    if (vrf) o.vrfs.set(vrf, { name: vrf, table: t.table });
    const mtu = tenantMtu(t, node.underlayMtu);
    for (const itf of t.interfaces) {
      o.links.set(itf.name, { name: itf.name, master: vrf, mtu });
      // Reverse-path filtering looks the VM's source up as if from loopback: in a VRF that is the
      // tenant table (loose mode works), in table mode it is main, which never holds tenant
      // prefixes, so there the check must be off or every IPv4 packet of the VM (ARP included) dies.
      sysctl(['net', 'ipv4', 'conf', itf.name, 'rp_filter'], mode === 'vrf' ? 2 : 0);
      for (const gw of itf.gateways) {
        o.addresses.set(addressKey({ ifname: itf.name, address: gw }), { ifname: itf.name, address: gw, noprefixroute: mode === 'table' });
        if (mode === 'table') {
          // Without a VRF the connected route would land in main: put it in the tenant's table.
          const p = parsePrefix(gw, 'gateway', { allowHostBits: true });
          route({ family: p.family, dst: formatPrefix(mask(p.addr, p.len), p.len), table: t.table, oifName: itf.name, scope: 253 });
          // What the kernel puts in a VRF's table, for the lookups behind the moved local rule:
          // the gateway is local (ARP's lookup of it, NDP, pings) and the subnet broadcast is.
          const host = p.family === 4 ? 32 : 128;
          route({ family: p.family, dst: formatPrefix(p.addr, host), table: t.table, oifName: itf.name, type: 'local' });
          if (p.family === 4 && p.len < 31)
            route({ family: 4, dst: formatPrefix(broadcastOf(p.addr, p.len), 32), table: t.table, oifName: itf.name, type: 'broadcast' });
        }
      }
      if (mode === 'table')
        for (const family of [4, 6] as const) {
          const r: Rule = { family, priority: own.rulePriority, iif: itf.name, table: t.table, protocol: own.protocol };
          o.rules.set(ruleKey(r), r);
        }
    }
    // Fail closed: a destination without a route is unreachable, never looked up elsewhere.
    for (const family of [4, 6] as const) route({ family, dst: 'default', type: 'unreachable', table: t.table, priority: UNREACHABLE_METRIC });

    // Decapsulation on this HV's SID (the packet's outer destination), looked up in main.
    route({ family: 6, dst: `${t.sid}/128`, table: 254, ...decapRoute(t, mode, vrf, uplink, own.counters ?? true) });
    // End.DX4/DX6 forward to their nexthop through a lookup in main: a host route to the VM.
    if (t.dx) {
      const family = t.behaviour === 'End.DX4' ? 4 : 6;
      route({ family, dst: `${t.dx.nexthop}/${family === 4 ? 32 : 128}`, table: 254, oifName: t.dx.interface, scope: 253 });
    }

    // Encapsulation towards remote HVs: routes share one nexthop per (tenant, mode, SID list).
    for (const r of Object.values(t.routes)) {
      const id = nexthopId(state, t.id, r.mode, r.sids);
      if (id === undefined) throw new Error(`no nexthop id allocated for ${t.id} ${encapKey(r.mode, r.sids)}`);
      if (!o.nexthops.has(id))
        o.nexthops.set(id, { id, family: 6, oifName: uplink, protocol: own.protocol, encap: { type: 'seg6', mode: r.mode, segments: r.sids } });
      route({ family: familyOfPrefix(r.prefix), dst: r.prefix, table: t.table, nhid: id });
      // seg6's input path routes the encapsulated packet again with the tenant interface as iif,
      // i.e. in the tenant table (VRF or table-mode rule), whose unreachable default would drop
      // it. Throwing exactly this tenant's remote SIDs back to the next rule (main) lets the outer
      // packet reach the underlay while a VM still cannot reach any other SID (ADR 0007).
      const thr: NamedRoute = { family: 6, dst: `${r.sids[0]}/128`, table: t.table, type: 'throw' };
      if (!o.routes.has(routeKey(thr))) route(thr);
    }
  }
  return o;
}

/**
 * The node's sysctls, decided by the node and by whether any tenant exists (the tenants' own
 * interfaces have theirs in buildKernelObjects). A tenant-scoped plan sets them from the whole
 * state: the ones of a state cut down to some tenants are a subset of the whole state's.
 */
export function setNodeSysctls(o: KernelObjects, state: DesiredState, mode: DataplaneMode): void {
  const node = state.node;
  if (!node) return;
  const sysctl = (path: string[], value: string | number) => o.sysctls.set(sysctlKey(path), { path, value: String(value) });
  sysctl(['net', 'ipv4', 'conf', 'all', 'forwarding'], 1);
  sysctl(['net', 'ipv6', 'conf', 'all', 'forwarding'], 1);
  sysctl(['net', 'ipv6', 'conf', 'all', 'seg6_enabled'], 1);
  for (const u of node.underlay) sysctl(['net', 'ipv6', 'conf', u, 'seg6_enabled'], 1);
  const tenants = Object.keys(state.tenants).length > 0;
  if (mode === 'vrf' && tenants) sysctl(['net', 'vrf', 'strict_mode'], 1);
  // The kernel applies max(all, <dev>): `all` must not re-enable the check on tenant interfaces.
  // Other interfaces keep their own per-device setting.
  if (mode === 'table' && tenants) sysctl(['net', 'ipv4', 'conf', 'all', 'rp_filter'], 0);
}

/** The decapsulation SID route's device and seg6local encap for a tenant (also what kernel-requirements.ts checks). */
export function decapRoute(t: TenantState, mode: DataplaneMode, vrf: string | null, uplink: string, counters = true): Partial<NamedRoute> {
  const count = counters ? { counters: true } : {};
  switch (t.behaviour) {
    case 'End.DX4':
    case 'End.DX6': {
      const nh = t.behaviour === 'End.DX4' ? { nh4: t.dx!.nexthop } : { nh6: t.dx!.nexthop };
      return { oifName: uplink, encap: { type: 'seg6local', action: t.behaviour, ...nh, ...count } };
    }
    case 'End.DT6':
    case 'End.DT4':
    case 'End.DT46':
      // Table mode has only End.DT6's legacy table lookup; VRF mode decapsulates through the VRF.
      if (mode === 'table' && t.behaviour === 'End.DT6') return { oifName: uplink, encap: { type: 'seg6local', action: 'End.DT6', table: t.table, ...count } };
      return { oifName: vrf ?? uplink, encap: { type: 'seg6local', action: t.behaviour, vrftable: t.table, ...count } };
  }
}

/**
 * `o` without what needs one of `devices` to exist (each kind's `needs`): their link settings,
 * addresses, sysctls and the routes through them (connected, local, broadcast, a cross-connect's
 * host route). Rules stay: an `iif <tap>` rule needs no device, and keeping it keeps the tap's
 * tenant isolation in place for the moment the tap comes back. For tenant interfaces that are
 * missing (a VM's tap gone while the agent was down): the rest of the tenant and the node are
 * reconciled, the tap when it reappears.
 */
export function withoutDevices(o: KernelObjects, devices: Set<string>): KernelObjects {
  if (!devices.size) return o;
  const out: KernelObjects = { ...o };
  for (const kind of KIND_LIST) {
    const all: Map<unknown, unknown> = o[kind.objects];
    const kept = new Map(
      [...all].filter(([, v]) => {
        const device = kind.needs(v);
        return device === undefined || !devices.has(device);
      }),
    );
    if (kept.size !== all.size) Object.assign(out, { [kind.objects]: kept });
  }
  return out;
}

/** The local-rule objects of `o`, decided by `state` (a tenant-scoped plan passes the whole state). */
export function setLocalRules(o: KernelObjects, state: DesiredState, mode: DataplaneMode, own: Ownership): void {
  for (const [k, r] of o.rules) if (isMovedLocalRule(r, own)) o.rules.delete(k);
  const rules = localRules(state, mode, own);
  for (const r of rules) o.rules.set(ruleKey(r), r);
  o.moveLocalRule = rules.length > 0;
}

/** The agent's moved `lookup local` rule (not the table-mode link-scope rules, which name a dst). */
export function isMovedLocalRule(r: Rule, own: Ownership): boolean {
  return r.table === 255 && r.priority === localRulePriority(own) && r.dst === undefined && r.iif === undefined;
}

/**
 * A node-wide rule (the local rule, moved or at 0; table mode's jumps and link-scope rules), as
 * opposed to a tenant's `iif <tap> lookup <table>` rule: what two tenant jobs may both plan.
 */
export function isNodeRule(r: Rule, own: Ownership): boolean {
  return r.priority !== own.rulePriority;
}
