// The dataplane against a real kernel in a throwaway namespace, observed with iproute2.
// VRF mode where the kernel has VRF (the lab VM), table mode otherwise (this project's hosts).
//
//   netns srv6t-dp-*:
//     ul0 <-> ul1          underlay (seg6 enabled), locator fc00:0:1::/48
//     ta0 <-> ta1          tenant "alpha" interface   10.0.0.1/24, fd00:a::1/64
//     tb0 <-> tb1          tenant "beta"  interface   10.0.0.1/24 (overlapping on purpose)
//     tc0 <-> tc1          tenant "gamma" interface   10.9.0.1/24
//     fx0 <-> fx1          foreign link, with a foreign route, rule and nexthop: never touched
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapabilityMissingError } from '../common/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, isAddrconfRoute, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { Dataplane } from './dataplane';
import { DEFAULT_OWNERSHIP } from './kernel-objects';
import { DesiredStateStore } from './state-store';
import type { TenantSpecDto } from './spec.dto';

jest.setTimeout(scaled(60000));

const VRF = kernelHas('CONFIG_NET_VRF');
const MODE = VRF ? 'vrf' : 'table';
const P = DEFAULT_OWNERSHIP.protocol;

let ns: TestNetns;
let nl: Rtnetlink;
let dir: string;
let dp: Dataplane;

const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const tenants = (): TenantSpecDto[] => [
  {
    id: 'alpha',
    behaviour: VRF ? 'End.DT46' : 'End.DT6',
    interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] }],
    routes: [
      { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
      { prefix: '10.2.0.0/24', sids: ['fc00:0:2:1::'] },
      { prefix: 'fd00:b::/64', sids: ['fc00:0:3:1::'], mode: 'encap.red' },
    ],
  },
  {
    id: 'beta',
    behaviour: VRF ? 'End.DT4' : 'End.DX4',
    ...(VRF ? {} : { dx: { nexthop: '10.0.0.2', interface: 'tb0' } }),
    interfaces: [{ name: 'tb0', gateways: ['10.0.0.1/24'] }],
    routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:2::'] }],
  },
  {
    id: 'gamma',
    behaviour: 'End.DX6',
    dx: { nexthop: 'fd00:c::2', interface: 'tc0' },
    interfaces: [{ name: 'tc0', gateways: ['10.9.0.1/24', 'fd00:c::1/64'] }],
    routes: [],
  },
];

function foreignSnapshot() {
  return {
    // the kernel's own IPv6 link-local and multicast routes come and go with DAD: not ours to compare
    routes: ns
      .ipJson(['route', 'show', 'table', 'all'])
      .filter((r: any) => r.protocol !== String(P) && r.protocol !== P && r.dev === 'fx0' && !isAddrconfRoute(r)),
    rules: ns.ipJson(['rule', 'show']).filter((r: any) => r.priority === 500),
    nexthops: ns.ipJson(['nexthop', 'show']).filter((n: any) => n.id === 7),
    link: ns.ipJson(['link', 'show', 'fx0'])[0].mtu,
  };
}

async function eventually(check: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'srv6-dp-'));
  ns = TestNetns.create('dp');
  ns.vethPairs([
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
    ['tb0', 'tb1'],
    ['tc0', 'tc1'],
    ['fx0', 'fx1'],
  ]);
  ns.ip(['addr', 'add', '192.168.77.1/24', 'dev', 'fx0']);
  ns.ip(['route', 'add', '10.200.0.0/24', 'via', '192.168.77.2', 'dev', 'fx0']);
  ns.ip(['rule', 'add', 'pref', '500', 'lookup', '300']);
  ns.ip(['nexthop', 'add', 'id', '7', 'via', '192.168.77.3', 'dev', 'fx0']);
  nl = Rtnetlink.open({ netns: ns.name });
  dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name, debounceMs: 50 });
  await dp.start();
});

afterAll(() => {
  dp?.stop();
  nl?.close();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

describe(`dataplane (${MODE} mode)`, () => {
  let before: ReturnType<typeof foreignSnapshot>;

  itWith(SRV6)('applies a node and three tenants, as iproute2 sees it', async () => {
    before = foreignSnapshot();
    const r0 = await dp.upsertNode(node);
    expect(r0.failed).toEqual([]);
    for (const t of tenants()) {
      const r = await dp.upsertTenant(t);
      expect(r.failed).toEqual([]);
    }
    const st = dp.state;
    const alpha = st.tenants.alpha;
    expect(alpha.table).toBe(10000);
    expect(alpha.sid).toBe('fc00:0:1:1::');
    expect(st.tenants.beta.sid).toBe('fc00:0:1:2::');

    // decap routes with counters
    const sids = ns.ipJson(['-6', '-s', 'route', 'show', 'proto', String(P)]).filter((r: any) => r.encap === 'seg6local');
    expect(sids.map((r: any) => r.dst).sort()).toEqual(['fc00:0:1:1::', 'fc00:0:1:2::', 'fc00:0:1:3::']);
    for (const r of sids) expect(r.stats64).toBeDefined();
    // encap: shared nexthops (10.1.0.0/24 and 10.2.0.0/24 of alpha share one)
    const nhs = ns.ipJson(['nexthop', 'show']).filter((n: any) => n.protocol === String(P) || n.protocol === P);
    expect(nhs).toHaveLength(3);
    const alphaRoutes = ns.ipJson(['route', 'show', 'table', String(alpha.table), 'proto', String(P)]).filter((r: any) => r.nhid);
    expect(alphaRoutes).toHaveLength(2);
    expect(alphaRoutes[0].nhid).toBe(alphaRoutes[1].nhid);
    expect(alphaRoutes[0].segs).toEqual(['fc00:0:2:1::']);
    const red = ns.ipJson(['-6', 'route', 'show', 'table', String(alpha.table), 'proto', String(P), 'fd00:b::/64']);
    expect(red[0].mode).toBe('encap.red');
    // fail closed
    expect(ns.ipJson(['route', 'show', 'table', String(alpha.table), 'default'])[0].type).toBe('unreachable');
    expect(ns.ipJson(['-6', 'route', 'show', 'table', String(alpha.table), 'default'])[0].type).toBe('unreachable');
    // tenant interface MTU: 1500 - 40 - 8 - 16 (one SID with SRH)
    expect(ns.ipJson(['link', 'show', 'ta0'])[0].mtu).toBe(1436);
    // gateways carry our protocol
    const addr = ns.ipJson(['addr', 'show', 'dev', 'ta0'])[0].addr_info.filter((a: any) => a.local === '10.0.0.1');
    expect(addr).toHaveLength(1);
    if (MODE === 'table') {
      expect(
        ns
          .ipJson(['rule', 'show'])
          .filter((r: any) => r.iif === 'ta0')
          .map((r: any) => String(r.table)),
      ).toEqual([String(alpha.table)]);
      expect(ns.ipJson(['route', 'show', 'table', String(alpha.table), '10.0.0.0/24'])[0].dev).toBe('ta0');
      expect(ns.ipJson(['route', 'show', 'table', 'main', '10.0.0.0/24'])).toHaveLength(0);
    } else {
      expect(ns.ipJson(['link', 'show', 'ta0'])[0].master).toBe('vrf-alpha');
      expect(ns.exec('sysctl', ['-n', 'net.vrf.strict_mode']).trim()).toBe('1');
    }
    expect(ns.exec('sysctl', ['-n', 'net.ipv6.conf.ul0.seg6_enabled']).trim()).toBe('1');
  });

  itWith(SRV6)('is idempotent: a resync changes nothing', async () => {
    const r = await dp.resync();
    expect(r.operations).toBe(0);
  });

  itWith(SRV6)('a SID change for a remote HV switches traffic with one nexthop replace', async () => {
    const t = tenants()[0];
    t.routes = t.routes.map((r) => (r.sids[0] === 'fc00:0:2:1::' ? { ...r, sids: ['fc00:0:9:1::'] } : r));
    const nhBefore = ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].nhid;
    const r = await dp.upsertTenant(t);
    expect(r.failed).toEqual([]);
    // The switch is the nexthop replace; the new SID's throw route goes in before it, the old one after.
    expect({ ops: r.operations, updated: r.updated, created: r.created, deleted: r.deleted }).toEqual({
      ops: 3,
      updated: { nexthop: 1 },
      created: { route: 1 },
      deleted: { route: 1 },
    });
    expect(
      ns
        .ipJson(['-6', 'route', 'show', 'table', '10000', 'type', 'throw'])
        .map((x: any) => x.dst)
        .sort(),
    ).toEqual(['fc00:0:3:1::', 'fc00:0:9:1::']);
    const after = ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0];
    expect(after.nhid).toBe(nhBefore);
    expect(after.segs).toEqual(['fc00:0:9:1::']);
  });

  itWith(SRV6)('repairs a foreign deletion of an owned route within 1 s', async () => {
    ns.ip(['route', 'del', '10.2.0.0/24', 'table', '10000']);
    const ms = await eventually(() => ns.ipJson(['route', 'show', 'table', '10000', '10.2.0.0/24']).length === 1, scaled(1000));
    expect(ms).toBeLessThan(scaled(1000));
    // counted once the repair's apply has returned, a moment after the route is back
    await eventually(() => dp.stats.driftRepairs > 0, scaled(1000));
  });

  itWith(SRV6)('shrinks: deleting a tenant removes its objects and releases its interface', async () => {
    const beta = dp.state.tenants.beta;
    const r = await dp.deleteTenant('beta');
    expect(r.failed).toEqual([]);
    expect(ns.ipJson(['route', 'show', 'table', String(beta.table)])).toHaveLength(0);
    expect(ns.ipJson(['-6', 'route', 'show', `${beta.sid}/128`])).toHaveLength(0);
    expect(ns.ipJson(['link', 'show', 'tb0'])[0].mtu).toBe(1500);
    expect(ns.ipJson(['addr', 'show', 'dev', 'tb0'])[0].addr_info.filter((a: any) => a.family === 'inet')).toHaveLength(0);
    expect(ns.ipJson(['rule', 'show']).filter((x: any) => x.iif === 'tb0')).toHaveLength(0);
    if (MODE === 'vrf') expect(() => ns.ip(['link', 'show', 'vrf-beta'])).toThrow();
  });

  itWith(SRV6)('rejects a tenant whose interface is missing with an error naming it, and changes nothing', async () => {
    const t: TenantSpecDto = { id: 'delta', behaviour: 'End.DT6', interfaces: [{ name: 'nosuch0', gateways: [] }], routes: [] };
    const routes = () => ns.ipJson(['route', 'show', 'table', 'all']).filter((r: any) => !isAddrconfRoute(r));
    const before2 = routes();
    await expect(dp.upsertTenant(t)).rejects.toThrow(/nosuch0/);
    expect(routes()).toEqual(before2);
    await dp.deleteTenant('delta').catch(() => undefined);
  });

  itWith(SRV6)('refuses an End.DT* offload when the kernel cannot look up a table from XDP (BPF_FIB_LOOKUP_TBID), and changes nothing', async () => {
    // The capability report of a kernel before 6.8, as the agent passes it in.
    const old = new Dataplane({
      nl,
      store: new DesiredStateStore(dir),
      mode: MODE,
      netns: ns.name,
      features: { 'bpf.fib_lookup_tbid': { supported: false, reason: 'EINVAL from bpf_fib_lookup' } },
    });
    const t: TenantSpecDto = { id: 'delta', behaviour: 'End.DT4', xdpOffload: true, interfaces: [{ name: 'tap-d', gateways: [] }], routes: [] };
    const routes = () => ns.ipJson(['route', 'show', 'table', 'all']).filter((r: any) => !isAddrconfRoute(r));
    const before2 = routes();
    const version = old.state.version;
    const err = await old.upsertTenant(t).catch((e) => e);
    expect(err).toBeInstanceOf(CapabilityMissingError);
    expect(err).toMatchObject({ feature: 'bpf.fib_lookup_tbid' });
    expect(old.state.version).toBe(version);
    expect(routes()).toEqual(before2);
  });

  itWith(SRV6)('a kernel refusal mid-job (a foreign route on a key the job needs): the job is undone, the kernel and the state as before', async () => {
    const table = String(dp.state.tenants.alpha.table);
    ns.ip(['route', 'add', '10.88.0.0/24', 'dev', 'fx0', 'table', table, 'proto', 'static']);
    try {
      const before2 = ns.kernelSnapshot();
      const state = JSON.stringify(dp.state);
      const add = ['10.87.0.0/24', '10.88.0.0/24', '10.89.0.0/24'].map((prefix) => ({ prefix, sids: ['fc00:0:7:1::'] }));
      const r = await dp.changeRoutes('alpha', { add });
      expect(r.failed).toEqual([expect.objectContaining({ kind: 'route', code: 'EEXIST', what: expect.stringContaining('10.88.0.0/24') })]);
      expect(r.rolledBack).toEqual({ operations: expect.any(Number), failed: [] });
      expect(r.rolledBack!.operations).toBeGreaterThanOrEqual(3); // two routes, the new SID's nexthop (and its throw route)
      expect(ns.kernelSnapshot()).toEqual(before2);
      expect(JSON.stringify(dp.state)).toBe(state);
      expect((await dp.resync()).operations).toBe(0);

      // Queued behind a running job, it is undone alone: the tenant next to it in the group keeps its change.
      const running = dp.resync();
      const failing = dp.changeRoutes('alpha', { add });
      const other = dp.changeRoutes('gamma', { add: [{ prefix: 'fd00:77::/64', sids: ['fc00:0:7:3::'] }] });
      await running;
      const [rf, ro] = await Promise.all([failing, other]);
      expect(rf.coalesced ?? 1).toBe(1);
      expect({ failed: rf.failed.map((f) => f.code), undone: rf.rolledBack?.failed }).toEqual({ failed: ['EEXIST'], undone: [] });
      expect(ro.failed).toEqual([]);
      expect(ns.ipJson(['route', 'show', 'table', table, 'proto', String(P)]).map((x: any) => x.dst)).not.toEqual(expect.arrayContaining(['10.87.0.0/24']));
      expect(Object.keys(dp.state.tenants.alpha.routes)).not.toContain('10.87.0.0/24');
      expect(ns.ipJson(['-6', 'route', 'show', 'table', String(dp.state.tenants.gamma.table), 'fd00:77::/64'])).toHaveLength(1);
      expect(dp.state.tenants.gamma.routes).toHaveProperty(['fd00:77::/64']);
      expect((await dp.changeRoutes('gamma', { remove: ['fd00:77::/64'] })).failed).toEqual([]);
      expect((await dp.resync()).operations).toBe(0);
    } finally {
      ns.ip(['route', 'del', '10.88.0.0/24', 'table', table]);
    }
  });

  itWith(SRV6)('never touched the foreign route, rule, nexthop and link', () => {
    expect(foreignSnapshot()).toEqual(before);
  });

  itWith(SRV6)('an agent restart over 10,000 installed routes performs zero operations', async () => {
    const routes = Array.from({ length: 10000 }, (_, i) => ({
      prefix: `172.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`,
      sids: [`fc00:0:${(i % 50) + 10}:1::`],
    }));
    const r = await dp.changeRoutes('alpha', { add: routes });
    expect(r.failed).toEqual([]);
    expect(ns.ipJson(['route', 'show', 'table', '10000', 'proto', String(P)]).length).toBeGreaterThanOrEqual(10000);
    dp.stop();
    const restarted = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
    const r2 = await restarted.start();
    restarted.stop();
    expect(r2.operations).toBe(0);
    dp = restarted;
  });

  itWith(SRV6)("a VM's tap deleted while the agent is down: the restart reconciles the rest and reports it missing; re-created, it is configured", async () => {
    dp.stop();
    ns.ip(['link', 'del', 'tc0']); // gamma's only interface (and its End.DX6 cross-connect)
    ns.ip(['route', 'del', '10.1.0.0/24', 'table', String(dp.state.tenants.alpha.table)]); // a change the restart must repair
    const restarted = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name, debounceMs: 50 });
    dp = restarted;
    const r = await restarted.start();
    expect({ failed: r.failed, missing: r.missing }).toEqual({ failed: [], missing: ['tc0'] });
    expect([...restarted.missingInterfaces]).toEqual(['tc0']);
    expect(ns.ipJson(['route', 'show', 'table', String(dp.state.tenants.alpha.table), '10.1.0.0/24'])).toHaveLength(1);
    // The tap comes back (the VM restarted): the monitor's link event brings it in.
    ns.vethPairs([['tc0', 'tc1']]);
    await eventually(() => !restarted.missingInterfaces.has('tc0'), scaled(5000));
    const [tc0] = ns.ipJson(['addr', 'show', 'dev', 'tc0']);
    expect(tc0.mtu).toBe(1500 - 64);
    expect(tc0.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['10.9.0.1/24', 'fd00:c::1/64']));
    expect(ns.ipJson(['-6', 'route', 'show', 'table', 'all', 'fd00:c::2/128']).filter((x: any) => x.dev === 'tc0')).toHaveLength(1);
  });

  itWith(SRV6)('a tenant deleted while its tap is gone forgets the tap: a foreign link given the name later is never touched', async () => {
    ns.ip(['link', 'del', 'tc0']);
    await eventually(() => dp.missingInterfaces.has('tc0'), scaled(5000));
    expect((await dp.deleteTenant('gamma')).failed).toEqual([]);
    expect(dp.state.originalMtu).not.toHaveProperty('tc0');
    ns.ip(['link', 'add', 'tc0', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'tc1']);
    await dp.resync();
    const [tc0] = ns.ipJson(['link', 'show', 'tc0']);
    expect({ mtu: tc0.mtu, master: tc0.master }).toEqual({ mtu: 9000, master: undefined });
    expect(dp.missingInterfaces.size).toBe(0);
  });
});
