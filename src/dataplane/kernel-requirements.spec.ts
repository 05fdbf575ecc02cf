import { FEATURES, Feature, FeatureStatus, srv6Role } from '../capabilities/capabilities.model';
import { CapabilityMissingError } from '../common/errors';
import type { TenantState } from './desired-state';
import { requireTenantFeatures, tenantFeatures } from './kernel-requirements';

const tenant = (o: Partial<TenantState> = {}): TenantState => ({
  id: 'alpha',
  table: 10000,
  behaviour: 'End.DT6',
  sid: 'fc00:0:1:1::',
  interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }],
  routes: {},
  xdpOffload: false,
  ...o,
});
const route = (mode: 'encap' | 'encap.red') => ({ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'], mode });
const report = (missing: Feature[]): Record<Feature, FeatureStatus> =>
  Object.fromEntries(
    FEATURES.map((f) => [f, missing.includes(f) ? { supported: false, reason: 'EOPNOTSUPP: lwt encapsulation type not supported' } : { supported: true }]),
  ) as Record<Feature, FeatureStatus>;

describe('tenantFeatures', () => {
  it('End.DT6 in table mode: the legacy table lookup (counters are used only where the kernel has them); remote routes add seg6 nexthops per mode', () => {
    expect(tenantFeatures(tenant(), 'table').sort()).toEqual(['seg6local.End.DT6']);
    expect(tenantFeatures(tenant({ routes: { a: route('encap'), b: route('encap.red') } }), 'table').sort()).toEqual([
      'nexthop.seg6',
      'seg6.encap',
      'seg6.encap.red',
      'seg6local.End.DT6',
    ]);
  });

  it('VRF mode: the VRF and the vrftable behaviour', () => {
    expect(tenantFeatures(tenant(), 'vrf').sort()).toEqual(['seg6local.End.DT6.vrftable', 'vrf']);
    expect(tenantFeatures(tenant({ behaviour: 'End.DT46' }), 'vrf').sort()).toEqual(['seg6local.End.DT46', 'vrf']);
  });

  it('table-mode End.DT4/DT46 (XDP decapsulates): any seg6local for the SID route; End.DX4 its own action', () => {
    expect(tenantFeatures(tenant({ behaviour: 'End.DT46', xdpOffload: true }), 'table').sort()).toEqual(['seg6local.End']);
    expect(tenantFeatures(tenant({ behaviour: 'End.DX4', dx: { nexthop: '10.0.0.2', interface: 'ta0' } }), 'table').sort()).toEqual(['seg6local.End.DX4']);
  });
});

describe('requireTenantFeatures', () => {
  it('names every missing feature, in one error', () => {
    const t = tenant({ routes: { a: route('encap') } });
    let err: unknown;
    try {
      requireTenantFeatures(t, 'table', report(['nexthop.seg6', 'seg6.encap', 'seg6local.End.DT6']));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CapabilityMissingError);
    expect((err as CapabilityMissingError).features.sort()).toEqual(['nexthop.seg6', 'seg6.encap', 'seg6local.End.DT6']);
    expect((err as CapabilityMissingError).message).toMatch(
      /^kernel features .* are not available \(tenant alpha: EOPNOTSUPP: lwt encapsulation type not supported\); alternative: a kernel with CONFIG_IPV6_SEG6_LWTUNNEL/,
    );
  });

  it('a kernel without seg6local counters carries tenants all the same (their SID routes then count nothing)', () => {
    expect(() => requireTenantFeatures(tenant({ routes: { a: route('encap') } }), 'table', report(['seg6local.counters']))).not.toThrow();
  });

  it('passes when the report shows every feature working, and checks only what a partial report names', () => {
    expect(() => requireTenantFeatures(tenant({ routes: { a: route('encap.red') } }), 'table', report([]))).not.toThrow();
    expect(() => requireTenantFeatures(tenant(), 'table', { 'bpf.fib_lookup_tbid': { supported: false } })).not.toThrow();
    expect(() => requireTenantFeatures(tenant({ routes: { a: route('encap.red') } }), 'table', report(['seg6.encap']))).not.toThrow();
    expect(() => requireTenantFeatures(tenant({ routes: { a: route('encap.red') } }), 'table', report(['seg6.encap.red']))).toThrow(CapabilityMissingError);
  });
});

describe('srv6Role', () => {
  it('says in one line what the host can do as an SRv6 node', () => {
    const none = report(FEATURES.filter((f) => f.startsWith('seg6') || f === 'nexthop.seg6' || f === 'vrf'));
    expect(srv6Role({ mode: 'table', features: none })).toBe(
      'table mode, NOT an SRv6 node: tenant jobs are refused, node jobs work: H.Encaps NO (no seg6 nexthops); decapsulation NONE (no seg6local); XDP offload native',
    );
    expect(srv6Role({ mode: 'vrf', features: report([]) })).toBe(
      'vrf mode, an SRv6 node: H.Encaps yes (encap, encap.red); decapsulation End.DT4, End.DT6, End.DT46, End.DX4, End.DX6; XDP offload native',
    );
    expect(srv6Role({ mode: 'table', features: report(['vrf', 'seg6local.End.DT4', 'seg6local.End.DT46']) })).toBe(
      'table mode, an SRv6 node: H.Encaps yes (encap, encap.red); decapsulation End.DT4, End.DT6, End.DT46, End.DX4, End.DX6 (End.DT4/DT46 with xdpOffload only); XDP offload native',
    );
  });
});
