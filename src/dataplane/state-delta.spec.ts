import { emptyState, stateJson } from './desired-state';
import { applyDelta, diffState, isEmptyDelta } from './state-delta';
import { allocateNexthops, changeRoutes, deleteTenant, upsertNode, upsertTenant } from './state-transitions';

const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const tenant = (id: string, routes: { prefix: string; sids: string[] }[] = []) => ({
  id,
  behaviour: 'End.DT6' as const,
  interfaces: [{ name: `tap-${id}`, gateways: ['10.0.0.1/24'] }],
  routes,
});

describe('state deltas', () => {
  const s0 = allocateNexthops(
    upsertTenant(upsertTenant(upsertNode(emptyState(), node), tenant('a'), 'table'), tenant('b', [{ prefix: '10.1.0.0/24', sids: ['fc00::1'] }]), 'table'),
    new Set(),
  );

  it.each([
    ['a route added', () => allocateNexthops(changeRoutes(s0, 'a', { add: [{ prefix: '10.2.0.0/24', sids: ['fc00::2'] }] }), new Set())],
    ['a tenant deleted', () => allocateNexthops(deleteTenant(s0, 'b'), new Set())],
    ['the node changed', () => upsertNode(s0, { ...node, underlayMtu: 9000 })],
    ['bookkeeping', () => ({ ...s0, originalMtu: { 'tap-a': 1500 }, ownedVrfs: ['vrf-a'] })],
    ['the node gone', () => ({ ...s0, node: undefined })],
  ])('applying the difference gives the new state (%s), key order included', (_what, change) => {
    const s1 = change();
    const d = diffState(s0, s1);
    expect(isEmptyDelta(d)).toBe(false);
    const back = applyDelta(s0, d);
    expect(back).toEqual(JSON.parse(JSON.stringify(s1)));
    expect(stateJson(back)).toBe(stateJson(s1));
  });

  it('carries only the tenants that are other objects, and only the nexthop keys that changed', () => {
    const s1 = allocateNexthops(changeRoutes(s0, 'a', { add: [{ prefix: '10.2.0.0/24', sids: ['fc00::2'] }] }), new Set());
    const d = diffState(s0, s1);
    expect(Object.keys(d.keys.tenants)).toEqual(['a']);
    expect(d.keys.nexthops).toEqual({ a: s1.nexthops.a }); // the changed tenant's ids, whole
    expect(Object.keys(d.set)).toEqual(['version']);
  });

  it('carries only the saved sysctls that came or went', () => {
    const s1 = { ...s0, originalSysctl: { 'net/ipv6/conf/ul0/seg6_enabled': '0', 'net/ipv6/conf/ul2/seg6_enabled': '0' } };
    const s2 = { ...s1, originalSysctl: { 'net/ipv6/conf/ul2/seg6_enabled': '0' } };
    const d = diffState(s1, s2);
    expect(d).toEqual({ set: {}, keys: { originalSysctl: { 'net/ipv6/conf/ul0/seg6_enabled': null } } });
    expect(stateJson(applyDelta(s1, d))).toBe(stateJson(s2));
  });

  it('a copy with equal content is no change', () => {
    expect(isEmptyDelta(diffState(s0, { ...s0, node: { ...s0.node! }, ownedVrfs: [...s0.ownedVrfs] }))).toBe(true);
  });
});
