// Bad arguments are rejected before anything reaches the kernel, naming the field.
import { InvalidArgumentError } from './errors';
import { linkCreateRequest, linkChangeRequest, linkGetRequest } from './link';
import './link-veth';
import './link-vrf';
import { nexthopAddRequest } from './nexthop';
import { Sysctl } from './sysctl';
import { routeAddRequest } from './route';
import { ruleAddRequest } from './rule';
import { addressAddRequest } from './address';

const sids = (n: number) => Array.from({ length: n }, (_, i) => `fc00::${(i + 1).toString(16)}`);

describe('argument validation', () => {
  const cases: [string, () => unknown, string][] = [
    ['bad prefix', () => routeAddRequest({ dst: '10.0.0.300/24' }), 'dst'],
    ['host bits', () => routeAddRequest({ dst: '10.0.0.1/24' }), 'dst'],
    ['IPv4 gateway on IPv6 multipath', () => routeAddRequest({ dst: 'fd00::/64', multipath: [{ gateway: '10.0.0.1' }] }), 'multipath[0].gateway'],
    ['seg6local on IPv4', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6local', action: 'End' } }), 'encap'],
    ['inline on IPv4', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6', mode: 'inline', segments: ['fc00::1'] } }), 'encap.mode'],
    ['empty SID list', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6', mode: 'encap', segments: [] } }), 'encap.segments'],
    ['oversized SID list', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6', mode: 'encap', segments: sids(128) } }), 'encap.segments'],
    [
      'oversized inline SID list (slot 0 reserved)',
      () => routeAddRequest({ dst: 'fd00::/64', encap: { type: 'seg6', mode: 'inline', segments: sids(127) } }),
      'encap.segments',
    ],
    ['IPv4 SID', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6', mode: 'encap', segments: ['10.0.0.1'] } }), 'encap.segments[0]'],
    ['unknown mode', () => routeAddRequest({ dst: '10.0.0.0/24', encap: { type: 'seg6', mode: 'bogus' as any, segments: ['fc00::1'] } }), 'encap.mode'],
    ['table 0', () => routeAddRequest({ dst: '10.0.0.0/24', table: 0 }), 'table'],
    ['table 2^32', () => routeAddRequest({ dst: '10.0.0.0/24', table: 2 ** 32 }), 'table'],
    ['table local', () => routeAddRequest({ dst: '10.0.0.0/24', table: 255 }), 'table'],
    ['fractional table', () => routeAddRequest({ dst: '10.0.0.0/24', table: 1.5 }), 'table'],
    ['nhid plus gateway', () => routeAddRequest({ dst: '10.0.0.0/24', nhid: 1, gateway: '10.0.0.1' }), 'nhid'],
    ['unknown metric', () => routeAddRequest({ dst: '10.0.0.0/24', metrics: { bogus: 1 } as any }), 'metrics.bogus'],
    ['End.DX4 without nh4', () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.DX4' } }), 'encap'],
    ['End.DX4 with an IPv6 nh4', () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.DX4', nh4: 'fc00::2' } }), 'encap.nh4'],
    [
      'End.DT4 with a legacy table (ignored by the kernel)',
      () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.DT4', table: 10 } }),
      'encap',
    ],
    [
      'End.DT6 with both table and vrftable',
      () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.DT6', table: 10, vrftable: 10 } }),
      'encap',
    ],
    ['End with an nh6 it would ignore', () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End', nh6: 'fc00::2' } }), 'encap'],
    ['unknown action', () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.AM' as any } }), 'encap.action'],
    ['End.B6 with empty SRH', () => routeAddRequest({ dst: 'fc00::1/128', encap: { type: 'seg6local', action: 'End.B6', srh: [] } }), 'encap.srh'],
    ['16-byte interface name', () => linkCreateRequest({ name: 'a-very-long-name', kind: 'veth', peer: { name: 'p' } }), 'name'],
    ['veth peer name too long', () => linkCreateRequest({ name: 'v0', kind: 'veth', peer: { name: 'peer-name-too-long' } }), 'peer.name'],
    ['slash in name', () => linkCreateRequest({ name: 'a/b', kind: 'veth', peer: { name: 'p' } }), 'name'],
    ['NUL in a name (the kernel would read "ul0")', () => linkGetRequest('ul0\0x'), 'name'],
    ['a control character in a name', () => linkCreateRequest({ name: 'v\x1b0', kind: 'veth', peer: { name: 'p' } }), 'name'],
    ["NUL in a sysctl key (C would read ul0's setting)", () => new Sysctl().get(['net', 'ipv6', 'conf', 'ul0\0x', 'seg6_enabled']), 'sysctl'],
    ['VRF without a table', () => linkCreateRequest({ name: 'vrf-x', kind: 'vrf' }), 'table'],
    ['MTU out of range', () => linkChangeRequest('v0', { mtu: 20 }), 'mtu'],
    ['nexthop with no kind', () => nexthopAddRequest({ id: 1 }), 'nexthop'],
    ['nexthop without family', () => nexthopAddRequest({ id: 1, oif: 2 }), 'family'],
    ['nexthop id 0', () => nexthopAddRequest({ id: 0, blackhole: true }), 'id'],
    ['group weight 0', () => nexthopAddRequest({ id: 3, group: [{ id: 1, weight: 0 }] }), 'group[0].weight'],
    ['rule without table', () => ruleAddRequest({ family: 4, iif: 'v0' }), 'table'],
    ['rule with long iif', () => ruleAddRequest({ family: 4, iif: 'x'.repeat(16), table: 10 }), 'iif'],
    ['address on ifindex 0', () => addressAddRequest({ index: 0, address: '10.0.0.1/24' }), 'index'],
  ];

  it.each(cases)('%s', (_name, fn, field) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).field).toBe(field);
  });

  it('accepts the largest SID lists and table ids', () => {
    expect(() => routeAddRequest({ dst: '10.0.0.0/24', table: 2 ** 32 - 1, encap: { type: 'seg6', mode: 'encap', segments: sids(127) } })).not.toThrow();
    expect(() => linkCreateRequest({ name: 'abcdefghijklmno', kind: 'veth', peer: { name: 'p' } })).not.toThrow();
  });

  it("lets a rule look up the local table (routes in it stay the kernel's)", () => {
    expect(() => ruleAddRequest({ family: 6, priority: 1001, table: 255 })).not.toThrow();
  });
});
