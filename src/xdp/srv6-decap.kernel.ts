// Kernel tier: bpf/xdp/srv6_decap.bpf.c through BPF_PROG_TEST_RUN, one fixture table.
//
// Every fixture is a frame as it arrives on the underlay, the verdict, the reason the program
// must count (read from its own global counter around each run: exactly one reason moves by
// one), and for redirects the EXACT output frame, built here independently of the program
// (src/testing/packet-builder.ts: from-scratch checksums, TTL/hop limit lowered by `forwarded`,
// MACs from the neighbours the namespace was given). A pass must leave the frame byte-for-byte unchanged.
//
// The fib lookups need a namespace with routes and neighbours: src/testing/topology/fib-netns.ts
// draws it (devices, tables, neighbours, SIDs). Test runs execute in that namespace with
// ctx.ingress_ifindex = u0 (10); nothing is attached anywhere.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';

import { XdpAction, xdpMd } from '../bpf/libbpf';
import { packageRoot } from '../native/addon';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { Reason, REASONS } from './layout';
import {
  ETH_P,
  ethernet,
  forwarded,
  fragmentHeader,
  icmp4Echo,
  icmp6Echo,
  IPPROTO,
  ipv4,
  ipv6,
  optionsHeader,
  srh,
  srv6Frame,
  Srv6FrameOptions,
  udp,
  udp4Packet,
  udp6Packet,
} from '../testing/packet-builder';
import { createFibNetns, DEV, ENTRIES, MAC, OUTER_SRC, SID } from '../testing/topology/fib-netns';
import { ensureBpffs, XdpOffload } from './xdp-offload';

const ROOT = packageRoot();

interface Fixture {
  name: string;
  frame: Buffer;
  verdict: 'redirect' | 'pass';
  reason: Reason;
  /** The SID whose counters must move (none before the SID lookup). */
  sid?: string;
  /** Redirects: the exact frame that leaves. */
  out?: Buffer;
  /** Ingress device (default u0). */
  ingress?: number;
}

// ---- frame helpers ----

const V4 = { src: '10.0.0.9', dst: '10.0.0.5' };
const V6 = { src: 'fd00:a::9', dst: 'fd00:a::5' };

function encap(sid: string, inner: Buffer, extra: Partial<Srv6FrameOptions> = {}): Buffer {
  return srv6Frame({ ethDst: DEV.u0.mac, ethSrc: MAC.remote, outerSrc: OUTER_SRC, sid, inner, ...extra });
}
const withSrh = { srh: {} };

/** The frame that leaves towards `dstMac` out of `dev`: the inner packet, forwarded. */
function out(dev: { mac: string }, dstMac: string, inner: Buffer): Buffer {
  return ethernet({ dst: dstMac, src: dev.mac, type: inner[0] >> 4 === 4 ? ETH_P.IPV4 : ETH_P.IPV6 }, forwarded(inner));
}

/** An outer IPv6 frame with an arbitrary next header chain (extension header cases). */
function raw(sid: string, nextHeader: number, l3payload: Buffer, o: { payloadLength?: number; src?: string; ethDst?: string } = {}): Buffer {
  return ethernet(
    { dst: o.ethDst ?? DEV.u0.mac, src: MAC.remote, type: ETH_P.IPV6 },
    ipv6({ src: o.src ?? OUTER_SRC, dst: sid, nextHeader, payloadLength: o.payloadLength }, l3payload),
  );
}

const u4 = (o: Partial<Parameters<typeof udp4Packet>[0]> = {}) => udp4Packet({ ...V4, id: 0x1234, ...o });
const u6 = (o: Partial<Parameters<typeof udp6Packet>[0]> = {}) => udp6Packet({ ...V6, flowLabel: 0x12345, ...o });
const ping4 = ipv4({ ...V4, protocol: IPPROTO.ICMP, id: 7 }, icmp4Echo({ id: 0x77, seq: 1, data: Buffer.from('ping over SRv6') }));
const ping6 = ipv6({ ...V6, nextHeader: IPPROTO.ICMPV6 }, icmp6Echo(V6, { id: 0x77, seq: 1, data: Buffer.from('ping6 over SRv6') }));

/** An IPv4 packet whose header checksum is 0xfeff: lowering the TTL wraps the incremental update. */
function checksumEdge(): Buffer {
  for (let id = 0; id < 0x10000; id++) {
    const p = u4({ id, ttl: 64 });
    if (p.readUInt16BE(10) === 0xfeff) return p;
  }
  throw new Error('no IPv4 id gives checksum 0xfeff');
}

function fixtures(): Fixture[] {
  const f: Fixture[] = [];
  const redirect = (name: string, sid: string, inner: Buffer, dev: { mac: string }, dstMac: string, extra: Partial<Srv6FrameOptions> = {}) =>
    f.push({ name, frame: encap(sid, inner, extra), verdict: 'redirect', reason: 'redirect', sid, out: out(dev, dstMac, inner) });
  const passes = (name: string, reason: Reason, frame: Buffer, sid?: string, ingress?: number) =>
    f.push({ name, frame, verdict: 'pass', reason, sid, ingress });

  // ---- each behaviour, with and without SRH, each inner family it serves ----
  redirect('End.DT4, no SRH (reduced), UDP', SID.dt4A, u4(), DEV.ta, MAC.vmA);
  redirect('End.DT4, SRH with segments left 0, UDP', SID.dt4A, u4(), DEV.ta, MAC.vmA, withSrh);
  redirect('End.DT4, SRH of three segments, ICMP', SID.dt4A, ping4, DEV.ta, MAC.vmA, { srh: { segments: [SID.dt4A, 'fc00:0:5::1', 'fc00:0:6::1'] } });
  redirect('End.DT46, inner IPv4, no SRH', SID.dt46A, u4(), DEV.ta, MAC.vmA);
  redirect('End.DT46, inner IPv4, SRH', SID.dt46A, ping4, DEV.ta, MAC.vmA, withSrh);
  redirect('End.DT46, inner IPv6, no SRH', SID.dt46A, u6(), DEV.ta, MAC.vmA);
  redirect('End.DT46, inner IPv6, SRH', SID.dt46A, ping6, DEV.ta, MAC.vmA, withSrh);
  redirect('End.DT6, no SRH, ICMPv6', SID.dt6A, ping6, DEV.ta, MAC.vmA);
  redirect('End.DT6, SRH, UDP', SID.dt6A, u6(), DEV.ta, MAC.vmA, withSrh);
  redirect('End.DX4, no SRH, to nh4 (= inner destination)', SID.dx4, u4({ dst: '10.1.0.5' }), DEV.ta, MAC.dxVm);
  redirect(
    'End.DX4, SRH',
    SID.dx4,
    ipv4({ src: '10.0.0.9', dst: '10.1.0.5', protocol: IPPROTO.ICMP }, icmp4Echo({ id: 1, seq: 2 })),
    DEV.ta,
    MAC.dxVm,
    withSrh,
  );
  redirect('End.DX4 without nh4: the inner destination', SID.dx4Dst, u4({ dst: '10.1.0.5' }), DEV.ta, MAC.dxVm);
  redirect("End.DX4, nh4 behind a gateway: the gateway's MAC", SID.dx4Gw, u4({ dst: '10.1.0.77' }), DEV.ta, MAC.dxVm);
  redirect('End.DX6, no SRH, to nh6', SID.dx6, u6({ dst: 'fd00:d::5' }), DEV.ta, MAC.dxVm);
  redirect('End.DX4, next hop looked up in main directly', SID.dx4Main, u4({ dst: '10.1.0.5' }), DEV.ta, MAC.dxVm, withSrh);
  redirect('End.DX6, next hop looked up in main directly', SID.dx6Main, u6({ dst: 'fd00:d::5' }), DEV.ta, MAC.dxVm, withSrh);
  redirect(
    'End.DX6, SRH',
    SID.dx6,
    ipv6({ src: 'fd00:a::9', dst: 'fd00:d::5', nextHeader: IPPROTO.ICMPV6 }, icmp6Echo({ src: 'fd00:a::9', dst: 'fd00:d::5' }, { id: 3, seq: 4 })),
    DEV.ta,
    MAC.dxVm,
    withSrh,
  );

  // ---- tenants with the same prefixes: the SID alone decides ----
  redirect("tenant B End.DT4, same inner addresses as A: B's VM", SID.dt4B, u4(), DEV.tb, MAC.vmB);
  redirect("tenant B End.DT46 inner IPv6, same addresses as A: B's VM", SID.dt46B, u6(), DEV.tb, MAC.vmB, withSrh);

  // ---- forwarding details ----
  redirect('inner TTL 2 leaves with TTL 1', SID.dt4A, u4({ ttl: 2 }), DEV.ta, MAC.vmA);
  redirect('inner hop limit 2 leaves with 1', SID.dt6A, u6({ hopLimit: 2 }), DEV.ta, MAC.vmA);
  redirect('checksum 0xfeff: the incremental update wraps like ip_decrease_ttl', SID.dt4A, checksumEdge(), DEV.ta, MAC.vmA);
  redirect("tenant route via a gateway: the gateway's MAC", SID.dt4A, u4({ dst: '10.0.1.7' }), DEV.ta, MAC.gwA);
  redirect(
    'inner IPv4 fragment: forwarded as the kernel forwards it',
    SID.dt4A,
    ipv4({ ...V4, protocol: IPPROTO.UDP, df: false, mf: true, id: 99 }, Buffer.alloc(64, 7)),
    DEV.ta,
    MAC.vmA,
  );
  redirect('outer hop limit 1 (local delivery, not forwarding)', SID.dt4A, u4(), DEV.ta, MAC.vmA, { hopLimit: 1 });

  // ---- SRH ----
  passes('SRH with segments left 1', 'segments_left', encap(SID.dt4A, u4(), { srh: { segments: ['fc00:0:9::1', SID.dt4A], segmentsLeft: 1 } }), SID.dt4A);
  passes('SRH with a TLV after the segments', 'srh', encap(SID.dt4A, u4(), { srh: { tlvs: Buffer.from([4, 6, 0, 0, 0, 0, 0, 0]) } }), SID.dt4A);
  passes('SRH with the HMAC flag', 'srh', encap(SID.dt4A, u4(), { srh: { flags: 0x08 } }), SID.dt4A);
  passes(
    'routing header type 2, not an SRH',
    'srh',
    raw(SID.dt4A, IPPROTO.ROUTING, srh({ nextHeader: IPPROTO.IPIP, segments: [SID.dt4A], segmentsLeft: 0, type: 2 }, u4())),
    SID.dt4A,
  );
  passes(
    'SRH announcing more segments than the packet has',
    'truncated',
    raw(SID.dt4A, IPPROTO.ROUTING, Buffer.from([IPPROTO.IPIP, 16, 4, 0, 7, 0, 0, 0, ...Buffer.alloc(16)])),
    SID.dt4A,
  );

  // ---- what the program does not parse ----
  passes('unknown SID', 'no_sid', encap(SID.unknown, u4()));
  passes(
    'outer fragment header',
    'fragment',
    raw(SID.dt4A, IPPROTO.FRAGMENT, fragmentHeader({ nextHeader: IPPROTO.IPIP, offset: 0, more: true, id: 1 }, u4())),
    SID.dt4A,
  );
  passes('outer hop-by-hop options', 'ext_header', raw(SID.dt4A, IPPROTO.HOPOPTS, optionsHeader(IPPROTO.IPIP, u4())), SID.dt4A);
  passes('outer destination options', 'ext_header', raw(SID.dt6A, IPPROTO.DSTOPTS, optionsHeader(IPPROTO.IPV6, u6())), SID.dt6A);
  passes('jumbogram (payload length 0)', 'bad_outer', raw(SID.dt4A, IPPROTO.HOPOPTS, optionsHeader(IPPROTO.IPIP, u4()), { payloadLength: 0 }), SID.dt4A);
  passes(
    'UDP straight to the SID (no inner packet)',
    'inner_proto',
    raw(SID.dt4A, IPPROTO.UDP, udp({ src: OUTER_SRC, dst: SID.dt4A }, 1, 2, Buffer.from('x'))),
    SID.dt4A,
  );
  passes('VLAN tag', 'vlan', encap(SID.dt4A, u4(), { vlan: 42 }));
  passes('802.1ad tag', 'vlan', Buffer.concat([encap(SID.dt4A, u4()).subarray(0, 12), Buffer.from([0x88, 0xa8, 0, 42]), encap(SID.dt4A, u4()).subarray(12)]));
  passes('ARP', 'not_ipv6', ethernet({ dst: 'ff:ff:ff:ff:ff:ff', src: MAC.remote, type: ETH_P.ARP }, Buffer.alloc(28)));
  passes('plain IPv4 on the underlay', 'not_ipv6', ethernet({ dst: DEV.u0.mac, src: MAC.remote, type: ETH_P.IPV4 }, u4()));

  // ---- inner family the behaviour does not serve ----
  passes('End.DT4 with inner IPv6', 'inner_proto', encap(SID.dt4A, u6()), SID.dt4A);
  passes('End.DT6 with inner IPv4', 'inner_proto', encap(SID.dt6A, u4(), withSrh), SID.dt6A);
  passes('End.DX4 with inner IPv6', 'inner_proto', encap(SID.dx4, u6()), SID.dx4);
  passes('End.DX6 with inner IPv4', 'inner_proto', encap(SID.dx6, u4()), SID.dx6);

  // ---- truncated and malformed ----
  const whole = encap(SID.dt4A, u4(), withSrh);
  // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, as drivers never deliver them.)
  passes('truncated: nothing after the Ethernet header', 'truncated', whole.subarray(0, 14));
  passes('truncated: outer IPv6 header cut', 'truncated', whole.subarray(0, 40));
  passes('truncated: capture cut inside the SRH (length mismatch)', 'bad_outer', whole.subarray(0, 70), SID.dt4A);
  passes('truncated: last byte missing (length mismatch)', 'bad_outer', whole.subarray(0, whole.length - 1), SID.dt4A);
  passes('inner header shorter than 20 bytes', 'truncated', raw(SID.dt4A, IPPROTO.IPIP, u4().subarray(0, 12)), SID.dt4A);
  passes('trailing bytes after the IPv6 payload', 'bad_outer', Buffer.concat([encap(SID.dt4A, u4()), Buffer.alloc(6)]), SID.dt4A);
  passes('inner total length disagrees with the packet', 'bad_inner', encap(SID.dt4A, u4({ totalLength: 30 })), SID.dt4A);
  passes(
    'inner IPv4 with options',
    'bad_inner',
    encap(SID.dt4A, ipv4({ ...V4, protocol: IPPROTO.UDP, options: Buffer.from([0x94, 4, 0, 0]) }, udp(V4, 1, 2, Buffer.from('ra')))),
    SID.dt4A,
  );
  passes('inner IPv4 source 127.0.0.1 (martian)', 'bad_inner', encap(SID.dt4A, u4({ src: '127.0.0.1' })), SID.dt4A);
  passes('inner IPv4 to multicast', 'bad_inner', encap(SID.dt4A, u4({ dst: '224.0.0.5' })), SID.dt4A);
  passes('inner IPv6 from link-local', 'bad_inner', encap(SID.dt6A, u6({ src: 'fe80::1' })), SID.dt6A);
  passes(
    'inner IPv6 with hop-by-hop options',
    'bad_inner',
    encap(SID.dt6A, ipv6({ ...V6, nextHeader: IPPROTO.HOPOPTS }, optionsHeader(IPPROTO.UDP, udp(V6, 1, 2, Buffer.from('hbh'))))),
    SID.dt6A,
  );
  passes('outer destination MAC is multicast', 'bad_outer', encap(SID.dt4A, u4(), { ethDst: '33:33:00:00:00:01' }), SID.dt4A);
  passes('outer source is multicast', 'bad_outer', raw(SID.dt4A, IPPROTO.IPIP, u4(), { src: 'ff02::1' }), SID.dt4A);

  // ---- TTL ----
  passes('inner TTL 1: the kernel sends time exceeded', 'ttl', encap(SID.dt4A, u4({ ttl: 1 })), SID.dt4A);
  passes('inner TTL 0', 'ttl', encap(SID.dt46A, u4({ ttl: 0 })), SID.dt46A);
  passes('inner hop limit 1', 'ttl', encap(SID.dt6A, u6({ hopLimit: 1 }), withSrh), SID.dt6A);
  passes('End.DX4 inner TTL 1', 'ttl', encap(SID.dx4, u4({ dst: '10.1.0.5', ttl: 1 })), SID.dx4);

  // ---- fib results other than SUCCESS, and egress the program may not use ----
  passes("no route: the tenant's unreachable default", 'no_route', encap(SID.dt4A, u4({ dst: '10.200.0.1' })), SID.dt4A);
  passes('no route: inner IPv6 unreachable default', 'no_route', encap(SID.dt6A, u6({ dst: 'fd00:99::1' })), SID.dt6A);
  passes('blackhole route', 'no_route', encap(SID.dt4A, u4({ dst: '10.0.5.1' })), SID.dt4A);
  passes('local address in the tenant table', 'no_route', encap(SID.dt4A, u4({ dst: '10.0.0.100' })), SID.dt4A);
  passes('table that does not exist', 'no_route', encap(SID.noTable, u4()), SID.noTable);
  passes('neighbour not resolved', 'no_neigh', encap(SID.dt4A, u4({ dst: '10.0.2.9' })), SID.dt4A);
  passes('needs fragmentation (route MTU 1300)', 'frag_needed', encap(SID.dt4A, u4({ dst: '10.0.6.5', data: Buffer.alloc(1400) })), SID.dt4A);
  passes('route with an encapsulation (lwtunnel)', 'fib_lwt', encap(SID.dt4A, u4({ dst: '10.0.7.1' })), SID.dt4A);
  passes('forwarding disabled on the ingress device', 'fwd_disabled', encap(SID.dt4A, u4()), SID.dt4A, DEV.u1.index);
  passes('egress device not allowed for XDP', 'egress', encap(SID.dt4A, u4({ dst: '10.0.3.1' })), SID.dt4A);
  passes('egress is the ingress device (the kernel would send a redirect)', 'egress', encap(SID.dt4A, u4({ dst: '10.0.4.1' })), SID.dt4A);
  passes('End.DX4: fib egress is not the configured oif', 'egress', encap(SID.dx4WrongOif, u4({ dst: '10.1.0.5' })), SID.dx4WrongOif);
  passes('End.DX4 connected nh4 with another inner destination (kernel ARPs for the destination)', 'egress', encap(SID.dx4, u4({ dst: '10.1.0.77' })), SID.dx4);
  passes('shadow SID: would redirect, passes', 'shadow', encap(SID.shadow, u4()), SID.shadow);
  return f;
}

// ---- the run ----

let ns: TestNetns;
let off: XdpOffload;
let pinRoot: string;

function reasonDelta(before: Record<Reason, number>, after: Record<Reason, number>): Partial<Record<Reason, number>> {
  const d: Partial<Record<Reason, number>> = {};
  for (const r of REASONS) if (after[r] !== before[r]) d[r] = after[r] - before[r];
  return d;
}

async function run(frame: Buffer, ingress: number = DEV.u0.index, o: XdpOffload = off) {
  return o.program.testRun({ data: frame, ctx: xdpMd(frame.length, { ingressIfindex: ingress }), netns: ns.name });
}

beforeAll(async () => {
  execFileSync('make', ['-C', path.join(ROOT, 'bpf'), '-s']);
  ensureBpffs('/sys/fs/bpf');
  pinRoot = mkdtempSync('/sys/fs/bpf/srv6t-xdpfix-');
  ns = createFibNetns('xdpfix');
  off = await XdpOffload.open({ netns: ns.name, pinRoot, warn: () => {} });
  off.sync(ENTRIES);
});

afterAll(() => {
  off?.destroy();
  if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
  destroyAllNetns();
});

const TABLE = fixtures();

describe('srv6_xdp_decap fixture table (BPF_PROG_TEST_RUN)', () => {
  it('has at least 25 fixtures covering every behaviour with and without SRH', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(25);
    for (const sid of [SID.dt4A, SID.dt6A, SID.dt46A, SID.dx4, SID.dx6]) {
      const mine = TABLE.filter((t) => t.verdict === 'redirect' && t.sid === sid);
      expect(mine.some((t) => t.frame.includes(Buffer.from([IPPROTO.ROUTING])))).toBe(true);
      expect(mine.length).toBeGreaterThanOrEqual(2);
    }
  });

  it.each(TABLE.map((t) => [t.name, t] as const))('%s', async (_name, t) => {
    const before = off.reasons();
    const sidBefore = off.counters().find((c) => c.sid === t.sid);
    const r = await run(t.frame, t.ingress);
    const delta = reasonDelta(before, off.reasons());
    expect({ verdict: r.retval, reason: delta }).toEqual({
      verdict: t.verdict === 'redirect' ? XdpAction.Redirect : XdpAction.Pass,
      reason: { [t.reason]: 1 },
    });
    if (t.verdict === 'redirect') expect(r.data.toString('hex')).toBe(t.out!.toString('hex'));
    else expect(r.data.toString('hex')).toBe(t.frame.toString('hex'));
    if (t.sid) {
      const after = off.counters().find((c) => c.sid === t.sid)!;
      if (t.reason === 'redirect') {
        expect(after.packets - (sidBefore?.packets ?? 0)).toBe(1);
        expect(after.bytes - (sidBefore?.bytes ?? 0)).toBe(t.frame.length - 14); // outer IPv6 bytes
      } else {
        const r2 = t.reason as Exclude<Reason, 'redirect'>;
        expect((after.passed[r2] ?? 0) - (sidBefore?.passed[r2] ?? 0)).toBe(1);
        expect(after.packets).toBe(sidBefore?.packets);
      }
    }
  });

  it('counts per SID what the table sent to it, summed over CPUs', () => {
    const want = new Map<string, { packets: number; passed: Record<string, number> }>();
    for (const t of TABLE) {
      if (!t.sid) continue;
      const w = want.get(t.sid) ?? { packets: 0, passed: {} };
      if (t.reason === 'redirect') w.packets++;
      else w.passed[t.reason] = (w.passed[t.reason] ?? 0) + 1;
      want.set(t.sid, w);
    }
    const got = new Map(off.counters().map((c) => [c.sid, { packets: c.packets, passed: c.passed }]));
    for (const [sid, w] of want) expect({ sid, ...got.get(sid) }).toEqual({ sid, ...w });
  });

  it('the same program loaded in shadow mode redirects nothing and counts "shadow"', async () => {
    const shadowPins = mkdtempSync('/sys/fs/bpf/srv6t-xdpfix-shadow-');
    const sh = await XdpOffload.open({ netns: ns.name, pinRoot: shadowPins, shadow: true, warn: () => {} });
    try {
      sh.sync(ENTRIES);
      const frame = encap(SID.dt4A, u4());
      const r = await sh.program.testRun({ data: frame, ctx: xdpMd(frame.length, { ingressIfindex: DEV.u0.index }), netns: ns.name });
      expect(r.retval).toBe(XdpAction.Pass);
      expect(r.data.equals(frame)).toBe(true);
      expect(sh.counters().find((c) => c.sid === SID.dt4A)).toMatchObject({ packets: 0, passed: { shadow: 1 } });
    } finally {
      sh.destroy();
      rmSync(shadowPins, { recursive: true, force: true });
    }
  });
});
