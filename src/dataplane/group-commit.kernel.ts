// Jobs that queue up behind a running one are taken as a group: one write of the desired state
// for all of them, each still with its own result and its own failure. Checked with iproute2.
//
//   netns srv6t-grp-*:  ul0 <-> ul1 (underlay)   t0..t19 <-> p0..p19 (one interface per tenant)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError } from '../netlink/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { MissingInterfaceError } from './planner';
import { Dataplane } from './dataplane';
import { DesiredStateStore } from './state-store';
import type { TenantSpecDto } from './spec.dto';

jest.setTimeout(scaled(60000));

const MODE = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const N = 20;

let ns: TestNetns;
let nl: Rtnetlink;
let dir: string;
let dp: Dataplane;
let saves = 0;

const tenant = (i: number, itf = `t${i}`): TenantSpecDto => ({
  id: `g${i}`,
  behaviour: 'End.DT6',
  interfaces: [{ name: itf, gateways: [`fd00:${i + 1}::1/64`] }],
  routes: [{ prefix: `fd10:${i + 1}::/64`, sids: [`fc00:0:2:${i + 1}::`] }],
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'srv6-grp-'));
  ns = TestNetns.create('grp');
  ns.vethPairs([['ul0', 'ul1'], ...Array.from({ length: N }, (_, i) => [`t${i}`, `p${i}`] as [string, string])]);
  nl = Rtnetlink.open({ netns: ns.name });
  const store = new DesiredStateStore(dir);
  const save = store.saveAsync.bind(store);
  store.saveAsync = (s) => {
    saves++;
    return save(s);
  };
  dp = new Dataplane({ nl, store, mode: MODE, netns: ns.name, debounceMs: 50 });
  await dp.start();
  expect((await dp.upsertNode({ underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 })).failed).toEqual([]);
});

afterAll(() => {
  dp?.stop();
  nl?.close();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

describe(`group commit (${MODE} mode)`, () => {
  itWith(SRV6)('a burst of tenant jobs: each its own result, fewer state writes than jobs, the kernel complete', async () => {
    const before = saves;
    const bad = { ...tenant(99), interfaces: [{ name: 'nosuch0', gateways: ['fd00:99::1/64'] }] };
    const jobs = [...Array.from({ length: N }, (_, i) => tenant(i))];
    jobs.splice(7, 0, bad); // a job that cannot be planned, in the middle of the burst
    // Behind a resync, so that even the first tenants go as a group: in VRF mode each of them
    // plans the node-wide moved local rule, which only one may create.
    const [resync, ...results] = await Promise.allSettled([dp.resync(), ...jobs.map((t) => dp.upsertTenant(t))]);
    expect(resync.status).toBe('fulfilled');

    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, name: (r.reason as Error).name }] : []));
    expect(failed).toEqual([{ i: 7, name: 'MissingInterfaceError' }]);
    for (const r of results) if (r.status === 'fulfilled') expect(r.value.failed).toEqual([]);
    // every job reports its own tenant's objects: one nexthop and its routes, nothing of the others
    for (const r of results) if (r.status === 'fulfilled') expect(r.value.created.nexthop).toBe(1);
    // versions rise in submission order
    const versions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version] : []));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(N);
    // the first job ran alone, the rest queued behind it and went as groups
    expect(saves - before).toBeLessThan(N);

    expect(dp.state.tenants.g99).toBeUndefined();
    for (let i = 0; i < N; i++) {
      const table = dp.state.tenants[`g${i}`].table;
      const routes = ns.ipJson(['-6', 'route', 'show', 'table', String(table), `fd10:${i + 1}::/64`]);
      expect(routes).toHaveLength(1);
      expect(ns.ipJson(['-6', 'addr', 'show', 'dev', `t${i}`]).flatMap((l: any) => l.addr_info.map((a: any) => a.local))).toContain(`fd00:${i + 1}::1`);
    }
  });

  itWith(SRV6)('an interface handed from one tenant to another in the same burst ends with the new tenant', async () => {
    const moved = { ...tenant(50, 't3'), interfaces: [{ name: 't3', gateways: ['fd00:4::1/64'] }] }; // g3's gateway
    // The first job runs alone; the two behind it would form a group but share t3.
    const [, del, up] = await Promise.all([dp.upsertTenant({ ...tenant(5), routes: [] }), dp.deleteTenant('g3'), dp.upsertTenant(moved)]);
    expect(del.failed).toEqual([]);
    expect(up.failed).toEqual([]);
    expect(ns.ipJson(['-6', 'addr', 'show', 'dev', 't3']).flatMap((l: any) => l.addr_info.map((a: any) => a.local))).toContain('fd00:4::1');
    expect((await dp.resync()).operations).toBe(0);
  });

  itWith(SRV6)('a resync after the bursts changes nothing, and a restart reads back the last state', async () => {
    expect((await dp.resync()).operations).toBe(0);
    // an orchestrator's periodic full push: the same spec again is no new version and no write
    const [v, written] = [dp.state.version, saves];
    const same = await dp.upsertTenant(tenant(0));
    expect({ version: same.version, operations: same.operations, writes: saves - written }).toEqual({ version: v, operations: 0, writes: 0 });
    const again = new DesiredStateStore(dir).load();
    expect(Object.keys(again.tenants).sort()).toEqual(Object.keys(dp.state.tenants).sort());
    expect(again.version).toBe(dp.state.version);
  });

  itWith(SRV6)('a job the kernel answers EBUSY is retried in place: the job behind it on the same tenant is not overtaken', async () => {
    // The kernel's busy answers cannot be provoked on demand: the first request for prefix
    // fd20::/64 gets EBUSY (16) in place of the kernel's answer, once.
    const batch = nl.batch.bind(nl);
    let injected = 0;
    nl.batch = async (reqs, opts) => {
      const list = [...reqs];
      const res = await batch(list, opts);
      return res.map((r, i) =>
        injected === 0 && list[i].what.includes('fd20::/64') && ++injected
          ? { ok: false as const, error: new KernelError(16, { type: 0, flags: 0, seq: 0, what: list[i].what }) }
          : r,
      );
    };
    try {
      const t = tenant(8);
      // a and b are about g8 but not adjacent (c between them), so they are not coalesced: b
      // runs in the round after a's, and a's retry must happen before it.
      const [, a, , b] = await Promise.all([
        dp.upsertTenant({ ...tenant(9), routes: [] }), // runs alone; the three below queue behind it
        dp.changeRoutes('g8', { add: [{ prefix: 'fd20::/64', sids: ['fc00:0:2:99::'] }] }),
        dp.changeRoutes('g9', { add: [{ prefix: 'fd40::/64', sids: ['fc00:0:2:97::'] }] }),
        dp.changeRoutes('g8', { set: [{ prefix: 'fd30::/64', sids: ['fc00:0:2:98::'] }] }),
      ]);
      expect(a.coalesced).toBeUndefined();
      expect(injected).toBe(1);
      expect(a.failed).toEqual([]); // succeeded on its second attempt
      expect(b.failed).toEqual([]);
      expect(a.version).toBeLessThan(b.version);
      // b replaced the whole route set after a had finished: fd20::/64 is gone again, fd30::/64 is there
      const table = String(dp.state.tenants.g8.table);
      const dsts = ns.ipJson(['-6', 'route', 'show', 'table', table]).map((r: any) => r.dst);
      expect(dsts).toContain('fd30::/64');
      expect(dsts).not.toContain('fd20::/64');
      expect(dsts).not.toContain(t.routes[0].prefix);
    } finally {
      nl.batch = batch;
    }
  });

  itWith(SRV6)('consecutive jobs about one tenant are coalesced: one plan, every job its own version, the kernel at the last', async () => {
    const sid = (i: number) => `fc00:0:2:${0x100 + i}::`;
    const jobs = [
      dp.upsertTenant({ ...tenant(11), routes: [] }), // another tenant: runs alone or as its own member
      ...Array.from({ length: 6 }, (_, i) => dp.changeRoutes('g10', { set: [{ prefix: 'fd50::/64', sids: [sid(i)] }] })),
      dp.changeRoutes('g10', { set: [{ prefix: 'fd50::/64', sids: [sid(5)] }] }), // asks for nothing new
      dp.changeRoutes('g10', { add: [{ prefix: 'fd51::/64', sids: [sid(5)] }] }),
    ];
    const [first, ...rest] = await Promise.all(jobs);
    expect(first.coalesced).toBeUndefined();
    for (const r of rest) expect({ coalesced: r.coalesced, failed: r.failed }).toEqual({ coalesced: rest.length, failed: [] });
    const versions = rest.map((r) => r.version);
    // in submission order; the no-op job keeps the version before it
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(versions[6]).toBe(versions[5]);
    expect(rest[6].operations).toBe(0);
    expect(rest[7].operations).toBeGreaterThan(0);
    // the kernel holds the last SID only: the intermediate ones were never installed or are gone
    const table = String(dp.state.tenants.g10.table);
    const routes = ns.ipJson(['-6', 'route', 'show', 'table', table]);
    expect(routes.filter((r: any) => r.type === 'throw').map((r: any) => r.dst)).toEqual([`${sid(5)}`]);
    expect(routes.filter((r: any) => r.dst === 'fd50::/64' || r.dst === 'fd51::/64')).toHaveLength(2);
    expect(dp.state.version).toBe(versions[7]);
    expect((await dp.resync()).operations).toBe(0);
  });

  itWith(SRV6)('a coalesced run whose plan fails runs again job by job: only the bad job fails', async () => {
    const results = await Promise.allSettled([
      dp.upsertTenant({ ...tenant(11), routes: [] }),
      dp.changeRoutes('g10', { set: [{ prefix: 'fd60::/64', sids: ['fc00:0:2:200::'] }] }),
      dp.upsertTenant({ ...tenant(10), interfaces: [{ name: 'nosuch0', gateways: ['fd00:99::1/64'] }] }), // no such interface: its plan fails
      dp.changeRoutes('g10', { add: [{ prefix: 'fd61::/64', sids: ['fc00:0:2:201::'] }] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(MissingInterfaceError);
    const table = String(dp.state.tenants.g10.table);
    const dsts = ns.ipJson(['-6', 'route', 'show', 'table', table]).map((r: any) => r.dst);
    expect(dsts).toEqual(expect.arrayContaining(['fd60::/64', 'fd61::/64']));
    expect(dp.state.tenants.g10.interfaces.map((i) => i.name)).toEqual([tenant(10).interfaces[0].name]);
    expect((await dp.resync()).operations).toBe(0);
  });
});
