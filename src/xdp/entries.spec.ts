// Unit: the SID entries the reconciler derives from a desired state.
import { emptyState } from '../dataplane/desired-state';
import type { DesiredState, TenantState } from '../dataplane/desired-state';
import { xdpDesired } from './entries';

function tenant(t: Partial<TenantState> & Pick<TenantState, 'id' | 'behaviour' | 'sid'>): TenantState {
  return { table: 100, interfaces: [], routes: {}, xdpOffload: true, ...t };
}

function state(...tenants: TenantState[]): DesiredState {
  const s = emptyState();
  s.node = { underlay: ['eth1', 'eth2'], locator: 'fc00:0:2::/48', encapSource: 'fc00:0:2::1', underlayMtu: 9000 };
  for (const t of tenants) s.tenants[t.id] = t;
  return s;
}

const IFINDEX: Record<string, number> = { tapA1: 31, tapA2: 30, tapB: 40, tapX: 50 };
const lookup = (n: string) => IFINDEX[n];

describe('xdpDesired', () => {
  it('maps offloaded tenants to SID entries, the tenant interfaces as egress', () => {
    const s = state(
      tenant({
        id: 'a',
        behaviour: 'End.DT46',
        sid: 'fc00:0:2::a',
        table: 1001,
        interfaces: [
          { name: 'tapA1', gateways: [] },
          { name: 'tapA2', gateways: [] },
        ],
      }),
      tenant({ id: 'x', behaviour: 'End.DX4', sid: 'fc00:0:2::x', dx: { nexthop: '10.0.0.5', interface: 'tapX' }, interfaces: [] }),
      tenant({ id: 'b', behaviour: 'End.DT4', sid: 'fc00:0:2::b', interfaces: [{ name: 'tapB', gateways: [] }], xdpOffload: false }),
    );
    expect(xdpDesired(s, lookup)).toEqual({
      underlay: ['eth1', 'eth2'],
      entries: [
        { sid: 'fc00:0:2::a', action: 'End.DT46', table: 1001, egress: [30, 31] },
        { sid: 'fc00:0:2::x', action: 'End.DX4', nh4: '10.0.0.5', oif: 50, egress: [50] },
      ],
      skipped: [],
    });
  });

  it('End.DX6 next hop, and the main-table lookup when asked for', () => {
    const s = state(tenant({ id: 'x', behaviour: 'End.DX6', sid: 'fc00:0:2::x6', dx: { nexthop: 'fd00::5', interface: 'tapX' }, interfaces: [] }));
    expect(xdpDesired(s, lookup, { dxMainTable: true }).entries).toEqual([
      { sid: 'fc00:0:2::x6', action: 'End.DX6', nh6: 'fd00::5', oif: 50, egress: [50], dxMainTable: true },
    ]);
  });

  it('leaves out a tenant whose interfaces do not exist yet, and says so', () => {
    const s = state(
      tenant({
        id: 'a',
        behaviour: 'End.DT4',
        sid: 'fc00:0:2::a',
        interfaces: [
          { name: 'tapA1', gateways: [] },
          { name: 'tapGone', gateways: [] },
        ],
      }),
    );
    expect(xdpDesired(s, lookup)).toMatchObject({ entries: [], skipped: [{ tenant: 'a', reason: 'no interface tapGone' }] });
  });

  it('no node, no tenants: nothing to offload (the caller detaches)', () => {
    expect(xdpDesired(emptyState(), lookup)).toEqual({ underlay: [], entries: [], skipped: [] });
  });
});
