// Node jobs against a real kernel: they need no SRv6, so they run on every kernel (table mode here,
// VRF mode where the kernel has VRF). Observed with iproute2.
//
//   netns srv6t-node-*:  ul0 <-> ul1, ul2 <-> ul3   underlay candidates
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NetlinkSocketError } from '../netlink/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { kernelHas } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { Dataplane } from './dataplane';
import { DesiredStateStore } from './state-store';

const MODE = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };

let ns: TestNetns;
let nl: Rtnetlink;
let dir: string;
let dp: Dataplane;

beforeAll(async () => {
  ns = TestNetns.create('node');
  ns.vethPairs([
    ['ul0', 'ul1'],
    ['ul2', 'ul3'],
  ]);
  nl = Rtnetlink.open({ netns: ns.name });
  dir = mkdtempSync(join(tmpdir(), 'srv6t-node-'));
  dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
  await dp.start();
});
afterAll(() => {
  dp?.stop();
  nl?.close();
  destroyAllNetns();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The table-mode jumps over the tenant rules, per underlay interface, as iproute2 shows them. */
const gotoIifs = () =>
  [...ns.ipJson(['-4', 'rule', 'show']), ...ns.ipJson(['-6', 'rule', 'show'])]
    .filter((r: any) => r.goto !== undefined)
    .map((r: any) => r.iif)
    .sort();

describe(`node jobs (${MODE} mode)`, () => {
  it('an underlay interface that does not exist: refused naming it; the state, rules and sysctls unchanged', async () => {
    const before = ns.kernelSnapshot();
    const version = dp.state.version;
    await expect(dp.upsertNode({ ...node, underlay: ['ul0', 'nosuch0'] })).rejects.toMatchObject({
      name: 'MissingInterfaceError',
      ifname: 'nosuch0',
      message: 'underlay interface nosuch0 does not exist on this hypervisor',
    });
    expect(dp.state.version).toBe(version);
    expect(dp.state.node).toBeUndefined();
    expect(ns.kernelSnapshot()).toEqual(before);
  });

  it("an underlayMtu above the underlay link's MTU: refused naming the field; nothing changes", async () => {
    const before = ns.kernelSnapshot();
    await expect(dp.upsertNode({ ...node, underlayMtu: 9000 })).rejects.toMatchObject({
      field: 'underlayMtu',
      message: expect.stringContaining("more than ul0's MTU (1500)"),
    });
    expect(dp.state.node).toBeUndefined();
    expect(ns.kernelSnapshot()).toEqual(before);
    ns.ip(['link', 'set', 'ul0', 'mtu', '9000']);
    try {
      expect((await dp.upsertNode({ ...node, underlayMtu: 9000 })).failed).toEqual([]);
      expect((await dp.upsertNode(node)).failed).toEqual([]);
    } finally {
      ns.ip(['link', 'set', 'ul0', 'mtu', '1500']);
    }
  });

  it("the node's encapSource is the namespace's seg6 tunnel source (ip sr tunsrc), set again after a foreign change", async () => {
    const tunsrc = () => ns.ip(['sr', 'tunsrc', 'show']).trim();
    expect((await dp.upsertNode(node)).failed).toEqual([]);
    expect(tunsrc()).toBe('tunsrc addr fc00:0:1::1');
    const r = await dp.upsertNode({ ...node, encapSource: 'fc00:0:1::2' });
    expect({ failed: r.failed, updated: r.updated.tunsrc }).toEqual({ failed: [], updated: 1 });
    expect(tunsrc()).toBe('tunsrc addr fc00:0:1::2');
    ns.ip(['sr', 'tunsrc', 'set', 'fc00:9::9']);
    expect((await dp.resync()).updated.tunsrc).toBe(1);
    expect(tunsrc()).toBe('tunsrc addr fc00:0:1::2');
    expect((await dp.resync()).operations).toBe(0);
    expect((await dp.upsertNode(node)).failed).toEqual([]);
  });

  it("a new underlay: the old interface's rules go, the new one's come, seg6 is enabled on it; a resync then changes nothing", async () => {
    expect((await dp.upsertNode(node)).failed).toEqual([]);
    if (MODE === 'table') expect(gotoIifs()).toEqual(['lo', 'lo', 'ul0', 'ul0']);
    const r = await dp.upsertNode({ ...node, underlay: ['ul2'] });
    expect(r.failed).toEqual([]);
    if (MODE === 'table') expect(gotoIifs()).toEqual(['lo', 'lo', 'ul2', 'ul2']);
    expect(ns.exec('sysctl', ['-n', 'net.ipv6.conf.ul2.seg6_enabled']).trim()).toBe('1');
    expect((await dp.resync()).operations).toBe(0);
  });

  it('the underlay no longer used gets back the seg6_enabled it had before the agent set it, also after a restart (issue 15, defect 11)', async () => {
    const seg6 = (dev: string) => ns.exec('sysctl', ['-n', `net.ipv6.conf.${dev}.seg6_enabled`]).trim();
    // ul0 and ul2 were made with the namespace's default, which the agent never sets
    expect(seg6('default')).toBe('0');
    expect((await dp.upsertNode(node)).failed).toEqual([]);
    expect([seg6('ul0'), seg6('ul2')]).toEqual(['1', '0']);
    expect((await dp.upsertNode({ ...node, underlay: ['ul2'] })).failed).toEqual([]);
    expect([seg6('ul0'), seg6('ul2')]).toEqual(['0', '1']);
    expect((await dp.resync()).operations).toBe(0);
    // a new agent on the same state directory still knows ul2's value from before
    dp.stop();
    dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name });
    expect((await dp.start()).operations).toBe(0);
    expect((await dp.upsertNode(node)).failed).toEqual([]);
    expect([seg6('ul0'), seg6('ul2')]).toEqual(['1', '0']);
    expect((await dp.resync()).operations).toBe(0);
  });
});

describe('a job that fails on a transient error after its state was written ahead', () => {
  it('is undone and retried in place, before the job queued behind it: the newer job wins', async () => {
    // The apply after the write-ahead save: every job (and its undo) goes through it.
    const rec = (dp as unknown as { reconciler: { apply: (p: unknown, scope: unknown) => Promise<unknown> } }).reconciler;
    const real = rec.apply.bind(rec);
    let thrown = 0;
    rec.apply = async (p, scope) => {
      if (thrown++ === 0) throw new NetlinkSocketError('socket closed under us'); // written ahead, then the socket fails mid-apply
      return real(p, scope);
    };
    try {
      const v = dp.state.version;
      const order: string[] = [];
      const older = dp.upsertNode({ ...node, underlayMtu: 1400 }).then((r) => (order.push('older'), r));
      const newer = dp.upsertNode({ ...node, underlayMtu: 1450 }).then((r) => (order.push('newer'), r));
      const [a, b] = await Promise.all([older, newer]);
      expect(thrown).toBeGreaterThan(1);
      expect(order).toEqual(['older', 'newer']);
      expect([a.version, b.version]).toEqual([v + 1, v + 2]);
      expect(dp.state.node?.underlayMtu).toBe(1450);
    } finally {
      rec.apply = real;
    }
    expect((await dp.upsertNode(node)).failed).toEqual([]);
  });
});

describe('a start without any desired state, in a kernel holding objects of the agent (its state directory lost)', () => {
  let other: TestNetns;
  let onl: Rtnetlink;
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'srv6t-orphans-'));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    other = TestNetns.create('orphans');
    other.vethPairs([['ul0', 'ul1']]);
    onl = Rtnetlink.open({ netns: other.name });
    const first = new Dataplane({ nl: onl, store: new DesiredStateStore(newDir()), mode: MODE, netns: other.name });
    await first.start();
    expect((await first.upsertNode(node)).failed).toEqual([]);
    first.stop();
  });
  afterAll(() => {
    onl?.close();
    other?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const ownRules = () =>
    [...other.ipJson(['-4', 'rule', 'show']), ...other.ipJson(['-6', 'rule', 'show'])].filter((r: any) => r.protocol === '196' || r.protocol === 196);

  it('is refused, naming what the kernel holds, and changes nothing', async () => {
    expect(ownRules().length).toBeGreaterThan(0);
    const before = other.kernelSnapshot();
    const dp2 = new Dataplane({ nl: onl, store: new DesiredStateStore(newDir()), mode: MODE, netns: other.name });
    await expect(dp2.start()).rejects.toMatchObject({
      name: 'StateMissingError',
      message: expect.stringMatching(
        new RegExp(`^no desired state in .*srv6t-orphans-.*, but the kernel holds objects of the agent \\(protocol 196: ${ownRules().length} rules\\)`),
      ),
    });
    dp2.stop();
    expect(other.kernelSnapshot()).toEqual(before);
  });

  it("with orphans: 'wipe' the startup reconcile deletes them", async () => {
    const dp2 = new Dataplane({ nl: onl, store: new DesiredStateStore(newDir()), mode: MODE, netns: other.name, orphans: 'wipe' });
    expect((await dp2.start()).failed).toEqual([]);
    dp2.stop();
    expect(ownRules()).toEqual([]);
  });
});
