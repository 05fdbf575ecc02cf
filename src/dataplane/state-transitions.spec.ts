import { CapabilityMissingError } from '../common/errors';
import { InvalidArgumentError } from '../netlink/errors';
import { emptyState, nexthopId, stateJson, upgradeState } from './desired-state';
import { allocateNexthops, changeRoutes, deleteTenant, NEXTHOP_ID_BASE, upsertNode, upsertTenant, UnknownTenantError } from './state-transitions';
import type { TenantSpecDto } from './spec.dto';

const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const t = (id: string, extra: Partial<TenantSpecDto> = {}): TenantSpecDto => ({
  id,
  behaviour: 'End.DT6',
  interfaces: [{ name: `t-${id}`, gateways: ['10.0.0.1/24'] }],
  routes: [],
  ...extra,
});
const base = () => upsertNode(emptyState(), node);

describe('state transitions', () => {
  it('allocates tables and SIDs, stable across unrelated changes, and canonicalises', () => {
    let s = upsertTenant(base(), t('a', { routes: [{ prefix: 'FD00:0:0::/64', sids: ['FC00:0:2:0::1'] }] }), 'table');
    s = upsertTenant(s, t('b'), 'table');
    expect([s.tenants.a.table, s.tenants.b.table]).toEqual([10000, 10001]);
    expect([s.tenants.a.sid, s.tenants.b.sid]).toEqual(['fc00:0:1:1::', 'fc00:0:1:2::']);
    expect(Object.keys(s.tenants.a.routes)).toEqual(['fd00::/64']);
    expect(s.tenants.a.routes['fd00::/64'].sids).toEqual(['fc00:0:2::1']);
    s = deleteTenant(s, 'a');
    s = upsertTenant(s, t('b', { routes: [] }), 'table');
    expect([s.tenants.b.table, s.tenants.b.sid]).toEqual([10001, 'fc00:0:1:2::']);
    s = upsertTenant(s, t('c'), 'table');
    expect([s.tenants.c.table, s.tenants.c.sid]).toEqual([10000, 'fc00:0:1:1::']);
  });

  it("refuses to change an existing tenant's table in VRF mode (its VRF cannot be re-made in place), allows it in table mode", () => {
    const s = upsertTenant(base(), t('a', { table: 100 }), 'vrf');
    expect(() => upsertTenant(s, t('a', { table: 200 }), 'vrf')).toThrow(
      expect.objectContaining({ field: 'table', message: expect.stringContaining('cannot change') }),
    );
    expect(upsertTenant(s, t('a', { table: 100, routes: [] }), 'vrf').tenants.a.table).toBe(100);
    expect(upsertTenant(upsertTenant(base(), t('a', { table: 100 }), 'table'), t('a', { table: 200 }), 'table').tenants.a.table).toBe(200);
  });

  it('leaves its input untouched and bumps the version', () => {
    const s0 = base();
    const copy = JSON.stringify(s0);
    const s1 = upsertTenant(s0, t('a'), 'table');
    expect(JSON.stringify(s0)).toBe(copy);
    expect(s1.version).toBe(s0.version + 1);
  });

  const bad: [string, () => unknown, string][] = [
    ['tenant before node', () => upsertTenant(emptyState(), t('a'), 'table'), 'node'],
    ['DX without target', () => upsertTenant(base(), t('a', { behaviour: 'End.DX4' }), 'table'), 'dx'],
    ['DT with a DX target', () => upsertTenant(base(), t('a', { dx: { nexthop: '10.0.0.2', interface: 't-a' } }), 'table'), 'dx'],
    ['DX4 to an IPv6 VM', () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: 'fd00::2', interface: 't-a' } }), 'table'), 'dx.nexthop'],
    [
      'DX through a foreign interface',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: '10.0.0.2', interface: 'eth9' } }), 'table'),
      'dx.interface',
    ],
    [
      'an underlay interface as tenant interface',
      () => upsertTenant(base(), t('a', { interfaces: [{ name: 'ul0', gateways: [] }] }), 'table'),
      'interfaces[0].name',
    ],
    [
      'an interface of another tenant',
      () => upsertTenant(upsertTenant(base(), t('a'), 'table'), t('b', { interfaces: [{ name: 't-a', gateways: [] }] }), 'table'),
      'interfaces[0].name',
    ],
    ['a table of another tenant', () => upsertTenant(upsertTenant(base(), t('a', { table: 500 }), 'table'), t('b', { table: 500 }), 'table'), 'table'],
    ['the main table', () => upsertTenant(base(), t('a', { table: 254 }), 'table'), 'table'],
    [
      'a SID of another tenant',
      () => upsertTenant(upsertTenant(base(), t('a', { sid: 'fc00:0:1:9::' }), 'table'), t('b', { sid: 'fc00:0:1:9::' }), 'table'),
      'sid',
    ],
    ['the SID allocated to another tenant', () => upsertTenant(upsertTenant(base(), t('a'), 'table'), t('b', { sid: 'fc00:0:1:1::' }), 'table'), 'sid'],
    [
      'a prefix twice',
      () =>
        upsertTenant(
          base(),
          t('a', {
            routes: [
              { prefix: '10.1.0.0/24', sids: ['fc00::1'] },
              { prefix: '10.1.0.0/24', sids: ['fc00::2'] },
            ],
          }),
          'table',
        ),
      'routes[1].prefix',
    ],
    ['a locator too long for SIDs', () => upsertNode(emptyState(), { ...node, locator: 'fc00::/120' }), 'locator'],
    // inputs that would reach beyond the tenant (issue 15, defect 5)
    ['the loopback as a tenant interface', () => upsertTenant(base(), t('a', { interfaces: [{ name: 'lo', gateways: [] }] }), 'table'), 'interfaces[0].name'],
    ['a SID outside the locator (its route in main could shadow the HV’s)', () => upsertTenant(base(), t('a', { sid: 'fc00:0:2:1::' }), 'table'), 'sid'],
    ['a SID that is another prefix’s address', () => upsertTenant(base(), t('a', { sid: '2001:db8::1' }), 'table'), 'sid'],
    [
      'a cross-connect next hop outside the interface’s subnets',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: '192.168.1.1', interface: 't-a' } }), 'table'),
      'dx.nexthop',
    ],
    [
      'a cross-connect next hop that is the gateway itself',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: '10.0.0.1', interface: 't-a' } }), 'table'),
      'dx.nexthop',
    ],
    [
      'a cross-connect next hop that is the subnet’s network address',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: '10.0.0.0', interface: 't-a' } }), 'table'),
      'dx.nexthop',
    ],
    [
      'a cross-connect next hop that is the subnet’s broadcast address',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX4', dx: { nexthop: '10.0.0.255', interface: 't-a' } }), 'table'),
      'dx.nexthop',
    ],
    [
      'an IPv6 cross-connect to the subnet-router anycast address',
      () =>
        upsertTenant(
          base(),
          t('a', { behaviour: 'End.DX6', interfaces: [{ name: 't-a', gateways: ['fd00:c::1/64'] }], dx: { nexthop: 'fd00:c::', interface: 't-a' } }),
          'table',
        ),
      'dx.nexthop',
    ],
    [
      'in VRF mode, a VM interface named like the agent’s VRF devices',
      () => upsertTenant(base(), t('a', { interfaces: [{ name: 'vrf-b', gateways: [] }] }), 'vrf'),
      'interfaces[0].name',
    ],
    [
      'an IPv6 cross-connect on an interface with IPv4 gateways only',
      () => upsertTenant(base(), t('a', { behaviour: 'End.DX6', dx: { nexthop: 'fd00::2', interface: 't-a' } }), 'table'),
      'dx.nexthop',
    ],
    [
      'a remote route equal to the tenant’s own subnet',
      () => upsertTenant(base(), t('a', { routes: [{ prefix: '10.0.0.0/24', sids: ['fc00:0:2:1::'] }] }), 'table'),
      'routes[0].prefix',
    ],
    // MTU: underlay 1500 minus 40 + 8 + 16 x 11 SIDs = 1276 < 1280 (issue 15, defect 6)
    [
      'a route whose SRH takes the tenant below the IPv6 minimum MTU',
      () => upsertTenant(base(), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: Array.from({ length: 11 }, (_, i) => `fc00:0:2:${i + 1}::`) }] }), 'table'),
      'routes',
    ],
    [
      'adding such a route',
      () =>
        changeRoutes(upsertTenant(base(), t('a'), 'table'), 'a', {
          add: [{ prefix: '10.1.0.0/24', sids: Array.from({ length: 14 }, (_, i) => `fc00:0:2:${i + 1}::`) }],
        }),
      'add',
    ],
    [
      'a smaller underlay MTU that takes a tenant below it',
      () => upsertNode(upsertTenant(base(), t('a'), 'table'), { ...node, underlayMtu: 1343 }),
      'underlayMtu',
    ],
    [
      'adding a remote route equal to the tenant’s own subnet',
      () => changeRoutes(upsertTenant(base(), t('a'), 'table'), 'a', { add: [{ prefix: '10.0.0.0/24', sids: ['fc00:0:2:1::'] }] }),
      'add[0].prefix',
    ],
  ];
  it.each(bad)('rejects %s, naming the field', (_n, fn, field) => {
    let err: any;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.field).toBe(field);
  });

  it('in table mode, End.DT4 is a missing capability with an alternative', () => {
    expect(() => upsertTenant(base(), t('a', { behaviour: 'End.DT4' }), 'table')).toThrow(CapabilityMissingError);
    expect(() => upsertTenant(base(), t('a', { behaviour: 'End.DT4' }), 'table')).toThrow(/xdpOffload: true/);
    expect(() => upsertTenant(base(), t('a', { behaviour: 'End.DT4' }), 'vrf')).not.toThrow();
  });

  it.each(['End.DT4', 'End.DT46'] as const)('in table mode, %s with the XDP offload is allowed; turning the offload off is refused', (behaviour) => {
    const s = upsertTenant(base(), t('a', { behaviour, xdpOffload: true }), 'table');
    expect(s.tenants.a).toMatchObject({ behaviour, xdpOffload: true });
    let err: unknown;
    try {
      upsertTenant(s, t('a', { behaviour, xdpOffload: false }), 'table');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CapabilityMissingError);
    expect((err as CapabilityMissingError).feature).toBe(`seg6local.${behaviour}`);
    // The refused job left the state as it was: still offloaded.
    expect(s.tenants.a.xdpOffload).toBe(true);
    expect(() => upsertTenant(s, t('a', { behaviour: 'End.DT6', xdpOffload: false }), 'table')).not.toThrow();
  });

  it('the largest SID lists and underlay MTUs that keep IPv6 on the tenant interfaces are accepted', () => {
    const sids = (n: number) => Array.from({ length: n }, (_, i) => `fc00:0:2:${i + 1}::`);
    expect(() => upsertTenant(base(), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: sids(10) }] }), 'table')).not.toThrow(); // 1500 - 208 = 1292
    expect(() => upsertTenant(base(), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: sids(11), mode: 'encap.red' }] }), 'table')).not.toThrow(); // reduced: 1500 - 208
    expect(() =>
      upsertTenant(upsertNode(emptyState(), { ...node, underlayMtu: 9000 }), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: sids(16) }] }), 'table'),
    ).not.toThrow();
    expect(upsertNode(upsertTenant(base(), t('a'), 'table'), { ...node, underlayMtu: 1344 }).node?.underlayMtu).toBe(1344); // 1344 - 64 = 1280
  });

  it('routes jobs for unknown tenants are their own error', () => {
    expect(() => changeRoutes(base(), 'x', { add: [] })).toThrow(UnknownTenantError);
    expect(() => changeRoutes(base(), 'x', { remove: ['10.1.0.0/24'] })).toThrow(UnknownTenantError);
  });

  it('every job applied twice ends as applied once: a repeated delete or route removal changes nothing', () => {
    const s1 = changeRoutes(upsertTenant(base(), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }] }), 'table'), 'a', {
      add: [{ prefix: '10.2.0.0/24', sids: ['fc00:0:2:1::'] }],
    });
    const removed = changeRoutes(s1, 'a', { remove: ['10.1.0.0/24'] });
    const again = changeRoutes(removed, 'a', { remove: ['10.1.0.0/24'] });
    expect(again.tenants.a).toEqual(removed.tenants.a);
    const deleted = deleteTenant(removed, 'a');
    expect(deleteTenant(deleted, 'a')).toBe(deleted);
    expect(deleteTenant(base(), 'x')).toEqual(base());
    // and the others, as before: the same state again
    expect(
      upsertTenant(
        s1,
        t('a', {
          routes: [
            { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
            { prefix: '10.2.0.0/24', sids: ['fc00:0:2:1::'] },
          ],
        }),
        'table',
      ).tenants.a,
    ).toEqual(s1.tenants.a);
    expect(upsertNode(s1, node).node).toEqual(s1.node);
  });

  it('allocates one nexthop per (tenant, mode, SID list), avoids foreign ids, keeps ids', () => {
    let s = upsertTenant(
      base(),
      t('a', {
        routes: [
          { prefix: '10.1.0.0/24', sids: ['fc00::1'] },
          { prefix: '10.2.0.0/24', sids: ['fc00::1'] },
          { prefix: '10.3.0.0/24', sids: ['fc00::1'], mode: 'encap.red' },
        ],
      }),
      'table',
    );
    s = allocateNexthops(s, new Set([NEXTHOP_ID_BASE]));
    expect(Object.values(s.nexthops.a).sort()).toEqual([NEXTHOP_ID_BASE + 1, NEXTHOP_ID_BASE + 2]);
    const kept = nexthopId(s, 'a', 'encap', ['fc00::1']);
    s = changeRoutes(s, 'a', { remove: ['10.3.0.0/24'], add: [{ prefix: '10.4.0.0/24', sids: ['fc00::2'] }] });
    s = allocateNexthops(s, new Set([NEXTHOP_ID_BASE]));
    expect(nexthopId(s, 'a', 'encap', ['fc00::1'])).toBe(kept);
    expect(Object.keys(s.nexthops.a)).toHaveLength(2);
    expect(allocateNexthops(s, new Set())).toBe(s); // nothing to do: same object
  });

  it('allocates from a base state by looking at the changed tenants only, with the same outcome as a full walk', () => {
    let s = base();
    for (const id of ['a', 'b', 'c'])
      s = upsertTenant(
        s,
        t(id, {
          routes: [
            { prefix: '10.1.0.0/24', sids: [`fc00::${id}1`] },
            { prefix: '10.2.0.0/24', sids: ['fc00::9'] },
          ],
        }),
        'table',
      );
    const s0 = allocateNexthops(s, new Set());
    const s1 = changeRoutes(s0, 'b', { set: [{ prefix: '10.3.0.0/24', sids: ['fc00::b2'] }] });
    const inc = allocateNexthops(s1, new Set(), s0);
    const full = allocateNexthops({ ...s1 }, new Set());
    expect(Object.keys(inc.nexthops.b).sort()).toEqual(Object.keys(full.nexthops.b).sort());
    const all = Object.values(inc.nexthops).flatMap((r) => Object.values(r));
    expect(new Set(all).size).toBe(all.length); // ids distinct
    expect(inc.nexthops.a).toBe(s0.nexthops.a); // unchanged tenants keep their record (shared)
    expect(inc.nexthops.c).toBe(s0.nexthops.c);
    expect(nexthopId(inc, 'b', 'encap', ['fc00::b1'])).toBeUndefined();
    expect(nexthopId(inc, 'b', 'encap', ['fc00::b2'])).toBe(nexthopId(s0, 'b', 'encap', ['fc00::b1'])); // the freed id, reused
    // a state that no longer shares the base's nexthop ids gets the full walk (a stray tenant's ids go)
    const detached = { ...s1, nexthops: { ...s1.nexthops, zz: { 'encap|fc00::1': 5 } } };
    expect(Object.keys(allocateNexthops(detached, new Set(), s0).nexthops)).not.toContain('zz');
  });

  it('reads nexthop ids of the flat form earlier agents wrote, nested by tenant', () => {
    const flat = { ...emptyState(), nexthops: { 'a|encap|fc00::1': 7, 'a|encap.red|fc00::2,fc00::3': 8, 'b-1|encap|fc00::1': 9 } } as never;
    expect(upgradeState(flat).nexthops).toEqual({ a: { 'encap|fc00::1': 7, 'encap.red|fc00::2,fc00::3': 8 }, 'b-1': { 'encap|fc00::1': 9 } });
    const nested = upgradeState(flat);
    expect(upgradeState(nested)).toBe(nested);
  });

  it('stateJson is JSON.stringify, with tenant texts remembered', () => {
    let s = upsertTenant(base(), t('a', { routes: [{ prefix: '10.1.0.0/24', sids: ['fc00::1'] }], description: 'quote " and \\ and ünï' } as never), 'table');
    s = allocateNexthops(upsertTenant(s, t('b'), 'table'), new Set());
    expect(stateJson(s)).toBe(JSON.stringify(s));
    const s2 = changeRoutes(s, 'a', { add: [{ prefix: '10.9.0.0/24', sids: ['fc00::2'] }] });
    expect(stateJson(s2)).toBe(JSON.stringify(s2));
    expect(JSON.parse(stateJson({ ...s2, node: undefined }))).toEqual(JSON.parse(JSON.stringify({ ...s2, node: undefined })));
  });
});
