// Planner tables: (desired state, what the kernel holds) → the operations, in order.
import type { Link } from '../netlink/link';
import type { Route } from '../netlink/route';
import { DesiredState, emptyState } from './desired-state';
import { buildKernelObjects, DataplaneMode, DEFAULT_OWNERSHIP, isNodeRule, KernelObjects, ruleKey, withoutDevices } from './kernel-objects';
import { ForeignObjectError, MissingInterfaceError, Observed, Op, phaseOf, plan } from './planner';
import { allocateNexthops, upsertNode, upsertTenant } from './state-transitions';

const LINKS: Link[] = ['ul0', 'ta0', 'tb0', 'vrf-a', 'vrf-b'].map((name, i) => ({
  index: i + 2,
  name,
  mtu: 1500,
  up: true,
  lowerUp: true,
  flags: 1,
  operstate: 'up',
}));

function state(mode: DataplaneMode, withB = true): DesiredState {
  let s = upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
  s = upsertTenant(
    s,
    {
      id: 'a',
      behaviour: 'End.DT6',
      interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }],
      routes: [
        { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
        { prefix: '10.2.0.0/24', sids: ['fc00:0:2:1::'] },
      ],
    },
    mode,
  );
  if (withB)
    s = upsertTenant(
      s,
      { id: 'b', behaviour: 'End.DT6', interfaces: [{ name: 'tb0', gateways: ['10.0.0.1/24'] }], routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:2::'] }] },
      mode,
    );
  return allocateNexthops(s, new Set());
}

/** What a kernel that holds exactly `d` dumps. */
function observedFrom(d: KernelObjects, mode: DataplaneMode): Observed {
  const links = new Map(LINKS.map((l) => [l.name, { ...l }]));
  const ix = (n?: string) => (n ? links.get(n)!.index : undefined);
  for (const v of d.vrfs.values()) links.set(v.name, { ...links.get(v.name)!, kind: 'vrf', table: v.table });
  for (const l of d.links.values()) Object.assign(links.get(l.name)!, { mtu: l.mtu, master: l.master ? ix(l.master) : undefined });
  const routes = new Map<string, Route>();
  for (const [k, r] of d.routes) {
    const { oifName, encapOifName: _e, ...rest } = r;
    const encap = rest.encap?.type === 'seg6local' && rest.encap.counters ? { ...rest.encap, counters: { packets: 0n, bytes: 0n, errors: 0n } } : rest.encap;
    routes.set(k, { ...rest, encap, type: rest.type ?? 'unicast', oif: ix(oifName) } as Route);
  }
  return {
    links,
    addresses: new Map([...d.addresses].map(([k, a]) => [k, { index: ix(a.ifname)!, family: 4, address: a.address, scope: 0, flags: 0, ifname: a.ifname }])),
    nexthops: new Map([...d.nexthops].map(([id, n]) => [id, { ...n, oif: ix(n.oifName) }])),
    routes,
    rules: new Map(d.rules),
    sysctls: new Map([...d.sysctls].map(([k, s]) => [k, s.value])),
  } as Observed;
  void mode;
}

const summary = (ops: Op[]) => ops.map((o) => `${o.action} ${o.kind}`);
const ctx = (configured: string[] = [], originalSysctls: Record<string, string> = {}) => ({
  ownedVrfs: new Set<string>(),
  configured: new Map(configured.map((n) => [n, 1500] as [string, number])),
  originalSysctls: new Map(Object.entries(originalSysctls)),
});

describe('planner', () => {
  const own = DEFAULT_OWNERSHIP;

  it('from an empty kernel: creates everything, in dependency order', () => {
    const d = buildKernelObjects(state('table'), 'table', own);
    const empty: Observed = {
      links: new Map(LINKS.map((l) => [l.name, l])),
      addresses: new Map(),
      nexthops: new Map(),
      routes: new Map(),
      rules: new Map(),
      sysctls: new Map(),
    };
    const ops = plan(d, empty, ctx());
    const order = ops.map(phaseOf);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    // a remote SID's throw route exists before any nexthop encapsulates towards it
    const firstNexthop = ops.findIndex((o) => o.kind === 'nexthop');
    const throws = ops.flatMap((o, i) => (o.kind === 'route' && o.action === 'create' && o.route.type === 'throw' ? [i] : []));
    expect(throws.length).toBe(2);
    for (const i of throws) expect(i).toBeLessThan(firstNexthop);
    expect(new Set(summary(ops))).toEqual(new Set(['set sysctl', 'configure link', 'create address', 'create nexthop', 'create route', 'create rule']));
    // two tenants share no nexthop; tenant a's two routes share one
    expect(ops.filter((o) => o.kind === 'nexthop')).toHaveLength(2);
  });

  it.each(['table', 'vrf'] as const)('%s mode: a kernel that matches plans nothing', (mode) => {
    const d = buildKernelObjects(state(mode), mode, own);
    expect(plan(d, observedFrom(d, mode), { ...ctx(['ta0', 'tb0']), ownedVrfs: new Set(d.vrfs.keys()) })).toEqual([]);
  });

  it('a kernel without seg6local counters (SID routes dump without them): asked for none, plans nothing; asked for them, replaces every SID route', () => {
    const without = buildKernelObjects(state('table'), 'table', { ...own, counters: false });
    const sids = [...without.routes.values()].filter((r) => r.encap?.type === 'seg6local');
    expect(sids.map((r) => r.encap)).toEqual([
      expect.not.objectContaining({ counters: expect.anything() }),
      expect.not.objectContaining({ counters: expect.anything() }),
    ]);
    const kernel = observedFrom(without, 'table');
    expect(plan(without, kernel, ctx(['ta0', 'tb0']))).toEqual([]);
    expect(summary(plan(buildKernelObjects(state('table'), 'table', own), kernel, ctx(['ta0', 'tb0'])))).toEqual(['replace route', 'replace route']);
  });

  const cases: [string, (o: Observed, d: KernelObjects) => void, string[]][] = [
    [
      'an owned route the state no longer has',
      (o) => o.routes.set('4|10000|10.9.0.0/24|0', { dst: '10.9.0.0/24', family: 4, table: 10000, type: 'unicast', nhid: 1 }),
      ['delete route'],
    ],
    ['a deleted route (drift)', (o) => o.routes.delete([...o.routes.keys()].find((k) => k.includes('10.2.0.0/24'))!), ['create route']],
    ['a changed SID list', (o) => ([...o.nexthops.values()][0].encap = { type: 'seg6', mode: 'encap', segments: ['fc00::9'] }), ['replace nexthop']],
    [
      'a changed decap table',
      (o) => {
        const r = [...o.routes.values()].find((x) => x.encap?.type === 'seg6local')!;
        r.encap = { ...(r.encap as any), table: 1 };
      },
      ['replace route'],
    ],
    [
      'counters turned off behind our back',
      (o) => {
        const r = [...o.routes.values()].find((x) => x.encap?.type === 'seg6local')!;
        delete (r.encap as any).counters;
      },
      ['replace route'],
    ],
    ['a wrong MTU', (o) => (o.links.get('ta0')!.mtu = 9000), ['configure link']],
    ['a link set down', (o) => (o.links.get('tb0')!.up = false), ['configure link']],
    ['a sysctl reset', (o) => o.sysctls.set('net/ipv6/conf/ul0/seg6_enabled', '0'), ['set sysctl']],
    ['an extra owned nexthop', (o) => o.nexthops.set(99, { id: 99, family: 6, oif: 2 }), ['delete nexthop']],
    ['a missing gateway address', (o) => o.addresses.delete('ta0|10.0.0.1/24'), ['create address']],
  ];

  it.each(cases)('table mode, %s', (_n, mutate, expected) => {
    const d = buildKernelObjects(state('table'), 'table', own);
    const o = observedFrom(d, 'table');
    mutate(o, d);
    expect(summary(plan(d, o, ctx(['ta0', 'tb0'])))).toEqual(expected);
  });

  it('a removed tenant: deletes in reverse order and releases its interface', () => {
    const full = buildKernelObjects(state('vrf'), 'vrf', own);
    const o = observedFrom(full, 'vrf');
    const d = buildKernelObjects(state('vrf', false), 'vrf', own);
    const ops = summary(
      plan(d, o, {
        ...ctx(),
        ownedVrfs: new Set(['vrf-a', 'vrf-b']),
        configured: new Map([
          ['ta0', 1500],
          ['tb0', 1500],
        ]),
      }),
    );
    // connected route, two unreachable defaults, the remote route and its SID's throw route
    expect(ops).toEqual([
      'delete route',
      'delete route',
      'delete route',
      'delete route',
      'delete route',
      'delete nexthop',
      'delete address',
      'release link',
      'delete vrf',
    ]);
  });

  it('never deletes a VRF it does not own', () => {
    const d = buildKernelObjects(state('vrf', false), 'vrf', own);
    const o = observedFrom(d, 'vrf');
    o.links.set('vrf-x', { index: 50, name: 'vrf-x', kind: 'vrf', table: 77, mtu: 65575, up: true, lowerUp: true, flags: 1, operstate: 'up' });
    expect(plan(d, o, { ...ctx(), ownedVrfs: new Set(['vrf-a']), configured: new Map([['ta0', 1500]]) })).toEqual([]);
  });

  it('refuses to take over a foreign link that has a VRF’s name', () => {
    const d = buildKernelObjects(state('vrf', false), 'vrf', own);
    const o = observedFrom(d, 'vrf');
    o.links.set('vrf-a', { ...o.links.get('vrf-a')!, kind: 'veth', table: undefined });
    expect(() => plan(d, o, ctx(['ta0']))).toThrow(ForeignObjectError);
  });

  it('names a tenant interface that does not exist', () => {
    const d = buildKernelObjects(state('table'), 'table', own);
    const o = observedFrom(d, 'table');
    o.links.delete('tb0');
    expect(() => plan(d, o, ctx())).toThrow(MissingInterfaceError);
    expect(() => plan(d, o, ctx())).toThrow(/tb0/);
  });

  describe('sysctls the agent set and no longer wants: back to their value from before', () => {
    const node = (underlay: string[]) => upsertNode(emptyState(), { underlay, locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
    const sysctlOps = (ops: Op[]) => ops.filter((op) => op.kind === 'sysctl').map((op) => `${op.action} ${(op as any).path.join('.')}=${(op as any).value}`);
    const rpf = (dev: string) => `net/ipv4/conf/${dev}/rp_filter`;

    it('a released tenant interface gets its rp_filter back, after everything else; the tenant still there keeps its own', () => {
      const o = observedFrom(buildKernelObjects(state('table'), 'table', own), 'table');
      const d = buildKernelObjects(state('table', false), 'table', own);
      const ops = plan(d, o, ctx(['ta0', 'tb0'], { [rpf('ta0')]: '2', [rpf('tb0')]: '1', 'net/ipv4/conf/all/rp_filter': '2' }));
      expect(sysctlOps(ops)).toEqual(['restore net.ipv4.conf.tb0.rp_filter=1']);
      expect(ops[ops.length - 1]).toEqual({ kind: 'sysctl', action: 'restore', path: ['net', 'ipv4', 'conf', 'tb0', 'rp_filter'], value: '1' });
      expect(phaseOf(ops[ops.length - 1])).toBeGreaterThan(Math.max(...ops.slice(0, -1).map(phaseOf)));
    });

    it('an underlay interface no longer used: its seg6_enabled goes back; the new one is set', () => {
      const o = observedFrom(buildKernelObjects(node(['ul0']), 'table', own), 'table');
      o.links.set('ul2', { ...o.links.get('ul0')!, index: 20, name: 'ul2' });
      o.sysctls.set('net/ipv6/conf/ul2/seg6_enabled', '0');
      const d = buildKernelObjects(node(['ul2']), 'table', own);
      const ops = plan(d, o, ctx([], { 'net/ipv6/conf/ul0/seg6_enabled': '0' }));
      expect(sysctlOps(ops)).toEqual(['set net.ipv6.conf.ul2.seg6_enabled=1', 'restore net.ipv6.conf.ul0.seg6_enabled=0']);
    });

    it.each([
      ['table', 'net/ipv4/conf/all/rp_filter', 'restore net.ipv4.conf.all.rp_filter=2'],
      ['vrf', 'net/vrf/strict_mode', 'restore net.vrf.strict_mode=0'],
    ] as const)('%s mode, the last tenant gone: %s goes back (node-wide)', (mode, key, expected) => {
      const o = observedFrom(buildKernelObjects(state(mode, false), mode, own), mode);
      const d = buildKernelObjects(node(['ul0']), mode, own);
      const original = key.endsWith('strict_mode') ? '0' : '2';
      const ops = plan(d, o, { ...ctx(['ta0'], { [key]: original, [rpf('ta0')]: '1' }), ownedVrfs: new Set(['vrf-a']) });
      expect(sysctlOps(ops)).toEqual([expected, 'restore net.ipv4.conf.ta0.rp_filter=1']);
    });

    it('an interface that is gone, or a desired one that is missing, has nothing to restore; an existing one has', () => {
      const d = withoutDevices(buildKernelObjects(state('table'), 'table', own), new Set(['tb0']));
      const o = observedFrom(d, 'table');
      o.links.delete('tb0');
      o.links.set('ul7', { ...o.links.get('ul0')!, index: 70, name: 'ul7' });
      const ops = plan(d, o, ctx(['ta0', 'tb0'], { [rpf('gone0')]: '1', [rpf('tb0')]: '1', [rpf('ta0')]: '1', 'net/ipv6/conf/ul7/seg6_enabled': '0' }));
      expect(sysctlOps(ops)).toEqual(['restore net.ipv6.conf.ul7.seg6_enabled=0']);
      expect(ops).toHaveLength(1);
    });
  });

  describe('table mode: the local rule behind the tenant rules (ADR 0011)', () => {
    const rules = (d: KernelObjects) =>
      [...d.rules.values()]
        .map((r) => `${r.family} ${r.priority} ${r.iif ?? '-'} ${r.dst ?? '-'} ${r.action === 'goto' ? `goto ${r.goto}` : `lookup ${r.table}`}`)
        .sort();
    const routesOf = (d: KernelObjects, table: number) =>
      [...d.routes.values()]
        .filter((r) => r.table === table && r.type !== 'throw' && r.type !== 'unreachable' && !r.nhid)
        .map((r) => `${r.type ?? 'unicast'} ${r.dst} ${r.oifName}`)
        .sort();

    it('with tenants: the moved local rule, jumps over the tenant rules, link-scope lookups, the tenant rules', () => {
      const d = buildKernelObjects(state('table'), 'table', own);
      expect(d.moveLocalRule).toBe(true);
      expect(rules(d)).toEqual(
        [
          '4 1000 ta0 - lookup 10000',
          '4 1000 tb0 - lookup 10001',
          '4 1001 - - lookup 255',
          '4 998 lo - goto 1001',
          '4 998 ul0 - goto 1001',
          '6 1000 ta0 - lookup 10000',
          '6 1000 tb0 - lookup 10001',
          '6 1001 - - lookup 255',
          '6 998 lo - goto 1001',
          '6 998 ul0 - goto 1001',
          '6 999 - fe80::/64 lookup 255',
          '6 999 - ff00::/8 lookup 255',
        ].sort(),
      );
    });

    it('every tenant table holds what a VRF table gets from the kernel: the gateway local, the subnet broadcast', () => {
      let s = upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
      s = upsertTenant(
        s,
        { id: 'a', behaviour: 'End.DT6', interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:1::1/64', '192.168.7.9/31'] }], routes: [] },
        'table',
      );
      const d = buildKernelObjects(allocateNexthops(s, new Set()), 'table', own);
      expect(routesOf(d, s.tenants.a.table)).toEqual(
        [
          'broadcast 10.0.0.255/32 ta0',
          'local 10.0.0.1/32 ta0',
          'local 192.168.7.9/32 ta0',
          'local fd00:1::1/128 ta0',
          'unicast 10.0.0.0/24 ta0',
          'unicast 192.168.7.8/31 ta0',
          'unicast fd00:1::/64 ta0',
        ].sort(),
      );
    });

    it('without tenants: no moved rule, the node-wide rules stay (a tenant job never has to plan them)', () => {
      const s = upsertNode(emptyState(), { underlay: ['ul0', 'ul1'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
      const d = buildKernelObjects(s, 'table', own);
      expect(d.moveLocalRule).toBe(false);
      expect(rules(d).filter((r) => r.includes('lookup 255'))).toEqual(['6 999 - fe80::/64 lookup 255', '6 999 - ff00::/8 lookup 255']);
      expect(rules(d).filter((r) => r.includes('goto'))).toHaveLength(6); // lo, ul0, ul1 per family
    });

    it('the first tenant: the moved rule is created before the rule at 0 goes, after the gateway routes', () => {
      const d = buildKernelObjects(state('table'), 'table', own);
      const o = observedFrom(
        buildKernelObjects(
          upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 }),
          'table',
          own,
        ),
        'table',
      );
      o.localRuleAtZero = new Set([4, 6]);
      const ops = plan(d, o, ctx());
      const at = (pred: (op: Op) => boolean) => ops.findIndex(pred);
      const lastLocalRoute = ops.map((op, i) => (op.kind === 'route' && op.route.type === 'local' ? i : -1)).reduce((a, b) => Math.max(a, b));
      const movedCreate = at((op) => op.kind === 'rule' && op.action === 'create' && op.rule.priority === 1001);
      const zeroDelete = at((op) => op.kind === 'rule' && op.action === 'delete' && op.rule.priority === 0);
      expect(lastLocalRoute).toBeGreaterThan(-1);
      expect(lastLocalRoute).toBeLessThan(movedCreate);
      expect(movedCreate).toBeLessThan(zeroDelete);
      expect(ops.filter((op) => op.kind === 'rule' && op.rule.priority === 0).map((op) => `${op.action} ${(op as any).rule.family}`)).toEqual([
        'delete 4',
        'delete 6',
      ]);
    });

    it('the last tenant gone: the rule at 0 comes back; the link-scope rules alone do not count as "moved by us"', () => {
      const node = upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
      const d = buildKernelObjects(node, 'table', own);
      // the agent moved it: restored
      const moved = observedFrom(buildKernelObjects(state('table'), 'table', own), 'table');
      moved.localRuleAtZero = new Set();
      const ops = plan(d, moved, ctx(['ta0', 'tb0']));
      expect(ops.filter((op) => op.kind === 'rule' && op.rule.table === 255 && !op.rule.dst).map((op) => `${op.action} ${(op as any).rule.priority}`)).toEqual([
        'create 0',
        'create 0',
        'delete 1001',
        'delete 1001',
      ]);
      // an operator moved it (only the agent's link-scope rules there): left alone
      const foreign = observedFrom(d, 'table');
      foreign.localRuleAtZero = new Set();
      expect(plan(d, foreign, ctx())).toEqual([]);
    });

    it('a goto rule differs from a lookup rule and from a goto elsewhere (keys)', () => {
      const base = { family: 4 as const, priority: 998, iif: 'ul0', protocol: 196 };
      const keys = new Set([
        ruleKey({ ...base, action: 'goto', goto: 1001 }),
        ruleKey({ ...base, action: 'goto', goto: 1002 }),
        ruleKey({ ...base, table: 1001 }),
      ]);
      expect(keys.size).toBe(3);
      // what the kernel dumps for a goto (action named, table 0) has the desired rule's key
      expect(ruleKey({ ...base, action: 'goto', goto: 1001, table: 0 })).toBe(ruleKey({ ...base, action: 'goto', goto: 1001 }));
      expect(ruleKey({ family: 6, priority: 1000, iif: 'ta0', table: 7, action: 'lookup' })).toBe(ruleKey({ family: 6, priority: 1000, iif: 'ta0', table: 7 }));
    });

    it('a missing jump rule (drift) is created again', () => {
      const d = buildKernelObjects(state('table'), 'table', own);
      const o = observedFrom(d, 'table');
      o.rules.delete(ruleKey({ family: 6, priority: 998, iif: 'ul0', action: 'goto', goto: 1001 }));
      expect(
        plan(d, o, ctx(['ta0', 'tb0'])).map((op) => (op.kind === 'rule' ? `${op.action} ${op.rule.iif} ${op.rule.action} ${op.rule.goto}` : op.kind)),
      ).toEqual(['create ul0 goto 1001']);
    });

    it("tells node-wide rules (which two tenant jobs may both plan) from the tenants' own", () => {
      const d = buildKernelObjects(state('table'), 'table', own);
      const node = [...d.rules.values()].filter((r) => isNodeRule(r, own)).map((r) => `${r.family} ${r.priority} ${r.iif ?? r.dst ?? '-'}`);
      expect(node.sort()).toEqual(['4 1001 -', '4 998 lo', '4 998 ul0', '6 1001 -', '6 998 lo', '6 998 ul0', '6 999 fe80::/64', '6 999 ff00::/8'].sort());
      expect(isNodeRule({ family: 4, priority: 0, table: 255 }, own)).toBe(true);
    });

    it('refuses a rule priority that leaves no room for the jump', () => {
      expect(() => buildKernelObjects(state('table'), 'table', { ...own, rulePriority: 2 })).toThrow(/rule priority/);
    });
  });
});

describe('withoutDevices (a tenant interface that does not exist)', () => {
  it('leaves out what needs the device, keeps its iif rules and everything else', () => {
    const st = upsertTenant(
      upsertNode(emptyState(), { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 }),
      {
        id: 'alpha',
        behaviour: 'End.DX4',
        dx: { nexthop: '10.0.1.2', interface: 'ta1' },
        interfaces: [
          { name: 'ta0', gateways: ['10.0.0.1/24'] },
          { name: 'ta1', gateways: ['10.0.1.1/24'] },
        ],
        routes: [],
      },
      'table',
    );
    const all = buildKernelObjects(st, 'table', DEFAULT_OWNERSHIP);
    const o = withoutDevices(all, new Set(['ta1']));
    expect([...o.links.keys()]).toEqual(['ta0']);
    expect([...o.addresses.keys()]).toEqual(['ta0|10.0.0.1/24']);
    expect([...o.sysctls.keys()].filter((k) => k.includes('ta'))).toEqual(['net/ipv4/conf/ta0/rp_filter']);
    expect([...o.routes.values()].filter((r) => r.oifName === 'ta1')).toEqual([]);
    expect([...o.routes.values()].filter((r) => r.oifName === 'ta0').length).toBeGreaterThan(0);
    // the SID route, the unreachable defaults, and both interfaces' rules stay
    expect(o.routes.size).toBe(all.routes.size - [...all.routes.values()].filter((r) => r.oifName === 'ta1').length);
    expect(o.rules).toEqual(all.rules);
    expect([...o.rules.values()].filter((r) => r.iif === 'ta1')).toHaveLength(2);
    expect(withoutDevices(all, new Set())).toBe(all);
  });
});
