// Kernel tier: XdpOffload's lifecycle against the running kernel: SID map sync, pinned bpf_links
// in native mode, surviving a restart, atomic program replacement, detaching, generic fallback,
// stale pins, and pinned maps of an older layout.
//
//   host: nothing is attached here
//   netns srv6t-xdpoff-<pid>-<rnd>
//     u0 (ifindex 10) ═ veth ═ u0p     underlay, XDP attach point
//     u1 (ifindex 12) ═ veth ═ u1p     underlay, XDP attach point
//     ta (ifindex 20) ═ veth ═ tap     a tenant interface (egress)
//   bpffs: /sys/fs/bpf/srv6t-xdpoff-<rnd>/<netns>/   pins of this run, removed in afterAll
//
// Independent observers: `ip -j link` (which program the device runs, in which mode) and
// `bpftool -j map dump pinned` (the SID map's bytes, decoded here, not by src/xdp/layout.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';

import { XdpAction, xdpMd } from '../bpf/libbpf';
import { packageRoot } from '../native/addon';
import { InvalidArgumentError } from '../netlink/errors';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { srv6Frame, udp4Packet } from '../testing/packet-builder';
import { ensureBpffs, XdpOffload, XdpSidEntry } from './xdp-offload';

const ROOT = packageRoot();
let ns: TestNetns;
let pinRoot: string;
const opened: XdpOffload[] = [];
const warnings: string[] = [];

async function open(extra: Partial<Parameters<typeof XdpOffload.open>[0]> = {}): Promise<XdpOffload> {
  const o = await XdpOffload.open({ netns: ns.name, pinRoot, warn: (m) => warnings.push(m), ...extra });
  opened.push(o);
  return o;
}

function xdpOf(dev: string): { mode?: number; progId?: number } {
  const [l] = ns.ipJson<Array<{ xdp?: { mode: number; prog?: { id: number } } }>>(['link', 'show', 'dev', dev]);
  return { mode: l?.xdp?.mode, progId: l?.xdp?.prog?.id };
}
const XDP_MODE_DRV = 1;
const XDP_MODE_SKB = 2;

/** The SID map as bpftool dumps it, decoded with plain byte reads. */
function dumpSids(pinDir: string): Record<string, { action: number; table: number; oif: number; flags: number; nh4: string }> {
  const out = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', path.join(pinDir, 'srv6_sids')], { encoding: 'utf8' });
  const res: Record<string, { action: number; table: number; oif: number; flags: number; nh4: string }> = {};
  for (const e of JSON.parse(out) as Array<{ key: string[]; value: string[] }>) {
    const k = Buffer.from(e.key.map((x) => parseInt(x, 16)));
    const v = Buffer.from(e.value.map((x) => parseInt(x, 16)));
    const groups = Array.from({ length: 8 }, (_, i) => k.readUInt16BE(2 * i).toString(16)).join(':');
    res[groups] = {
      action: v.readUInt32LE(0),
      table: v.readUInt32LE(4),
      oif: v.readUInt32LE(8),
      flags: v.readUInt32LE(12),
      nh4: [...v.subarray(20, 24)].join('.'),
    };
  }
  return res;
}

const ENTRIES: XdpSidEntry[] = [
  { sid: 'fc00:0:2::a4', action: 'End.DT4', table: 100, egress: [20] },
  { sid: 'fc00:0:2::a6', action: 'End.DT6', table: 100, egress: [20] },
  { sid: 'fc00:0:2::d4', action: 'End.DX4', nh4: '10.1.0.5', oif: 20 },
];

beforeAll(() => {
  execFileSync('make', ['-C', path.join(ROOT, 'bpf'), '-s']);
  ensureBpffs('/sys/fs/bpf');
  pinRoot = mkdtempSync('/sys/fs/bpf/srv6t-xdpoff-');
  ns = TestNetns.create('xdpoff');
  ns.ipBatch([
    'link add name u0 index 10 type veth peer name u0p index 11',
    'link add name u1 index 12 type veth peer name u1p index 13',
    'link add name ta index 20 type veth peer name tap index 21',
    ...['u0', 'u0p', 'u1', 'u1p', 'ta', 'tap'].map((d) => `link set dev ${d} up`),
  ]);
});

afterAll(() => {
  for (const o of opened) o.close();
  // Links pinned by this run: detach by unpinning after the namespace (and its devices) is gone.
  destroyAllNetns();
  if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
});

describe('XdpOffload.sync', () => {
  let off: XdpOffload;
  beforeAll(async () => {
    off = await open({ pinTag: 'sync' });
  });

  it('makes the SID map exactly the entries, and reports what changed', () => {
    expect(off.sync(ENTRIES)).toEqual({ added: 3, updated: 0, deleted: 0, unchanged: 0, egressAdded: 1, egressDeleted: 0 });
    expect(dumpSids(off.pinDir)).toEqual({
      'fc00:0:2:0:0:0:0:a4': { action: 1, table: 100, oif: 0, flags: 0, nh4: '0.0.0.0' },
      'fc00:0:2:0:0:0:0:a6': { action: 2, table: 100, oif: 0, flags: 0, nh4: '0.0.0.0' },
      'fc00:0:2:0:0:0:0:d4': { action: 4, table: 0, oif: 20, flags: 0, nh4: '10.1.0.5' },
    });
    expect(off.egress()).toEqual([20]);
    // Idempotent.
    expect(off.sync(ENTRIES)).toEqual({ added: 0, updated: 0, deleted: 0, unchanged: 3, egressAdded: 0, egressDeleted: 0 });
  });

  it('updates in place, deletes what is gone, and shrinks the egress set', () => {
    const next: XdpSidEntry[] = [
      { sid: 'fc00:0:2:0::a4', action: 'End.DT4', table: 101, egress: [20] }, // same SID, other spelling
      { sid: 'fc00:0:2::b4', action: 'End.DT4', table: 200, egress: [22], shadow: true },
    ];
    expect(off.sync(next)).toEqual({ added: 1, updated: 1, deleted: 2, unchanged: 0, egressAdded: 1, egressDeleted: 0 });
    expect(dumpSids(off.pinDir)).toEqual({
      'fc00:0:2:0:0:0:0:a4': { action: 1, table: 101, oif: 0, flags: 0, nh4: '0.0.0.0' },
      'fc00:0:2:0:0:0:0:b4': { action: 1, table: 200, oif: 0, flags: 1, nh4: '0.0.0.0' },
    });
    expect(off.egress()).toEqual([20, 22]);
    expect(off.sync([next[1]])).toMatchObject({ deleted: 1, unchanged: 1, egressDeleted: 1 });
    expect(off.egress()).toEqual([22]);
    expect(off.sync([])).toMatchObject({ deleted: 1, egressDeleted: 1 });
    expect(dumpSids(off.pinDir)).toEqual({});
  });

  it.each([
    ['a duplicate SID', [ENTRIES[0], { ...ENTRIES[0], table: 7 }]],
    ['End.DT4 without a table', [{ sid: 'fc00::1', action: 'End.DT4' }]],
    ['an IPv4 next hop on End.DX6', [{ sid: 'fc00::1', action: 'End.DX6', nh4: '10.0.0.1' }]],
    ['a SID that is not IPv6', [{ sid: '10.0.0.1', action: 'End.DX4' }]],
    ['an unknown behaviour', [{ sid: 'fc00::1', action: 'End.B6' }]],
    ['a negative ifindex', [{ sid: 'fc00::1', action: 'End.DX4', oif: -1 }]],
  ])('refuses %s and leaves the map alone', (_what, entries) => {
    off.sync(ENTRIES);
    const before = dumpSids(off.pinDir);
    expect(() => off.sync(entries as XdpSidEntry[])).toThrow(InvalidArgumentError);
    expect(dumpSids(off.pinDir)).toEqual(before);
  });

  it('a new SID never inherits the counters of a deleted one', async () => {
    off.sync([ENTRIES[0]]);
    const frame = srv6Frame({
      ethDst: '02:00:00:00:00:10',
      ethSrc: '02:00:00:00:00:11',
      outerSrc: 'fc00:0:1::1',
      sid: ENTRIES[0].sid,
      inner: udp4Packet({ src: '10.0.0.9', dst: '10.0.0.5', ttl: 1 }),
    });
    const r = await off.program.testRun({ data: frame, ctx: xdpMd(frame.length, { ingressIfindex: 10 }), netns: ns.name });
    expect(r.retval).toBe(XdpAction.Pass);
    expect(off.counters()).toEqual([expect.objectContaining({ sid: 'fc00:0:2::a4', passed: { ttl: 1 } })]);
    off.sync([ENTRIES[1]]); // a4 goes, a6 comes: it gets a4's slot, zeroed
    expect(off.counters()).toEqual([{ sid: 'fc00:0:2::a6', action: 'End.DT6', packets: 0, bytes: 0, passed: {} }]);
    off.sync([]);
  });
});

describe('XdpOffload links', () => {
  const tag = 'links';
  let first: XdpOffload;

  it('attaches in native mode through pinned bpf_links, after the SIDs are in place', async () => {
    first = await open({ pinTag: tag });
    const res = await first.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
    expect(res.sync.added).toBe(3);
    const prog = first.program.info().id;
    expect(res.attachments).toEqual([
      expect.objectContaining({ ifname: 'u0', ifindex: 10, mode: 'native', progId: prog }),
      expect.objectContaining({ ifname: 'u1', ifindex: 12, mode: 'native', progId: prog }),
    ]);
    expect(res.attachments.some((a) => a.fallback)).toBe(false);
    expect(xdpOf('u0')).toEqual({ mode: XDP_MODE_DRV, progId: prog });
    expect(xdpOf('u1')).toEqual({ mode: XDP_MODE_DRV, progId: prog });
    expect(
      readdirSync(first.pinDir)
        .filter((f) => f.startsWith('link_'))
        .sort(),
    ).toEqual(['link_u0', 'link_u1']);
    // Applying again changes nothing.
    const again = await first.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
    expect(again).toMatchObject({ detached: [], updated: [], sync: { unchanged: 3 } });
  });

  it('survives a restart: closing leaves everything attached, reopening changes nothing', async () => {
    const prog = first.program.info().id;
    const linkIds = (await first.attachments()).map((a) => a.linkId);
    first.close();
    expect(xdpOf('u0').progId).toBe(prog); // still attached with no process holding it
    const second = await open({ pinTag: tag });
    expect(
      second
        .entries()
        .map((e) => e.sid)
        .sort(),
    ).toEqual(['fc00:0:2::a4', 'fc00:0:2::a6', 'fc00:0:2::d4']);
    const res = await second.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
    expect(res).toMatchObject({ updated: [], detached: [], sync: { added: 0, updated: 0, deleted: 0, unchanged: 3 } });
    expect(res.attachments.map((a) => [a.linkId, a.progId])).toEqual(linkIds.map((id) => [id, prog]));
    expect(xdpOf('u0').progId).toBe(prog);
    second.close();
  });

  it('replaces the program atomically when the build or its configuration differs', async () => {
    const before = await (await open({ pinTag: tag })).attachments();
    const upgraded = await open({ pinTag: tag, shadow: true });
    expect(xdpOf('u0').progId).toBe(before[0].progId); // open() alone replaces nothing
    const res = await upgraded.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
    const prog = upgraded.program.info().id;
    expect(prog).not.toBe(before[0].progId);
    expect(res.updated).toEqual(['u0', 'u1']);
    // The same links (bpf_link_update), now running the new program.
    expect(res.attachments.map((a) => [a.ifname, a.linkId, a.progId])).toEqual(before.map((a) => [a.ifname, a.linkId, prog]));
    expect(xdpOf('u0')).toEqual({ mode: XDP_MODE_DRV, progId: prog });
  });

  it('detaches from an interface that is no longer an underlay, then from all when no SID is left', async () => {
    const off = await open({ pinTag: tag, shadow: true });
    const res = await off.apply({ underlay: ['u0'], entries: ENTRIES });
    expect(res.detached).toEqual(['u1']);
    expect(xdpOf('u1').progId).toBeUndefined();
    expect(existsSync(path.join(off.pinDir, 'link_u1'))).toBe(false);
    const last = await off.apply({ underlay: ['u0'], entries: [] });
    expect(last.detached).toEqual(['u0']);
    expect(last.sync.deleted).toBe(3);
    expect(xdpOf('u0').progId).toBeUndefined();
    expect(readdirSync(off.pinDir).filter((f) => f.startsWith('link_'))).toEqual([]);
  });

  it('puts End.DX4 SIDs in shadow mode while an underlay has IPv4 rp_filter on, and says why', async () => {
    const off = await open({ pinTag: 'rpf' });
    ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.u1.rp_filter=2']);
    try {
      const res = await off.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
      expect(res.shadowed).toEqual([{ sid: 'fc00:0:2::d4', reason: expect.stringMatching(/rp_filter is on for underlay u1/) }]);
      expect(dumpSids(off.pinDir)['fc00:0:2:0:0:0:0:d4'].flags).toBe(1); // SRV6_XDP_F_SHADOW
      expect(dumpSids(off.pinDir)['fc00:0:2:0:0:0:0:a4'].flags).toBe(0);
      ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.u1.rp_filter=0']);
      const again = await off.apply({ underlay: ['u0', 'u1'], entries: ENTRIES });
      expect(again.shadowed).toEqual([]);
      expect(again.sync.updated).toBe(1);
      expect(dumpSids(off.pinDir)['fc00:0:2:0:0:0:0:d4'].flags).toBe(0);
    } finally {
      ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.u1.rp_filter=0']);
      off.destroy();
    }
  });

  it('refuses an underlay that does not exist', async () => {
    const off = await open({ pinTag: tag });
    await expect(off.apply({ underlay: ['nope0'], entries: ENTRIES })).rejects.toThrow(/no interface nope0/);
    off.sync([]);
  });
});

describe('XdpOffload fallbacks and leftovers', () => {
  it('falls back to generic mode where native is impossible, and says so', async () => {
    warnings.length = 0;
    const off = await open({ pinTag: 'generic' });
    const res = await off.apply({ underlay: ['lo'], entries: ENTRIES });
    expect(res.attachments).toEqual([expect.objectContaining({ ifname: 'lo', mode: 'generic', fallback: expect.stringMatching(/^native mode: E/) })]);
    expect(xdpOf('lo').mode).toBe(XDP_MODE_SKB);
    expect(warnings.some((w) => /lo: native mode.*generic mode/.test(w))).toBe(true);
    off.destroy();
    expect(xdpOf('lo').progId).toBeUndefined();
  });

  it('never falls back when told not to', async () => {
    const off = await open({ pinTag: 'nofallback', genericFallback: false });
    await expect(off.apply({ underlay: ['lo'], entries: ENTRIES })).rejects.toMatchObject({ name: 'BpfError' });
    expect(xdpOf('lo').progId).toBeUndefined();
    off.destroy();
  });

  it('forgets the pin of a link whose device was deleted', async () => {
    ns.ipBatch(['link add name gone0 type veth peer name gone1', 'link set dev gone0 up', 'link set dev gone1 up']);
    const off = await open({ pinTag: 'gone' });
    await off.apply({ underlay: ['gone0'], entries: ENTRIES });
    off.close();
    ns.ip(['link', 'del', 'gone0']);
    warnings.length = 0;
    const again = await open({ pinTag: 'gone' });
    expect(warnings.some((w) => /link_gone0 is detached/.test(w))).toBe(true);
    expect(existsSync(path.join(again.pinDir, 'link_gone0'))).toBe(false);
    expect(await again.attachments()).toEqual([]);
    again.destroy();
  });

  it('lets go of a link whose device was deleted while it ran', async () => {
    ns.ipBatch(['link add name gone2 type veth peer name gone3', 'link set dev gone2 up', 'link set dev gone3 up']);
    const off = await open({ pinTag: 'gone-live' });
    await off.apply({ underlay: ['gone2', 'u0'], entries: ENTRIES });
    ns.ip(['link', 'del', 'gone2']);
    const res = await off.apply({ underlay: ['u0'], entries: ENTRIES });
    expect(res.detached).toEqual(['gone2']);
    expect(res.attachments.map((a) => a.ifname)).toEqual(['u0']);
    expect(existsSync(path.join(off.pinDir, 'link_gone2'))).toBe(false);
    off.destroy();
  });

  it('replaces pinned maps of another layout (an upgrade) instead of failing', async () => {
    const dir = path.join(pinRoot, 'oldlayout');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('bpftool', ['map', 'create', path.join(dir, 'srv6_sids'), 'type', 'hash', 'key', '16', 'value', '8', 'entries', '16', 'name', 'srv6_sids']);
    warnings.length = 0;
    const off = await open({ pinTag: 'oldlayout' });
    expect(warnings.some((w) => /do not match/.test(w))).toBe(true);
    expect(off.sync(ENTRIES).added).toBe(3);
    expect(Object.keys(dumpSids(off.pinDir))).toHaveLength(3);
    off.destroy();
  });
});
