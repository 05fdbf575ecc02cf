// Unit: the SID routes of offloaded End.DT4/DT46 tenants in table mode (the kernel has no End.DT4
// without a VRF; XDP decapsulates IPv4 and the route only catches what XDP passes).
import { emptyState } from './desired-state';
import { buildKernelObjects, DataplaneMode, DEFAULT_OWNERSHIP, routeKey } from './kernel-objects';
import { upsertNode, upsertTenant } from './state-transitions';
import type { TenantSpecDto } from './spec.dto';
import { withTableModeXdpDecap } from './table-mode-decap';

const node = { underlay: ['ul0', 'ul1'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const spec = (id: string, extra: Partial<TenantSpecDto>): TenantSpecDto => ({
  id,
  behaviour: 'End.DT6',
  interfaces: [{ name: `t-${id}`, gateways: ['10.0.0.1/24'] }],
  routes: [],
  ...extra,
});

function state(mode: DataplaneMode) {
  let s = upsertNode(emptyState(), node);
  s = upsertTenant(s, spec('dt4', { behaviour: 'End.DT4', xdpOffload: true, table: 100 }), mode);
  s = upsertTenant(s, spec('dt46', { behaviour: 'End.DT46', xdpOffload: true, table: 200 }), mode);
  s = upsertTenant(s, spec('dx4', { behaviour: 'End.DX4', xdpOffload: true, dx: { nexthop: '10.0.0.2', interface: 't-dx4' } }), mode);
  s = upsertTenant(s, spec('dt6', { behaviour: 'End.DT6', table: 300 }), mode);
  return s;
}

const sidRoute = (o: ReturnType<typeof buildKernelObjects>, sid: string) => o.routes.get(routeKey({ family: 6, table: 254, dst: `${sid}/128` }));

describe('withTableModeXdpDecap', () => {
  it('table mode: End.DT4 → blackhole, End.DT46 → End.DT6 into the tenant table, others untouched', () => {
    const s = state('table');
    const plain = buildKernelObjects(s, 'table', DEFAULT_OWNERSHIP);
    const o = withTableModeXdpDecap(buildKernelObjects(s, 'table', DEFAULT_OWNERSHIP), s, 'table', DEFAULT_OWNERSHIP);
    const P = DEFAULT_OWNERSHIP.protocol;
    expect(sidRoute(o, s.tenants.dt4.sid)).toEqual({ family: 6, dst: `${s.tenants.dt4.sid}/128`, table: 254, protocol: P, type: 'blackhole' });
    expect(sidRoute(o, s.tenants.dt46.sid)).toEqual({
      family: 6,
      dst: `${s.tenants.dt46.sid}/128`,
      table: 254,
      protocol: P,
      oifName: 'ul0',
      encap: { type: 'seg6local', action: 'End.DT6', table: 200, counters: true },
    });
    for (const id of ['dx4', 'dt6']) expect(sidRoute(o, s.tenants[id].sid)).toEqual(sidRoute(plain, s.tenants[id].sid));
    // Only SID routes change: the same set of objects otherwise.
    expect([...o.routes.keys()]).toEqual([...plain.routes.keys()]);
    expect(o.rules).toEqual(plain.rules);
  });

  it('VRF mode: nothing changes (the kernel has End.DT4/DT46 with vrftable)', () => {
    const s = state('vrf');
    const plain = buildKernelObjects(s, 'vrf', DEFAULT_OWNERSHIP);
    expect(withTableModeXdpDecap(buildKernelObjects(s, 'vrf', DEFAULT_OWNERSHIP), s, 'vrf', DEFAULT_OWNERSHIP)).toEqual(plain);
    expect(sidRoute(plain, s.tenants.dt4.sid)?.encap).toMatchObject({ action: 'End.DT4', vrftable: 100 });
  });

  it('no node: no objects, nothing to change', () => {
    const o = buildKernelObjects(emptyState(), 'table', DEFAULT_OWNERSHIP);
    expect(withTableModeXdpDecap(o, emptyState(), 'table', DEFAULT_OWNERSHIP).routes.size).toBe(0);
  });
});
