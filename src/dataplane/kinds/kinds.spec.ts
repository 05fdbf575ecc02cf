// The kinds table: every kind of operation has its descriptor, every action its phase, in the
// apply order the agent has always used; keys, descriptions and refusals as before the
// descriptors (golden.spec.ts holds the recorded plans, requests and reads).
import type { Link } from '../../netlink/link';
import { emptyState } from '../desired-state';
import { ForeignObjectError } from '../errors';
import { buildKernelObjects, DataplaneMode, DEFAULT_OWNERSHIP } from '../kernel-objects';
import { Observed, plan } from '../planner';
import { allocateNexthops, upsertNode, upsertTenant } from '../state-transitions';
import { countByKind, descriptorOf, Kind, KIND_LIST, KINDS, Op, PHASES, phaseOf } from './index';

/** At least one operation of every action of every kind (the type makes a new kind add its own). */
const SAMPLES: { [K in Kind]: Extract<Op, { kind: K }>[] } = {
  vrf: [
    { kind: 'vrf', action: 'create', name: 'vrf-a', table: 10000 },
    { kind: 'vrf', action: 'delete', name: 'vrf-b', table: 10001 },
  ],
  sysctl: [
    { kind: 'sysctl', action: 'set', path: ['net', 'ipv4', 'conf', 'ta0', 'rp_filter'], value: '0' },
    { kind: 'sysctl', action: 'restore', path: ['net', 'vrf', 'strict_mode'], value: '0' },
  ],
  link: [
    { kind: 'link', action: 'configure', link: { name: 'ta0', master: 'vrf-a', mtu: 1400 } },
    { kind: 'link', action: 'release', name: 'tb0', mtu: 1500 },
  ],
  address: [
    { kind: 'address', action: 'create', ifname: 'ta0', address: '10.0.0.1/24', noprefixroute: true },
    { kind: 'address', action: 'delete', ifname: 'ta0', address: 'fd00::1/64', noprefixroute: false },
  ],
  nexthop: [
    { kind: 'nexthop', action: 'create', nexthop: { id: 7, family: 6, oifName: 'ul0', encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1'] } } },
    { kind: 'nexthop', action: 'replace', nexthop: { id: 8, family: 6, oifName: 'ul0' } },
    { kind: 'nexthop', action: 'delete', id: 9 },
  ],
  route: [
    { kind: 'route', action: 'create', route: { family: 4, dst: '10.1.0.0/24', table: 10000, nhid: 7 } },
    { kind: 'route', action: 'replace', route: { family: 6, dst: 'fc00:0:1:1::/128', table: 254, oifName: 'ul0' } },
    { kind: 'route', action: 'create', route: { family: 6, dst: 'fc00::1/128', table: 10000, type: 'throw' } },
    { kind: 'route', action: 'replace', route: { family: 6, dst: 'fc00::2/128', table: 10000, type: 'throw' } },
    { kind: 'route', action: 'delete', route: { family: 6, dst: 'fc00::3/128', table: 10000, type: 'throw' } },
  ],
  rule: [
    { kind: 'rule', action: 'create', rule: { family: 4, priority: 1000, iif: 'ta0', table: 10000 } },
    { kind: 'rule', action: 'delete', rule: { family: 6, priority: 0, table: 255 } },
  ],
};
const ALL_SAMPLES: Op[] = Object.values(SAMPLES).flat();

function state(mode: DataplaneMode) {
  let s = upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
  const routes = [
    { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
    { prefix: 'fd01::/64', sids: ['fc00:0:2:1::', 'fc00:0:3::'], mode: 'encap.red' as const },
  ];
  s = upsertTenant(
    s,
    {
      id: 'a',
      behaviour: 'End.DX4',
      dx: { nexthop: '10.0.0.2', interface: 'ta0' },
      interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] }],
      routes,
    },
    mode,
  );
  s = upsertTenant(
    s,
    { id: 'b', behaviour: 'End.DT6', interfaces: [{ name: 'tb0', gateways: ['10.0.1.1/24'] }], routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:2::'] }] },
    mode,
  );
  return allocateNexthops(s, new Set());
}

const link = (index: number, name: string, extra: Partial<Link> = {}): Link => ({
  index,
  name,
  mtu: 1500,
  up: true,
  lowerUp: true,
  flags: 1,
  operstate: 'up',
  ...extra,
});

describe('kinds', () => {
  it('every kind of operation has its descriptor, under its own name, in the order the planner diffs and /v1/state counts', () => {
    expect(Object.keys(KINDS)).toEqual(['vrf', 'link', 'address', 'nexthop', 'route', 'rule', 'sysctl']);
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(KINDS).sort());
    for (const [name, d] of Object.entries(KINDS)) expect(d.kind).toBe(name);
    expect(KIND_LIST.map((k) => k.kind)).toEqual(Object.keys(KINDS));
    for (const op of ALL_SAMPLES) expect(descriptorOf(op).kind).toBe(op.kind);
    expect(Object.keys(countByKind(buildKernelObjects(state('vrf'), 'vrf', DEFAULT_OWNERSHIP)))).toEqual([
      'vrf',
      'link',
      'address',
      'nexthop',
      'route',
      'rule',
      'sysctl',
    ]);
  });

  it('PHASES: the apply order as always', () => {
    expect(PHASES).toEqual([
      ['vrf', ['create']],
      ['sysctl', ['set']],
      ['link', ['configure']],
      ['address', ['create']],
      ['nexthop', ['create', 'replace']],
      ['route', ['create', 'replace']],
      ['rule', ['create']],
      ['rule', ['delete']],
      ['route', ['delete']],
      ['nexthop', ['delete']],
      ['address', ['delete']],
      ['link', ['release']],
      ['vrf', ['delete']],
      ['sysctl', ['restore']],
    ]);
  });

  it('every action of every kind is in exactly one phase; a throw route is created just before the nexthops, deleted in its own phase', () => {
    for (const op of ALL_SAMPLES) expect(PHASES.filter(([k, actions]) => k === op.kind && (actions as readonly string[]).includes(op.action))).toHaveLength(1);
    const nexthops = PHASES.findIndex(([k]) => k === 'nexthop');
    const phases = SAMPLES.route.map(phaseOf);
    expect(phases).toEqual([
      nexthops + 1,
      nexthops + 1,
      nexthops - 0.5,
      nexthops - 0.5,
      PHASES.findIndex(([k, a]) => k === 'route' && (a as readonly string[]).includes('delete')),
    ]);
  });

  it('describes each operation as before (failures and logs are matched on these)', () => {
    expect(ALL_SAMPLES.map((op) => descriptorOf(op).describe(op))).toEqual([
      'vrf vrf-a',
      'vrf vrf-b',
      'sysctl net.ipv4.conf.ta0.rp_filter',
      'sysctl net.vrf.strict_mode',
      'link ta0',
      'link tb0',
      'address 10.0.0.1/24 on ta0',
      'address fd00::1/64 on ta0',
      'nexthop 7',
      'nexthop 8',
      'nexthop 9',
      'route 10.1.0.0/24 table 10000',
      'route fc00:0:1:1::/128 table 254',
      'route fc00::1/128 table 10000',
      'route fc00::2/128 table 10000',
      'route fc00::3/128 table 10000',
      'rule iif ta0 table 10000',
      'rule iif undefined table 255',
    ]);
  });

  it('sysctls are written directly; VRFs alone make the applier read the links again', () => {
    expect(KIND_LIST.filter((k) => k.execute.via === 'direct').map((k) => k.kind)).toEqual(['sysctl']);
    expect(KIND_LIST.filter((k) => k.execute.via === 'netlink' && k.execute.refreshLinks).map((k) => k.kind)).toEqual(['vrf']);
    expect(KIND_LIST.filter((k) => k.observe.via === 'links').map((k) => k.kind)).toEqual(['vrf', 'link']);
  });

  it.each(['table', 'vrf'] as const)('%s mode: each kind keys its objects with its own key', (mode) => {
    const o = buildKernelObjects(state(mode), mode, DEFAULT_OWNERSHIP);
    for (const kind of KIND_LIST) {
      const m: Map<unknown, unknown> = o[kind.objects];
      if (mode === 'vrf' || kind.kind !== 'vrf') expect(m.size).toBeGreaterThan(0);
      for (const [key, w] of m) expect(kind.key(w)).toBe(key);
    }
  });

  it("a foreign link with a VRF's name is refused before a missing interface is looked at (vrf diffs first)", () => {
    const d = buildKernelObjects(state('vrf'), 'vrf', DEFAULT_OWNERSHIP);
    const links = new Map([link(2, 'ul0'), link(9, 'vrf-a', { kind: 'veth' })].map((l) => [l.name, l]));
    const observed: Observed = { links, addresses: new Map(), nexthops: new Map(), routes: new Map(), rules: new Map(), sysctls: new Map() };
    expect(() => plan(d, observed, { ownedVrfs: new Set(), configured: new Map(), originalSysctls: new Map() })).toThrow(ForeignObjectError);
  });

  it('the kept reads each operation invalidates (ADR 0012)', () => {
    expect(ALL_SAMPLES.map((op) => `${op.kind} ${op.action}: ${descriptorOf(op).invalidates(op).join(' ')}`)).toEqual([
      'vrf create: rules main',
      'vrf delete: rules main',
      'sysctl set: ',
      'sysctl restore: ',
      'link configure: rules main',
      'link release: rules main',
      'address create: main',
      'address delete: main',
      'nexthop create: ',
      'nexthop replace: ',
      'nexthop delete: main',
      'route create: ',
      'route replace: main',
      'route create: ',
      'route replace: ',
      'route delete: ',
      'rule create: rules',
      'rule delete: rules',
    ]);
  });
});
