// Kernel tier: the XDP offload delivers exactly what the kernel's seg6local routes deliver.
//
// Topology and address plan: Srv6Pair in src/testing/topology/two-hv.ts (two HVs, tenants A and
// B with the SAME addresses, A encapsulated with an SRH, B reduced). The same traffic runs twice
// on the same topology, offload off (HV2's seg6local routes decapsulate) and on (the XDP program
// on HV2's underlay u2, native mode), and the two runs must agree:
// (and once more with the program attached in generic mode, the reported fallback):
//   1. UDP from each VM on HV1 to its peer on HV2, v4 and v6, the same datagrams in both runs
//      (fixed ports and payloads, no automatic flow labels): the frames the VMs on HV2 receive,
//      recorded on the VM's own interface by vm_nic (bpf/xdp/vm_nic.bpf.c, an observer
//      independent of the offload), are byte-for-byte the same, except the IPv4 identification
//      the sending VM picks at random per packet (and so the header checksum, which is checked
//      to be valid instead); IPv4 datagrams sent with TTL 1 expire at HV2 and arrive nowhere, in
//      both runs (IPv6 ones with hop limit 1 expire already at HV1: H.Encaps copies the inner
//      hop limit into the outer header, whose forwarding there fails; the fixture table covers
//      an inner hop limit of 1 at the decapsulating node);
//   2. TCP streams (GSO on the sending VM) and ping, both families, arrive whole;
//   3. nothing of tenant A reaches tenant B's VM and the reverse, though their addresses are the
//      same;
//   4. accounting over the UDP phase: with the offload on, the kernel's seg6local counters on HV2
//      (`count`: packets + errors) move only by what XDP passed to the kernel (the expiring
//      datagrams, reason "ttl"), and XDP redirected + passed = what the kernel handled alone with
//      the offload off.
//
// The host kernel has no VRF: here HV2 decapsulates with End.DX4 and End.DT6 (table mode). The
// lab kernel runs the same traffic in VRF mode with End.DT4, End.DT6 and End.DT46 (vrftable).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../native/addon';
import { itWith } from '../testing/kernel-features';
import { destroyAllNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { checksum, ETH_P, IPPROTO, summarize } from '../testing/packet-builder';
import { ADDR, Hv2Mode, Srv6Pair, Tenant } from '../testing/topology/two-hv';
import { ping, Receiver, sendTcp, sendUdp, TcpResult } from '../testing/traffic/sockets';
import { VmNic } from '../testing/traffic/vm-nic';
import { ensureBpffs, XdpAttachMode, XdpOffload, XdpSidCounters } from './xdp-offload';

jest.setTimeout(180_000); // a budget for the lab VM (TCG, 10-40x slower); on the host each test takes ~2 s

const ROOT = packageRoot();
const TENANTS: Tenant[] = ['A', 'B'];
const COUNT = 20; // UDP datagrams per family and tenant (+2 expiring ones per family)
const EXPIRING = 2; // IPv4 datagrams with TTL 1 that reach HV2, per tenant
const TCP_BYTES = 1_000_000;

const send = (t: Tenant) => ({ tag: t, src4: ADDR.vm1.v4, dst4: ADDR.vm2.v4, src6: ADDR.vm1.v6, dst6: ADDR.vm2.v6, count: COUNT, bytes: TCP_BYTES });

/** The UDP test frames among what a VM received (ARP, ND, TCP, ICMP ignored). */
function udpFrames(frames: Buffer[]): Buffer[] {
  return frames.filter((f) => {
    const s = summarize(f);
    return s.protocol === IPPROTO.UDP && s.dport === 7001;
  });
}

/**
 * A frame as hex for comparing runs: IPv4 identification (random per packet at the sender) and
 * header checksum zeroed; the checksum must be valid (it proves the TTL update, both paths).
 */
function canonical(f: Buffer): string {
  const c = Buffer.from(f);
  if (c.readUInt16BE(12) === ETH_P.IPV4) {
    const ihl = (c[14] & 15) * 4;
    expect(checksum(c.subarray(14, 14 + ihl))).toBe(0);
    c.writeUInt16BE(0, 14 + 4);
    c.writeUInt16BE(0, 14 + 10);
  }
  return c.toString('hex');
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

interface Outcome {
  /** UDP frames each VM on HV2 received, canonical hex, sorted. */
  frames: Record<Tenant, string[]>;
  /** The UDP payloads each VM's socket received, sorted. */
  udp: Record<Tenant, string[]>;
  kernel: Record<string, number>;
  xdp: Record<string, { packets: number; passed: number; byReason: Record<string, number> }>;
  pings: Record<Tenant, number[]>;
  tcp: Record<Tenant, TcpResult>;
  /** Per-SID XDP redirects during the TCP/ping phase. */
  xdpTcp: Record<string, number>;
}

function snapshot(off?: XdpOffload): Record<string, XdpSidCounters> {
  return Object.fromEntries((off?.counters() ?? []).map((c) => [c.sid, c]));
}

function xdpDelta(a: Record<string, XdpSidCounters>, b: Record<string, XdpSidCounters>): Outcome['xdp'] {
  const out: Outcome['xdp'] = {};
  for (const [sid, c] of Object.entries(b)) {
    const byReason: Record<string, number> = {};
    for (const [r, n] of Object.entries(c.passed)) {
      const d = n! - ((a[sid]?.passed as Record<string, number> | undefined)?.[r] ?? 0);
      if (d) byReason[r] = d;
    }
    out[sid] = { packets: c.packets - (a[sid]?.packets ?? 0), passed: Object.values(byReason).reduce((x, y) => x + y, 0), byReason };
  }
  return out;
}

class Scenario {
  topo!: Srv6Pair;
  nics!: Record<Tenant, VmNic>;
  offload?: XdpOffload;
  pinRoot?: string;

  constructor(
    private readonly mode: Hv2Mode,
    private readonly attach: XdpAttachMode = 'native',
  ) {}

  async setup(): Promise<void> {
    execFileSync('make', ['-C', path.join(ROOT, 'bpf'), '-s']);
    ensureBpffs('/sys/fs/bpf');
    this.pinRoot = mkdtempSync('/sys/fs/bpf/srv6t-xeq-');
    this.topo = Srv6Pair.create(this.mode);
    // The VMs' NICs on HV2: XDP redirect into a veth needs a program on its peer (see
    // vm_nic.bpf.c). Attached for both runs: it is part of the VM, not of the offload.
    this.nics = { A: await VmNic.attach(this.topo.vm.A2, 'eth0', { record: true }), B: await VmNic.attach(this.topo.vm.B2, 'eth0', { record: true }) };
  }

  teardown(): void {
    this.offload?.destroy();
    for (const n of Object.values(this.nics ?? {})) n.close();
    this.topo?.destroy();
    if (this.pinRoot) rmSync(this.pinRoot, { recursive: true, force: true });
  }

  async enableOffload(): Promise<void> {
    this.offload = await XdpOffload.open({ netns: this.topo.hv2.name, pinRoot: this.pinRoot, mode: this.attach, warn: () => {} });
    const res = await this.offload.apply({ underlay: ['u2'], entries: this.topo.xdpEntries() });
    expect(res.attachments).toEqual([expect.objectContaining({ ifname: 'u2', mode: this.attach })]);
  }

  async run(): Promise<Outcome> {
    const { topo } = this;
    // Warm-up: every neighbour on the way resolved, so both runs start from the same state.
    for (const t of TENANTS) for (const f of ['v4', 'v6'] as const) await ping(topo.vm[`${t}1`], ADDR.vm1[f], ADDR.vm2[f], 1);
    const receivers = { A: await Receiver.start(topo.vm.A2), B: await Receiver.start(topo.vm.B2) };
    try {
      // 1. UDP, the same bytes in both runs.
      for (const n of Object.values(this.nics)) n.frames.length = 0;
      const k0 = topo.hv2KernelCounters();
      const x0 = snapshot(this.offload);
      const sent = await Promise.all(TENANTS.map((t) => sendUdp(topo.vm[`${t}1`], send(t))));
      expect(sent).toEqual([{ sent: 2 * COUNT }, { sent: 2 * COUNT }]);
      await until(() => TENANTS.every((t) => udpFrames(this.nics[t].frames).length >= 2 * COUNT), scaled(5000));
      await new Promise((r) => setTimeout(r, scaled(200))); // what must NOT arrive has had its chance
      const kernel = Object.fromEntries(Object.entries(topo.hv2KernelCounters()).map(([k, v]) => [k, v - (k0[k] ?? 0)]));
      const xdp = xdpDelta(x0, snapshot(this.offload));
      const frames = { A: udpFrames(this.nics.A.frames).map(canonical).sort(), B: udpFrames(this.nics.B.frames).map(canonical).sort() };

      // 2. TCP (GSO on the sender) and ping, both tenants at once.
      const t0 = snapshot(this.offload);
      const pings = {} as Record<Tenant, number[]>;
      const tcp = {} as Record<Tenant, TcpResult>;
      await Promise.all(
        TENANTS.map(async (t) => {
          const vm = topo.vm[`${t}1`];
          tcp[t] = await sendTcp(vm, send(t));
          pings[t] = [await ping(vm, ADDR.vm1.v4, ADDR.vm2.v4), await ping(vm, ADDR.vm1.v6, ADDR.vm2.v6)];
        }),
      );
      const t1 = snapshot(this.offload);
      const xdpTcp = Object.fromEntries(Object.keys(t1).map((sid) => [sid, t1[sid].packets - (t0[sid]?.packets ?? 0)]));
      const udp = { A: (await receivers.A.stop()).sort(), B: (await receivers.B.stop()).sort() };
      return { frames, udp, kernel, xdp, pings, tcp, xdpTcp };
    } finally {
      await Promise.all(Object.values(receivers).map((r) => r.stop()));
    }
  }
}

function expectedUdp(t: Tenant): string[] {
  return [...Array.from({ length: COUNT }, (_, i) => `${t}-udp4-${i}`), ...Array.from({ length: COUNT }, (_, i) => `${t}-udp6-${i}`)].sort();
}

/** What both runs must show, whatever decapsulates. */
function expectCorrect(o: Outcome): void {
  for (const t of TENANTS) {
    const other: Tenant = t === 'A' ? 'B' : 'A';
    expect({ t, frames: o.frames[t].length }).toEqual({ t, frames: 2 * COUNT });
    // Tenant isolation: every UDP frame at t's VM carries t's tag, none the other tenant's.
    const payloads = o.frames[t].map((h) => summarize(Buffer.from(h, 'hex')).data!.toString());
    expect({ t, foreign: payloads.filter((p) => !p.startsWith(`${t}-`)) }).toEqual({ t, foreign: [] });
    expect({ t, udp: o.udp[t] }).toEqual({ t, udp: expectedUdp(t) });
    expect(o.udp[t].some((p) => p.startsWith(`${other}-`))).toBe(false);
    expect({ t, pings: o.pings[t] }).toEqual({ t, pings: [3, 3] });
    expect({ t, tcp: o.tcp[t] }).toEqual({ t, tcp: { tcp4: o.tcp[t].sent4, tcp6: o.tcp[t].sent6, sent4: expect.any(String), sent6: expect.any(String) } });
  }
}

function describeEquivalence(mode: Hv2Mode, title: string, test: jest.It, attach: XdpAttachMode = 'native'): void {
  describe(title, () => {
    const sc = new Scenario(mode, attach);
    let offRun: Outcome | undefined;

    beforeAll(async () => {
      await sc.setup(); // jest runs no hook of a block whose tests all skip
    });
    afterAll(() => sc.teardown());

    test('offload off: the kernel delivers every packet to the right VM and nothing across tenants', async () => {
      offRun = await sc.run();
      expectCorrect(offRun);
      // The kernel handled every datagram that reached HV2, the expiring ones included.
      for (const t of TENANTS) {
        const s = sc.topo.hv2Sids[t];
        const handled = s.v4 === s.v6 ? offRun.kernel[s.v4] : offRun.kernel[s.v4] + offRun.kernel[s.v6];
        expect({ t, handled }).toEqual({ t, handled: 2 * COUNT + EXPIRING });
      }
    });

    test('offload on: the same packets reach the same VMs, byte for byte, and XDP handled them', async () => {
      expect(offRun).toBeDefined();
      await sc.enableOffload();
      const on = await sc.run();
      expectCorrect(on);
      expect(on.frames).toEqual(offRun!.frames);
      expect(on.udp).toEqual(offRun!.udp);
      for (const t of TENANTS) {
        const sids = [...new Set([sc.topo.hv2Sids[t].v4, sc.topo.hv2Sids[t].v6])];
        // XDP redirected every datagram that arrived, and passed only the expiring ones...
        const redirected = sids.reduce((a, s) => a + on.xdp[s].packets, 0);
        const passed = sids.reduce((a, s) => a + on.xdp[s].passed, 0);
        expect({ t, redirected, passed }).toEqual({ t, redirected: 2 * COUNT, passed: EXPIRING });
        for (const s of sids) {
          expect({ s, reasons: Object.keys(on.xdp[s].byReason) }).toEqual({ s, reasons: on.xdp[s].passed ? ['ttl'] : [] });
          // ...the kernel saw exactly what XDP passed, and XDP + kernel = the kernel alone.
          expect({ s, kernel: on.kernel[s] }).toEqual({ s, kernel: on.xdp[s].passed });
          expect({ s, total: on.xdp[s].packets + on.xdp[s].passed }).toEqual({ s, total: offRun!.kernel[s] });
          // TCP went through XDP too.
          expect({ s, tcp: on.xdpTcp[s] > 100 }).toEqual({ s, tcp: true });
        }
      }
    });
  });
}

afterAll(destroyAllNetns); // anything a failed setup left

// HV1 encapsulates with seg6 routes, HV2 decapsulates with seg6local (with counters) when the offload is off.
describeEquivalence('table', 'XDP offload vs kernel seg6local: End.DX4 and End.DT6 (table mode)', itWith('seg6', 'seg6local'));
describeEquivalence('table', 'XDP offload in generic mode (the fallback) vs kernel seg6local: End.DX4 and End.DT6', itWith('seg6', 'seg6local'), 'generic');
describeEquivalence('vrf', 'XDP offload vs kernel seg6local: End.DT4, End.DT6, End.DT46 (vrftable, VRF mode)', itWith('CONFIG_NET_VRF', 'seg6', 'seg6local'));
