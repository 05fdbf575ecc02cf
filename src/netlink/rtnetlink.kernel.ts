// Round trips through the real kernel in throwaway namespaces: create → dump → decode equals what
// was asked → delete leaves nothing; every step also checked with iproute2 (`ip -j`).
import { openSync, closeSync } from 'node:fs';
import { KernelError, InvalidArgumentError } from './errors';
import { NetlinkMonitor, MonitorEvent } from './monitor';
import { routeAddRequest, Route } from './route';
import { Rtnetlink } from './rtnetlink';
import { Seg6Local } from './seg6local';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { itWith } from '../testing/kernel-features';
import { Seg6Genl } from './seg6-genl';

jest.setTimeout(20000);

let ns: TestNetns;
let nl: Rtnetlink;
let v0: number;
let v1: number;

afterAll(() => {
  nl?.close();
  destroyAllNetns();
});

beforeAll(async () => {
  ns = TestNetns.create('rt');
  nl = Rtnetlink.open({ netns: ns.name });
  await nl.createLink({ name: 'v0', kind: 'veth', peer: { name: 'v1' }, up: true, mtu: 1500 });
  await nl.setLink('v1', { up: true });
  v0 = (await nl.link('v0'))!.index;
  v1 = (await nl.link('v1'))!.index;
  ns.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'v0']);
  ns.ip(['-6', 'addr', 'add', 'fc00:1::1/64', 'dev', 'v0', 'nodad']);
});

describe('links', () => {
  it('creates a veth pair that iproute2 sees, with MTU and state', async () => {
    const l = await nl.link('v0');
    expect(l).toMatchObject({ name: 'v0', kind: 'veth', mtu: 1500, up: true, link: v1 });
    const ipv = ns.ipJson(['link', 'show', 'v0'])[0];
    expect(ipv.ifindex).toBe(v0);
    expect(ipv.flags).toContain('UP');
    expect(ipv.link_index ?? ipv.link).toBeDefined();
  });

  it('sets MTU and down/up, and dumps the change', async () => {
    await nl.createLink({ name: 'tmp0', kind: 'veth', peer: { name: 'tmp1' } });
    await nl.setLink('tmp0', { mtu: 1400, up: true });
    expect(ns.ipJson(['link', 'show', 'tmp0'])[0]).toMatchObject({ mtu: 1400 });
    expect((await nl.links()).find((l) => l.name === 'tmp0')).toMatchObject({ mtu: 1400, up: true });
    await nl.setLink('tmp0', { up: false });
    expect(ns.ipJson(['link', 'show', 'tmp0'])[0].flags).not.toContain('UP');
    await nl.deleteLink('tmp0');
    expect((await nl.links()).map((l) => l.name)).not.toContain('tmp1');
    expect(() => ns.ip(['link', 'show', 'tmp0'])).toThrow();
  });

  it('moves a link into another namespace by fd', async () => {
    const other = TestNetns.create('rt-other');
    await nl.createLink({ name: 'mv0', kind: 'veth', peer: { name: 'mv1' } });
    const fd = openSync(other.path, 'r');
    try {
      await nl.setLink('mv1', { netnsFd: fd });
    } finally {
      closeSync(fd);
    }
    expect(await nl.link('mv1')).toBeUndefined();
    expect(other.ipJson(['link', 'show', 'mv1'])[0].ifname).toBe('mv1');
    await nl.deleteLink('mv0');
    other.destroy();
  });

  it('creates a veth peer directly in another namespace', async () => {
    const other = TestNetns.create('rt-peer');
    const fd = openSync(other.path, 'r');
    try {
      await nl.createLink({ name: 'pp0', kind: 'veth', peer: { name: 'pp1', netnsFd: fd } });
    } finally {
      closeSync(fd);
    }
    expect(other.ipJson(['link', 'show', 'pp1'])[0].ifname).toBe('pp1');
    await nl.deleteLink('pp0');
    expect(other.ipJson(['link', 'show'])).toHaveLength(1); // lo only: the pair went with pp0
    other.destroy();
  });

  it('reports a missing link as undefined and a duplicate as EEXIST', async () => {
    expect(await nl.link('nosuch0')).toBeUndefined();
    const err = await nl.createLink({ name: 'v0', kind: 'veth', peer: { name: 'vx' } }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('EEXIST');
    expect(err.request.what).toContain('link v0');
  });

  itWith('CONFIG_NET_VRF')('creates a VRF bound to a table, enslaves and releases a link', async () => {
    await nl.createLink({ name: 'vrf-a', kind: 'vrf', table: 1001, up: true });
    const vrf = (await nl.link('vrf-a'))!;
    expect(vrf).toMatchObject({ kind: 'vrf', table: 1001 });
    expect(ns.ipJson(['-d', 'link', 'show', 'vrf-a'])[0].linkinfo.info_data.table).toBe(1001);
    await nl.setLink('v1', { master: vrf.index });
    expect(ns.ipJson(['link', 'show', 'v1'])[0].master).toBe('vrf-a');
    await nl.setLink('v1', { master: 0 });
    expect(ns.ipJson(['link', 'show', 'v1'])[0].master).toBeUndefined();
    await nl.deleteLink('vrf-a');
  });
});

describe('addresses', () => {
  it('adds, dumps and deletes IPv4 and IPv6 addresses', async () => {
    await nl.addAddress({ index: v1, address: '198.51.100.7/25' });
    await nl.addAddress({ index: v1, address: 'fd00:9::7/64', nodad: true });
    const dumped = await nl.addresses(undefined, v1);
    expect(new Set(dumped.map((a) => a.index))).toEqual(new Set([v1])); // filtered by the kernel
    const mine = dumped.map((a) => a.address);
    expect(mine).toEqual(expect.arrayContaining(['198.51.100.7/25', 'fd00:9::7/64']));
    const ipv = ns.ipJson(['addr', 'show', 'dev', 'v1'])[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(ipv).toEqual(expect.arrayContaining(['198.51.100.7/25', 'fd00:9::7/64']));
    await nl.deleteAddress({ index: v1, address: '198.51.100.7/25' });
    await nl.deleteAddress({ index: v1, address: 'fd00:9::7/64' });
    const left = ns.ipJson(['addr', 'show', 'dev', 'v1'])[0].addr_info.map((a: any) => a.local);
    expect(left).not.toContain('198.51.100.7');
    expect(left).not.toContain('fd00:9::7');
  });
});

describe('routes', () => {
  const cases: [string, () => Route][] = [
    ['IPv4 via gateway in table 1000', () => ({ dst: '10.10.0.0/16', gateway: '192.0.2.2', oif: v0, table: 1000, protocol: 99, priority: 10 })],
    ['IPv4 with metrics', () => ({ dst: '10.11.0.0/16', gateway: '192.0.2.2', table: 1000, metrics: { mtu: 1400, hoplimit: 10 } })],
    [
      'IPv4 multipath',
      () => ({
        dst: '10.12.0.0/16',
        table: 70000,
        multipath: [
          { gateway: '192.0.2.2', oif: v0, weight: 3 },
          { gateway: '192.0.2.3', oif: v0, weight: 1 },
        ],
      }),
    ],
    ['IPv4 unreachable default (fail closed)', () => ({ dst: 'default', family: 4, type: 'unreachable', table: 1000, priority: 4278198272 })],
    ['IPv6 blackhole', () => ({ dst: 'fd00:66::/64', type: 'blackhole', table: 1000 })],
    ['IPv6 prohibit', () => ({ dst: 'fd00:67::/64', type: 'prohibit', table: 1000 })],
  ];
  const seg6Cases: [string, () => Route][] = [
    ['IPv4 seg6 encap', () => ({ dst: '10.13.0.0/16', oif: v0, table: 1000, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:2::1', 'fc00:3::1'] } })],
    ['IPv4 seg6 encap.red', () => ({ dst: '10.14.0.0/16', oif: v0, table: 1000, encap: { type: 'seg6', mode: 'encap.red', segments: ['fc00:2::1'] } })],
    ['IPv6 seg6 inline', () => ({ dst: 'fd00:68::/64', oif: v0, table: 1000, encap: { type: 'seg6', mode: 'inline', segments: ['fc00:2::1', 'fc00:3::1'] } })],
    ['IPv4 seg6 l2encap', () => ({ dst: '10.15.0.0/16', oif: v0, table: 1000, encap: { type: 'seg6', mode: 'l2encap', segments: ['fc00:2::1'] } })],
  ];

  const roundTrip = async (_n: string, make: () => Route) => {
    const r = make();
    await nl.addRoute(r);
    const dumped = (await nl.routes({ table: r.table })).filter((x) => x.dst === r.dst && x.family === (r.dst.includes(':') ? 6 : (r.family ?? 4)));
    expect(dumped).toHaveLength(1);
    expect(dumped[0]).toMatchObject({ ...r, family: dumped[0].family });
    const ipv = ns.ipJson([r.dst.includes(':') ? '-6' : '-4', 'route', 'show', 'table', String(r.table), 'exact', r.dst === 'default' ? '0/0' : r.dst]);
    expect(ipv).toHaveLength(1);
    // iproute2 prints every SRH slot, inline mode's reserved slot 0 (the original destination) too.
    if (r.encap?.type === 'seg6') expect(ipv[0].segs).toEqual([...r.encap.segments, ...(r.encap.mode === 'inline' ? ['::'] : [])]);
    await nl.deleteRoute(r);
    expect(
      ns.ipJson([r.dst.includes(':') ? '-6' : '-4', 'route', 'show', 'table', String(r.table), 'exact', r.dst === 'default' ? '0/0' : r.dst]),
    ).toHaveLength(0);
  };
  it.each(cases)('%s: create → dump → equal → delete leaves nothing', roundTrip);
  itWith('seg6').each(seg6Cases)('%s: create → dump → equal → delete leaves nothing', roundTrip);

  itWith('seg6')('replace changes a route in place; add of an existing one is EEXIST (never a second IPv6 route)', async () => {
    const r: Route = { dst: 'fd00:70::/64', oif: v0, table: 1000, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:2::1'] } };
    await nl.addRoute(r);
    const dup = await nl.addRoute(r).catch((e) => e);
    expect(dup).toBeInstanceOf(KernelError);
    expect(dup.code).toBe('EEXIST');
    await nl.addRoute({ ...r, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:9::9'] } }, true);
    const ipv = ns.ipJson(['-6', 'route', 'show', 'table', '1000', 'exact', 'fd00:70::/64']);
    expect(ipv).toHaveLength(1);
    expect(ipv[0].segs).toEqual(['fc00:9::9']);
    await nl.deleteRoute(r);
  });

  it('carries the kernel extack text and the request in errors', async () => {
    const err = await nl.addRoute({ dst: '10.99.0.0/16', nhid: 4242, table: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.errno).toBe(22);
    expect(err.extack).toMatch(/nexthop id does not exist/i);
    expect(err.message).toContain('route 10.99.0.0/16 table 1000');
  });
});

describe('seg6local actions', () => {
  const actions: [string, () => Seg6Local][] = [
    ['End', () => ({ type: 'seg6local', action: 'End' })],
    ['End with next-csid flavor', () => ({ type: 'seg6local', action: 'End', flavors: { operations: ['next-csid'], lblen: 32, nflen: 16 } })],
    // (End.X's optional oif is kept by 6.18 but silently dropped by 6.12: not part of this table)
    ['End.X', () => ({ type: 'seg6local', action: 'End.X', nh6: 'fc00:1::2' })],
    ['End.T', () => ({ type: 'seg6local', action: 'End.T', table: 1000 })],
    ['End.DX2', () => ({ type: 'seg6local', action: 'End.DX2', oif: v1 })],
    ['End.DX4 with counters', () => ({ type: 'seg6local', action: 'End.DX4', nh4: '192.0.2.2', counters: true })],
    ['End.DX6', () => ({ type: 'seg6local', action: 'End.DX6', nh6: 'fc00:1::2' })],
    ['End.DT6 legacy table', () => ({ type: 'seg6local', action: 'End.DT6', table: 1000 })],
    ['End.B6', () => ({ type: 'seg6local', action: 'End.B6', srh: ['fc00:9::1', 'fc00:9::2'] })],
    ['End.B6.Encaps', () => ({ type: 'seg6local', action: 'End.B6.Encaps', srh: ['fc00:9::1'] })],
  ];

  itWith('seg6local').each(actions)('%s round-trips and iproute2 agrees', async (_n, make) => {
    const encap = make();
    const r: Route = { dst: 'fc00:1::a0/128', oif: v0, table: 2000, encap };
    // a failed case before must not fail this one
    for (const left of (await nl.routes({ table: 2000, family: 6 })).filter((x) => x.table === 2000)) await nl.deleteRoute(left);
    await nl.addRoute(r);
    const [d] = (await nl.routes({ table: 2000 })).filter((x) => x.dst === r.dst);
    const want: any = { ...encap };
    if (encap.counters) want.counters = { packets: 0n, bytes: 0n, errors: 0n };
    expect(d.encap).toEqual(want);
    const [ipv] = ns.ipJson(['-6', '-s', 'route', 'show', 'table', '2000', 'exact', r.dst]);
    expect(ipv.action).toBe(encap.action);
    if (encap.nh4) expect(ipv.nh4).toBe(encap.nh4);
    if (encap.nh6) expect(ipv.nh6).toBe(encap.nh6);
    if (encap.table) expect(String(ipv.table)).toBe(String(encap.table));
    if (encap.counters) expect(ipv.stats64).toEqual({ packets: 0, bytes: 0, errors: 0 });
    await nl.deleteRoute(r);
    expect(ns.ipJson(['-6', 'route', 'show', 'table', '2000'])).toHaveLength(0);
  });

  itWith('CONFIG_NET_VRF', 'seg6local')('End.DT4 and End.DT46 with vrftable and counters', async () => {
    nl.sysctl.set(['net', 'vrf', 'strict_mode'], 1);
    await nl.createLink({ name: 'vrf-dt', kind: 'vrf', table: 3000, up: true });
    for (const action of ['End.DT4', 'End.DT46', 'End.DT6'] as const) {
      const r: Route = { dst: 'fc00:1::dd/128', oif: v0, table: 2001, encap: { type: 'seg6local', action, vrftable: 3000, counters: true } };
      await nl.addRoute(r);
      const [d] = (await nl.routes({ table: 2001 })).filter((x) => x.dst === r.dst);
      expect(d.encap).toEqual({ type: 'seg6local', action, vrftable: 3000, counters: { packets: 0n, bytes: 0n, errors: 0n } });
      const [ipv] = ns.ipJson(['-6', 'route', 'show', 'table', '2001', 'exact', r.dst]);
      expect(ipv.action).toBe(action);
      expect(String(ipv.vrftable)).toBe('3000');
      await nl.deleteRoute(r);
    }
    await nl.deleteLink('vrf-dt');
  });
});

describe('nexthop objects', () => {
  itWith('nexthop.seg6')('seg6 nexthop shared by routes; one replace re-points all of them', async () => {
    await nl.addNexthop({ id: 100, family: 6, oif: v0, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:5::1'] }, protocol: 99 });
    for (let i = 0; i < 3; i++) await nl.addRoute({ dst: `10.50.${i}.0/24`, nhid: 100, table: 1000, protocol: 99 });
    expect(await nl.nexthops()).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 100, oif: v0, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:5::1'] } })]),
    );
    await nl.addNexthop({ id: 100, family: 6, oif: v0, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:6::1', 'fc00:7::1'] }, protocol: 99 }, true);
    const ipv = ns.ipJson(['route', 'show', 'table', '1000', 'proto', '99']);
    expect(ipv.map((r: any) => r.segs)).toEqual([
      ['fc00:6::1', 'fc00:7::1'],
      ['fc00:6::1', 'fc00:7::1'],
      ['fc00:6::1', 'fc00:7::1'],
    ]);
    await nl.deleteNexthop(100); // removes the routes that use it
    expect(ns.ipJson(['route', 'show', 'table', '1000', 'proto', '99'])).toHaveLength(0);
    expect(ns.ipJson(['nexthop', 'show']).find((n: any) => n.id === 100)).toBeUndefined();
  });

  it('groups with weights', async () => {
    await nl.addNexthop({ id: 201, gateway: '192.0.2.2', oif: v0 });
    await nl.addNexthop({ id: 202, gateway: '192.0.2.3', oif: v0 });
    await nl.addNexthop({ id: 203, group: [{ id: 201, weight: 2 }, { id: 202 }] });
    expect((await nl.nexthops()).find((n) => n.id === 203)).toMatchObject({
      group: [
        { id: 201, weight: 2 },
        { id: 202, weight: 1 },
      ],
      groupType: 'mpath',
    });
    const ipv = ns.ipJson(['nexthop', 'show', 'id', '203'])[0];
    expect(ipv.group).toEqual([{ id: 201, weight: 2 }, { id: 202 }]);
    for (const id of [203, 201, 202]) await nl.deleteNexthop(id);
  });
});

describe('rules', () => {
  it('adds, dumps and deletes iif/oif/fwmark rules with tables > 255', async () => {
    const rules = [
      // (priorities away from 1000, where the kernel puts its l3mdev rule once a VRF exists)
      { family: 4 as const, iif: 'v1', table: 1000, priority: 1100 },
      { family: 6 as const, oif: 'v1', table: 70000, priority: 1101 },
      { family: 4 as const, fwmark: 0x20, fwmask: 0xf0, table: 1000, priority: 1102 },
    ];
    for (const r of rules) await nl.addRule(r);
    const dumped = await nl.rules();
    for (const r of rules) expect(dumped).toEqual(expect.arrayContaining([expect.objectContaining({ ...r, action: 'lookup' })]));
    const ipv = [...ns.ipJson(['-4', 'rule', 'show']), ...ns.ipJson(['-6', 'rule', 'show'])];
    expect(ipv.filter((r: any) => r.priority >= 1100 && r.priority <= 1102).map((r: any) => String(r.table))).toEqual(['1000', '1000', '70000']);
    for (const r of rules) await nl.deleteRule(r);
    expect((await nl.rules()).filter((r) => (r.priority ?? 0) >= 1100 && (r.priority ?? 0) <= 1102)).toHaveLength(0);
  });

  it('a goto rule made by iproute2 dumps without a table and is deleted by what the dump returned', async () => {
    ns.ip(['-6', 'rule', 'add', 'pref', '1200', 'iif', 'v1', 'goto', '1300']);
    const [dumped] = (await nl.rules(6)).filter((r) => r.priority === 1200);
    expect(dumped).toMatchObject({ family: 6, priority: 1200, iif: 'v1', action: 'goto', goto: 1300 });
    expect(dumped).not.toHaveProperty('table');
    await nl.deleteRule(dumped);
    expect(ns.ipJson(['-6', 'rule', 'show']).filter((r: any) => r.priority === 1200)).toEqual([]);
  });
});

describe('neighbours', () => {
  it('dumps a permanent neighbour added by iproute2', async () => {
    ns.ip(['neigh', 'add', '192.0.2.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'v0', 'nud', 'permanent']);
    const n = (await nl.neighbours(4, v0)).find((x) => x.dst === '192.0.2.9');
    expect(n).toEqual({ family: 4, index: v0, dst: '192.0.2.9', lladdr: '02:00:00:00:00:09', state: ['permanent'] });
  });
});

describe('batching', () => {
  it('sends many requests per sendmsg and matches each result, failures included', async () => {
    const reqs = [];
    for (let i = 0; i < 2000; i++) reqs.push(routeAddRequest({ dst: `10.${60 + (i >> 8)}.${i & 255}.0/24`, gateway: '192.0.2.2', table: 4000, protocol: 77 }));
    reqs.splice(1234, 0, routeAddRequest({ dst: '10.99.0.0/24', nhid: 999, table: 4000 }));
    const res = await nl.batch(reqs, { chunkMessages: 300 });
    expect(res.filter((r) => !r.ok)).toHaveLength(1);
    const bad = res[1234];
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.request.what).toBe('route 10.99.0.0/24 table 4000');
    expect(ns.ipJson(['route', 'show', 'table', '4000', 'proto', '77'])).toHaveLength(2000);
  });
});

describe('monitor', () => {
  it('emits typed events for changes made by someone else', async () => {
    const mon = new NetlinkMonitor({ netns: ns.name });
    const events: MonitorEvent[] = [];
    const got = new Promise<void>((resolve) =>
      mon.on('event', (e: MonitorEvent) => {
        events.push(e);
        if (e.kind === 'route' && e.action === 'del') resolve();
      }),
    );
    try {
      ns.ip(['route', 'add', '10.77.0.0/24', 'via', '192.0.2.2', 'table', '1000']);
      ns.ip(['route', 'del', '10.77.0.0/24', 'table', '1000']);
      await got;
      const routes = events.filter((e) => e.kind === 'route' && e.route.dst === '10.77.0.0/24').map((e) => e.action);
      expect(routes).toEqual(['new', 'del']);
    } finally {
      mon.close();
    }
  });
});

describe('seg6 tunnel source (generic netlink family SEG6)', () => {
  it('reads and sets what iproute2 shows as `ip sr tunsrc`', async () => {
    const g = new Seg6Genl(ns.name);
    try {
      if (!(await g.available())) throw new Error('no SEG6 genl family: the kernel has no IPv6 segment routing core');
      expect(await g.tunsrc()).toBe('::');
      await g.setTunsrc('fc00:0:1::1');
      expect(ns.ip(['sr', 'tunsrc', 'show']).trim()).toBe('tunsrc addr fc00:0:1::1');
      ns.ip(['sr', 'tunsrc', 'set', 'fc00:0:9::9']);
      expect(await g.tunsrc()).toBe('fc00:0:9::9');
    } finally {
      g.close();
    }
  });
});

describe('sysctl', () => {
  it('writes inside the namespace only', async () => {
    const host = require('node:fs').readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim();
    nl.sysctl.set(['net', 'ipv6', 'conf', 'all', 'forwarding'], host === '1' ? 0 : 1);
    const inside = ns.exec('cat', ['/proc/sys/net/ipv6/conf/all/forwarding']).trim();
    expect(inside).toBe(host === '1' ? '0' : '1');
    expect(require('node:fs').readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim()).toBe(host);
    expect(nl.sysctl.ensure(['net', 'ipv6', 'conf', 'v0', 'seg6_enabled'], 1)).toBe(true);
    expect(nl.sysctl.ensure(['net', 'ipv6', 'conf', 'v0', 'seg6_enabled'], 1)).toBe(false);
    expect(() => nl.sysctl.get(['net', '..', 'x'])).toThrow(InvalidArgumentError);
  });
});
