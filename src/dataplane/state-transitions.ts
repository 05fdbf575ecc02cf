// Jobs as pure transitions of the desired state: validation of what DTO decorators cannot see
// (cross-field and cross-tenant rules), canonical forms, and stable allocation of tables, SIDs and
// nexthop ids. Every function returns a new state and leaves its input untouched.
import { CapabilityMissingError } from '../common/errors';
import { InvalidArgumentError } from '../netlink/errors';
import { formatAddress, formatPrefix, mask, parseAddress, parsePrefix } from '../netlink/ip';
import { UnknownTenantError } from './errors';
export { UnknownTenantError };
import { DesiredState, encapKey, NodeState, RemoteRouteState, TenantState } from './desired-state';
import { DataplaneMode, DEFAULT_OWNERSHIP, encapOverhead, tenantMtu } from './kernel-objects';
import type { NodeSpecDto, RemoteRouteDto, TenantSpecDto } from './spec.dto';

/** Tables the agent allocates from (user-given ids may be anywhere else). */
export const TABLE_RANGE = { first: 10_000, last: 0x7fffffff } as const;
/** Nexthop ids the agent allocates from: far from the small ids people type by hand. */
export const NEXTHOP_ID_BASE = 0x5a000000;

/**
 * Copy-on-write: the new state shares every tenant it does not change with the old one, so a job's
 * cost does not grow with the number of tenants. Tenant objects are never mutated in place.
 */
function clone(s: DesiredState): DesiredState {
  return { ...s, tenants: { ...s.tenants } };
}

const canonPrefix = (p: string, field: string) => {
  const x = parsePrefix(p, field);
  return formatPrefix(x.addr, x.len);
};
const canonAddr = (a: string, field: string) => formatAddress(parseAddress(a, field));

export function upsertNode(state: DesiredState, dto: NodeSpecDto): DesiredState {
  const s = clone(state);
  const loc = parsePrefix(dto.locator, 'locator', { family: 6 });
  if (loc.len > 112) throw new InvalidArgumentError('locator', 'must be /112 or shorter: SIDs take the 16 bits after it');
  const node: NodeState = {
    underlay: [...dto.underlay],
    locator: formatPrefix(loc.addr, loc.len),
    encapSource: canonAddr(dto.encapSource, 'encapSource'),
    underlayMtu: dto.underlayMtu,
  };
  if (new Set(node.underlay).size !== node.underlay.length) throw new InvalidArgumentError('underlay', 'lists an interface twice');
  for (const t of Object.values(s.tenants)) requireIpv6Mtu(t, node.underlayMtu, 'underlayMtu');
  for (const t of Object.values(s.tenants)) {
    if (t.interfaces.some((i) => node.underlay.includes(i.name))) throw new InvalidArgumentError('underlay', `interface already belongs to tenant ${t.id}`);
  }
  // A new locator re-allocates the SIDs that were allocated (not given) from the old one.
  if (s.node && s.node.locator !== node.locator) {
    for (const t of Object.values(s.tenants)) if (inside(t.sid, s.node.locator)) s.tenants[t.id] = { ...t, sid: '' };
    s.node = node;
    for (const t of Object.values(s.tenants)) if (!t.sid) s.tenants[t.id] = { ...t, sid: allocateSid(s, t.id) };
  }
  s.node = node;
  s.version++;
  return s;
}

export function upsertTenant(state: DesiredState, dto: TenantSpecDto, mode: DataplaneMode, vrfPrefix = DEFAULT_OWNERSHIP.vrfPrefix): DesiredState {
  const s = clone(state);
  if (!s.node) throw new InvalidArgumentError('node', 'upsert the node (underlay, locator) before any tenant');
  const prev = s.tenants[dto.id];
  const dx = dto.behaviour === 'End.DX4' || dto.behaviour === 'End.DX6';
  if (dx && !dto.dx) throw new InvalidArgumentError('dx', `${dto.behaviour} needs dx.nexthop and dx.interface`);
  if (!dx && dto.dx) throw new InvalidArgumentError('dx', `only End.DX4/End.DX6 take dx, not ${dto.behaviour}`);
  if (dto.dx) {
    parseAddress(dto.dx.nexthop, 'dx.nexthop', dto.behaviour === 'End.DX4' ? 4 : 6);
    const itf = dto.interfaces.find((i) => i.name === dto.dx!.interface);
    if (!itf) throw new InvalidArgumentError('dx.interface', 'must be one of the tenant’s interfaces');
    const nh = canonAddr(dto.dx.nexthop, 'dx.nexthop');
    // Its host route goes into main: outside the VM's subnet it could shadow any of the HV's routes.
    const subnet = itf.gateways.map((g) => canonGateway(g, 'dx.interface')).find((g) => g.includes(':') === nh.includes(':') && inside(nh, g));
    if (!subnet) throw new InvalidArgumentError('dx.nexthop', `${nh} must lie in a gateway subnet of ${itf.name} (the cross-connected VM is on it)`);
    if (formatAddress(parsePrefix(subnet, 'dx.interface', { allowHostBits: true }).addr) === nh)
      throw new InvalidArgumentError('dx.nexthop', `${nh} is the gateway's own address on ${itf.name}, not the VM's`);
    const edge = subnetEdge(nh, subnet);
    if (edge) throw new InvalidArgumentError('dx.nexthop', `${nh} is the ${edge} address of ${subnet}, not a VM's`);
    for (const t of Object.values(s.tenants))
      if (t.id !== dto.id && t.dx?.nexthop === nh)
        throw new InvalidArgumentError('dx.nexthop', `${nh} is the cross-connect of tenant ${t.id} (one host route in main per address)`);
  }
  // Without a VRF the kernel has no IPv4 decapsulation into a table: only the XDP offload does it
  // (src/dataplane/table-mode-decap.ts: what XDP passes to the kernel is then dropped).
  if (mode === 'table' && (dto.behaviour === 'End.DT4' || dto.behaviour === 'End.DT46') && !dto.xdpOffload)
    throw new CapabilityMissingError(
      `seg6local.${dto.behaviour}`,
      'xdpOffload: true (XDP decapsulates IPv4 in table mode), End.DT6 or End.DX4/End.DX6, or a kernel with CONFIG_NET_VRF',
      'IPv4 decapsulation into a table needs a VRF',
    );

  const names = new Set<string>();
  dto.interfaces.forEach((itf, i) => {
    if (names.has(itf.name)) throw new InvalidArgumentError(`interfaces[${i}].name`, `${itf.name} is listed twice`);
    names.add(itf.name);
    if (s.node!.underlay.includes(itf.name)) throw new InvalidArgumentError(`interfaces[${i}].name`, `${itf.name} is an underlay interface`);
    if (itf.name === 'lo') throw new InvalidArgumentError(`interfaces[${i}].name`, 'lo is the hypervisor’s loopback, not a VM’s interface');
    if (mode === 'vrf' && itf.name.startsWith(vrfPrefix))
      throw new InvalidArgumentError(`interfaces[${i}].name`, `${itf.name}: names starting with ${vrfPrefix} are the agent’s VRF devices`);
    for (const t of Object.values(s.tenants))
      if (t.id !== dto.id && t.interfaces.some((x) => x.name === itf.name))
        throw new InvalidArgumentError(`interfaces[${i}].name`, `${itf.name} belongs to tenant ${t.id}`);
  });

  const table = dto.table ?? prev?.table ?? allocateTable(s);
  for (const t of Object.values(s.tenants))
    if (t.id !== dto.id && t.table === table) throw new InvalidArgumentError('table', `table ${table} belongs to tenant ${t.id}`);
  if (table === 253 || table === 254 || table === 255) throw new InvalidArgumentError('table', 'tables 253-255 are the kernel’s own');
  // The tenant's VRF would have to be made again around its enslaved interfaces, which the kernel
  // refuses while the old one exists (EEXIST): asked for, it could only fail and be undone.
  if (mode === 'vrf' && prev && table !== prev.table)
    throw new InvalidArgumentError(
      'table',
      `tenant ${dto.id} has table ${prev.table}; in VRF mode a tenant's table cannot change (delete the tenant and create it again)`,
    );

  const sid = dto.sid ? canonAddr(dto.sid, 'sid') : (prev?.sid ?? '');
  // The SID route goes into main: outside the locator it could shadow any of the HV's routes, and
  // the fabric routes only the locator to this HV.
  if (dto.sid && !inside(sid, s.node.locator)) throw new InvalidArgumentError('sid', `${sid} must lie inside the node’s locator ${s.node.locator}`);
  for (const t of Object.values(s.tenants))
    if (t.id !== dto.id && sid && t.sid === sid) throw new InvalidArgumentError('sid', `SID ${sid} belongs to tenant ${t.id}`);

  const t: TenantState = {
    id: dto.id,
    table,
    behaviour: dto.behaviour,
    sid,
    interfaces: dto.interfaces.map((itf, i) => ({ name: itf.name, gateways: itf.gateways.map((g, k) => canonGateway(g, `interfaces[${i}].gateways[${k}]`)) })),
    routes: routesFrom(dto.routes, 'routes', subnetsOf(dto.interfaces)),
    xdpOffload: dto.xdpOffload ?? false,
  };
  if (dto.dx) t.dx = { nexthop: canonAddr(dto.dx.nexthop, 'dx.nexthop'), interface: dto.dx.interface };
  if (dto.description !== undefined) t.description = dto.description;
  requireIpv6Mtu(t, s.node.underlayMtu, 'routes');
  s.tenants[dto.id] = t;
  if (!t.sid) t.sid = allocateSid(s, t.id);
  s.version++;
  return s;
}

/** Deleting a tenant that is not there (a repeated or re-run delete) changes nothing and succeeds: applied twice as once. */
export function deleteTenant(state: DesiredState, id: string): DesiredState {
  if (!state.tenants[id]) return state;
  const s = clone(state);
  delete s.tenants[id];
  s.version++;
  return s;
}

/** Replaces a tenant's remote routes (`set`), or adds and removes some of them. */
export function changeRoutes(state: DesiredState, id: string, change: { set?: RemoteRouteDto[]; add?: RemoteRouteDto[]; remove?: string[] }): DesiredState {
  if (!change.set && !change.add && !change.remove) throw new InvalidArgumentError('set', 'a routes job needs set, add or remove');
  if (!state.tenants[id]) throw new UnknownTenantError(id);
  const s = clone(state);
  const t = (s.tenants[id] = { ...s.tenants[id], routes: { ...s.tenants[id].routes } });
  const subnets = subnetsOf(t.interfaces);
  if (change.set) t.routes = routesFrom(change.set, 'set', subnets);
  // Removing a route that is not there is done already (a repeated or re-run job): applied twice as once.
  (change.remove ?? []).forEach((p, i) => delete t.routes[canonPrefix(p, `remove[${i}]`)]);
  Object.assign(t.routes, routesFrom(change.add ?? [], 'add', subnets));
  requireIpv6Mtu(t, s.node!.underlayMtu, change.add ? 'add' : 'set');
  s.version++;
  return s;
}

/** The smallest MTU IPv6 works with: below it the kernel removes IPv6 from an interface. */
export const IPV6_MIN_MTU = 1280;

/**
 * The tenant's interfaces get the underlay MTU minus the largest encapsulation of its routes; below
 * 1280 the kernel would take IPv6 off them (link-local, NDP, the tenant's IPv6 traffic).
 */
function requireIpv6Mtu(t: TenantState, underlayMtu: number, field: string): void {
  const mtu = tenantMtu(t, underlayMtu);
  if (mtu >= IPV6_MIN_MTU) return;
  const worst = Object.values(t.routes).reduce<RemoteRouteState | undefined>(
    (w, r) => (!w || encapOverhead(r.mode, r.sids.length) > encapOverhead(w.mode, w.sids.length) ? r : w),
    undefined,
  );
  throw new InvalidArgumentError(
    field,
    `tenant ${t.id}'s interfaces would get MTU ${mtu} (underlay ${underlayMtu} minus ${underlayMtu - mtu} bytes of SRv6${worst ? ` for ${worst.prefix}'s ${worst.sids.length} SIDs, ${worst.mode}` : ''}), below ${IPV6_MIN_MTU}: the kernel would remove IPv6 from them`,
  );
}

/** The subnets of a tenant's gateways, canonical, with the interface each is on. */
function subnetsOf(interfaces: { name: string; gateways: string[] }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const itf of interfaces)
    for (const g of itf.gateways) {
      const p = parsePrefix(g, 'gateway', { allowHostBits: true });
      out.set(formatPrefix(mask(p.addr, p.len), p.len), itf.name);
    }
  return out;
}

function routesFrom(list: RemoteRouteDto[], field: string, subnets: Map<string, string>): Record<string, RemoteRouteState> {
  const out: Record<string, RemoteRouteState> = {};
  list.forEach((r, i) => {
    const prefix = canonPrefix(r.prefix, `${field}[${i}].prefix`);
    if (out[prefix]) throw new InvalidArgumentError(`${field}[${i}].prefix`, `${prefix} is listed twice`);
    // Same key as the connected route of the tenant's own subnet: it would replace it (table mode).
    if (subnets.has(prefix))
      throw new InvalidArgumentError(`${field}[${i}].prefix`, `${prefix} is the tenant’s own subnet on ${subnets.get(prefix)}, not a remote prefix`);
    out[prefix] = { prefix, sids: r.sids.map((x, k) => canonAddr(x, `${field}[${i}].sids[${k}]`)), mode: r.mode ?? 'encap' };
  });
  return out;
}

function canonGateway(g: string, field: string): string {
  const p = parsePrefix(g, field, { allowHostBits: true });
  return formatPrefix(p.addr, p.len);
}

function allocateTable(s: DesiredState): number {
  const used = new Set(Object.values(s.tenants).map((t) => t.table));
  for (let t = TABLE_RANGE.first; t <= TABLE_RANGE.last; t++) if (!used.has(t)) return t;
  throw new InvalidArgumentError('table', 'no free table id');
}

/**
 * 'network' or 'broadcast' when `addr` is the all-zeros or (IPv4) all-ones host of `subnet`
 * (the subnet-router anycast address in IPv6), for subnets that have hosts besides; else undefined.
 */
function subnetEdge(addr: string, subnet: string): 'network' | 'broadcast' | undefined {
  const p = parsePrefix(subnet, 'subnet', { allowHostBits: true });
  const a = parseAddress(addr, 'address');
  const bits = a.length * 8;
  if (bits - p.len < 2) return undefined; // /31, /32, /127, /128: every address is a host
  let zeros = true;
  let ones = true;
  for (let bit = p.len; bit < bits; bit++) {
    const v = (a[bit >> 3] >> (7 - (bit & 7))) & 1;
    zeros &&= v === 0;
    ones &&= v === 1;
  }
  return zeros ? 'network' : ones && a.length === 4 ? 'broadcast' : undefined;
}

/** Whether `addr` lies in `prefix` (of the same family). */
function inside(addr: string, prefix: string): boolean {
  const p = parsePrefix(prefix, 'prefix', { allowHostBits: true });
  const a = parseAddress(addr, 'address');
  if (a.length !== p.addr.length) return false;
  for (let bit = 0; bit < p.len; bit++) if (((a[bit >> 3] ^ p.addr[bit >> 3]) >> (7 - (bit & 7))) & 1) return false;
  return true;
}

/** SID = locator, then a 16-bit function number (lowest free), then zeros. */
function allocateSid(s: DesiredState, tenant: string): string {
  const loc = parsePrefix(s.node!.locator, 'locator', { family: 6 });
  const fnOf = (sid: string): number => {
    const a = parseAddress(sid, 'sid', 6);
    let fn = 0;
    for (let i = 0; i < 16; i++) {
      const bit = loc.len + i;
      fn = (fn << 1) | ((a[bit >> 3] >> (7 - (bit & 7))) & 1);
    }
    return fn;
  };
  const used = new Set<number>();
  for (const t of Object.values(s.tenants)) if (t.id !== tenant && t.sid && inside(t.sid, s.node!.locator)) used.add(fnOf(t.sid));
  let fn = 1;
  while (used.has(fn)) fn++;
  if (fn > 0xffff) throw new InvalidArgumentError('sid', 'the locator has no free SID');
  const b = Buffer.from(loc.addr);
  for (let i = 0; i < 16; i++) {
    const bit = loc.len + i;
    if ((fn >> (15 - i)) & 1) b[bit >> 3] |= 0x80 >> (bit & 7);
  }
  return formatAddress(b);
}

/**
 * One nexthop id per distinct (tenant, mode, SID list) in use; ids of keys still in use are kept,
 * unused ones dropped, new ones take the lowest id free in the agent's range and in the kernel.
 */
export function allocateNexthops(state: DesiredState, taken: Set<number>, base?: DesiredState): DesiredState {
  if (allocated.has(state)) return state;
  // From an allocated state whose nexthop ids this one still shares, only the tenants that
  // changed (other objects) need a look: a job on a hypervisor of 50k routes walks its tenant's.
  const incremental = !!base && allocated.has(base) && base.nexthops === state.nexthops;
  const ids = new Set([...Object.keys(state.tenants), ...Object.keys(incremental ? base!.tenants : state.nexthops)]);
  let out: DesiredState['nexthops'] | undefined;
  const pool = idsInUse(state.nexthops, taken);
  for (const id of ids) {
    const t = state.tenants[id];
    if (incremental && t === base!.tenants[id]) continue;
    const have = state.nexthops[id] ?? {};
    const want = new Set(Object.values(t?.routes ?? {}).map((r) => encapKey(r.mode, r.sids)));
    const stale = Object.keys(have).filter((k) => !want.has(k));
    const missing = [...want].filter((k) => have[k] === undefined);
    if (!stale.length && !missing.length) continue;
    out ??= { ...state.nexthops };
    const mine = { ...have };
    for (const k of stale) {
      pool.free(have[k]);
      delete mine[k];
    }
    for (const k of missing) mine[k] = pool.take();
    if (Object.keys(mine).length) out[id] = mine;
    else delete out[id];
  }
  if (!out) {
    allocated.add(state);
    return state;
  }
  const s = { ...clone(state), nexthops: out };
  pool.record = out;
  allocated.add(s);
  return s;
}

/**
 * The ids in use in a nexthop record (and the kernel's foreign ones), with the lowest free one,
 * kept for the newest record only: a job's allocation continues from its predecessor's instead of
 * rebuilding the set of 10k ids, and freed ids are reused first (a SID change stays a replace).
 */
class NexthopIds {
  record: DesiredState['nexthops'];
  private low = NEXTHOP_ID_BASE;

  constructor(
    record: DesiredState['nexthops'],
    readonly taken: Set<number>,
    private readonly used = new Set([...taken, ...Object.values(record).flatMap((r) => Object.values(r))]),
  ) {
    this.record = record;
  }

  free(id: number): void {
    if (this.taken.has(id)) return;
    this.used.delete(id);
    this.low = Math.min(this.low, id);
  }

  take(): number {
    while (this.used.has(this.low)) this.low++;
    this.used.add(this.low);
    return this.low;
  }
}

let lastIds: NexthopIds | undefined;

function idsInUse(record: DesiredState['nexthops'], taken: Set<number>): NexthopIds {
  if (lastIds?.record !== record || lastIds.taken !== taken) lastIds = new NexthopIds(record, taken);
  return lastIds;
}

/** States whose nexthops are all allocated (states are never mutated): a no-op reconcile of 50k routes skips the walk. */
const allocated = new WeakSet<DesiredState>();
