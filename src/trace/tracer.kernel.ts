// Kernel tier: the tracer on TCP over SRv6 with TSO/GSO, every backend this kernel has.
//
//   vm1                 hv1                               hv2                 vm2
//   v1 10.0.1.2/24 ─── t1 10.0.1.1/24                     t2 10.0.2.1/24 ─── v2 10.0.2.2/24
//                       u1 fc00:12::1/64 ═══════════════ u2 fc00:12::2/64   (underlay, MTU 1600)
//
//   hv1: 10.0.2.0/24 encap seg6 mode encap segs fc00:2::d4 dev u1       H.Encaps
//   hv2: fc00:2::d4/128 encap seg6local action End.DX4 nh4 10.0.2.2 dev t2   decapsulation
//   (and the reverse for the ACKs); mark 0xdeadbeef set by tc in every namespace on the data
//   direction (v1 egress, t1 ingress, u2 ingress, v2 ingress): a veth into another namespace
//   clears the mark. Details: buildSrv6GsoTopology in src/testing/topology/two-hv.ts.
//
// Independent observers: the bytes the TCP server in vm2 received; `ip -s -j link` packet
// counters; `bpftool -j link/prog` for what is attached after a trace ends.
// Here (no kprobes, no fentry) only tp_btf runs; the lab VM (Debian 6.12) runs all backends.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../native/addon';
import { destroyAllNetns } from '../testing/netns';
import { itWith } from '../testing/kernel-features';
import { Backend } from './backend';
import { TraceEvent } from './event';
import { Packet } from './packets';
import { ipftInKernel } from '../testing/bpftool';
import { buildSrv6GsoTopology, ENCAP_OVERHEAD, Srv6GsoTopology, SRV6_PATH, tcpTransfer } from '../testing/topology/two-hv';
import { itWithBackend } from '../testing/trace-backends';
import { TEST_MARK } from '../testing/traffic/tc-mark';
import { Tracer, TraceSummary } from './tracer';

const GSO_TCPV4 = 1 << 0;
const GSO_IPXIP6 = 1 << 9;
const BYTES = 2 << 20;
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'ipft.js');

/** The seg6 functions (encap and decap side) and the device-level ones around them. */
const SRV6_REGEX =
  '^(seg6_.*|__seg6_.*|iptunnel_handle_offloads|input_action_end_dx4|ip_rcv|ip_forward|ip6_rcv_core|ip6_finish_output2|__dev_queue_xmit|veth_xmit)$';

/** CLI traces: the SRv6 path (function backends) and the device/socket tracepoints (tp_btf);
 *  keeps the lab's fentry runs short (detaching a trampoline costs a grace period each). */
const CLI_REGEX = `${SRV6_REGEX.slice(0, -2)}|net_dev_.*|netif_.*|consume_skb|kfree_skb|skb_copy_datagram_iovec|tcp_probe)$`;

let topo: Srv6GsoTopology;

beforeAll(() => {
  topo = buildSrv6GsoTopology('ipft');
}, 60_000);
afterAll(destroyAllNetns);

/** Trace while moving BYTES over TCP from vm1 to vm2. */
async function traceTransfer(backend: Backend, opts: { regex?: string; type?: 'function' | 'function_graph' } = {}) {
  const tracer = await Tracer.start({ mark: TEST_MARK, backend, collect: true, ...opts });
  let summary: TraceSummary;
  let received: number;
  try {
    received = await tcpTransfer(topo, BYTES, 300_000);
  } finally {
    summary = await tracer.stop();
  }
  const name = (e: TraceEvent) => tracer.labels[e.funcId];
  return { tracer, summary, received, packets: tracer.packets(), name };
}

const has = (e: TraceEvent, bit: number) => (e.gsoType & bit) !== 0;

/** The GSO super-packets (gso_segs > 1) that went all the way from vm1 through hv1 to hv2. */
function crossingPackets(packets: Packet[]): Packet[] {
  return packets.filter(
    (p) => p.events.some((e) => e.netns === topo.inode.hv1 && e.gsoSegs > 1) && p.events.some((e) => e.netns === topo.inode.hv2 && e.gsoSegs > 1),
  );
}

function expectNoLoss(s: TraceSummary): void {
  expect({ lost: s.lost, undelivered: s.undelivered }).toEqual({ lost: 0, undelivered: 0 });
  expect(s.samples).toBe(s.hits);
  expect(s.samples).toBeGreaterThan(0);
}

/**
 * The device-level transmit event of each backend (Ethernet header included in len). Not
 * __dev_queue_xmit: in vm1 its entry runs before tc egress sets the mark.
 */
const isDevTx = (fn: string) => fn === 'net:net_dev_queue' || fn === 'veth_xmit';

/** Encapsulating side: on u1 the packet carries ipxip6, is IPv6 with inner IPv4, 64 bytes longer
 *  than when vm1 sent it (both at the device, Ethernet header included). */
function expectEncapsulated(p: Packet, name: (e: TraceEvent) => string): { before: TraceEvent; after: TraceEvent } {
  const before = p.events.find((e) => e.netns === topo.inode.vm1 && e.ifindex === topo.ifindex.v1 && isDevTx(name(e)) && e.gsoSegs > 1)!;
  const after = p.events.find((e) => e.netns === topo.inode.hv1 && e.ifindex === topo.ifindex.u1 && isDevTx(name(e)))!;
  expect({ before: !!before, after: !!after }).toEqual({ before: true, after: true });
  expect([has(before, GSO_TCPV4), has(before, GSO_IPXIP6)]).toEqual([true, false]);
  expect({
    ipxip6: has(after, GSO_IPXIP6),
    tcpv4: has(after, GSO_TCPV4),
    proto: after.protocol,
    inner: after.innerProtocol,
    encap: after.encapsulation,
    len: after.len,
    gsoSize: after.gsoSize,
  }).toEqual({
    ipxip6: true,
    tcpv4: true,
    proto: 0x86dd,
    inner: 0x0800,
    encap: true,
    len: before.len + ENCAP_OVERHEAD,
    gsoSize: before.gsoSize,
  });
  return { before, after };
}

/** Decapsulating side: on t2 (after End.DX4) plain IPv4 TCP GSO again, without ipxip6. */
function expectDecapsulated(p: Packet, name: (e: TraceEvent) => string, encapLen: number): TraceEvent {
  const out = p.events.find((e) => e.netns === topo.inode.hv2 && e.ifindex === topo.ifindex.t2 && isDevTx(name(e)))!;
  expect(out).toBeDefined();
  expect({ ipxip6: has(out, GSO_IPXIP6), tcpv4: has(out, GSO_TCPV4), proto: out.protocol, encap: out.encapsulation, len: out.len }).toEqual({
    ipxip6: false,
    tcpv4: true,
    proto: 0x0800,
    encap: false,
    len: encapLen - ENCAP_OVERHEAD,
  });
  return out;
}

/**
 * Function backends: in hv1, seg6 functions run between the receive from vm1 (ip_rcv on t1) and
 * the transmit on u1, and the packet's len/gso_type change right after them (before: plain
 * tcpv4, len L; from the first event that has ipxip6 and L + 64 on: encapsulated); in hv2 the
 * seg6local functions run between ip6_rcv_core on u2 and the transmit on t2, and the packet is
 * plain tcpv4 again after them.
 */
function expectSeg6Path(p: Packet, name: (e: TraceEvent) => string): void {
  const { after } = expectEncapsulated(p, name);
  expectDecapsulated(p, name, after.len);
  const hv1 = p.events.filter((e) => e.netns === topo.inode.hv1 && !e.partial);
  const rx = hv1.findIndex((e) => name(e) === 'ip_rcv' && e.ifindex === topo.ifindex.t1);
  const seg6 = hv1.findIndex((e) => /^_*seg6_/.test(name(e)));
  const grown = rx < 0 ? -1 : hv1.findIndex((e) => has(e, GSO_IPXIP6) && e.len === hv1[rx].len + ENCAP_OVERHEAD);
  const tx = hv1.findIndex((e) => isDevTx(name(e)) && e.ifindex === topo.ifindex.u1);
  expect({ rx, seg6, grown, tx, order: rx >= 0 && rx < seg6 && seg6 < grown && grown <= tx }).toMatchObject({ order: true });
  for (const e of hv1.slice(rx, seg6)) expect([name(e), has(e, GSO_IPXIP6), e.len]).toEqual([name(e), false, hv1[rx].len]);
  for (const e of hv1.slice(grown)) expect([name(e), has(e, GSO_IPXIP6)]).toEqual([name(e), true]);

  const hv2 = p.events.filter((e) => e.netns === topo.inode.hv2 && !e.partial);
  const rx6 = hv2.findIndex((e) => name(e) === 'ip6_rcv_core' && e.ifindex === topo.ifindex.u2);
  const local = hv2.findIndex((e) => /^(seg6_local_input|seg6_local_input_core|input_action_end_dx4)$/.test(name(e)));
  const plain = local < 0 ? -1 : hv2.findIndex((e, i) => i > local && !has(e, GSO_IPXIP6));
  const tx2 = hv2.findIndex((e) => isDevTx(name(e)) && e.ifindex === topo.ifindex.t2);
  expect({ rx6, local, plain, tx2, order: rx6 >= 0 && rx6 < local && local < plain && plain <= tx2 }).toMatchObject({ order: true });
  for (const e of hv2.slice(rx6, local + 1)) expect([name(e), has(e, GSO_IPXIP6)]).toEqual([name(e), true]);
  for (const e of hv2.slice(plain)) expect([name(e), has(e, GSO_IPXIP6)]).toEqual([name(e), false]);
}

describe('tracer on TCP over SRv6 H.Encaps / End.DX4 with TSO', () => {
  itWithBackend('tp_btf', ...SRV6_PATH)(
    'tp_btf: ipxip6 on the encapsulating side, gone after decapsulation, Lost: 0',
    async () => {
      const u1 = () => topo.hv1.ipJson<Array<{ stats64: { tx: { packets: number } } }>>(['-s', 'link', 'show', 'dev', 'u1'])[0].stats64.tx.packets;
      const txBefore = u1();
      const { summary, received, packets, name, tracer } = await traceTransfer('tp_btf');
      const txDelta = u1() - txBefore;
      expect(received).toBe(BYTES);
      expectNoLoss(summary);
      expect(summary.attach).toMatchObject({ backend: 'tp_btf', failed: 0 });
      expect(summary.attach.succeeded).toBe(tracer.targets.length);

      const crossing = crossingPackets(packets);
      expect(crossing.length).toBeGreaterThan(0);
      for (const p of crossing) {
        const { after } = expectEncapsulated(p, name);
        expect(name(after)).toBe('net:net_dev_queue');
        expectDecapsulated(p, name, after.len);
        // One packet, in order: vm1, then hv1, then hv2 (timestamps sorted within the packet).
        const order = p.events.map((e) => e.netns).filter((n) => n !== 0);
        const firstOf = (ns: number) => order.indexOf(ns);
        expect(firstOf(topo.inode.vm1)).toBeLessThan(firstOf(topo.inode.hv1));
        expect(firstOf(topo.inode.hv1)).toBeLessThan(firstOf(topo.inode.hv2));
      }
      // Independent observer: every marked packet hv1 sent on u1 was one the kernel counted.
      const u1Sent = packets
        .flatMap((p) => p.events)
        .filter((e) => e.netns === topo.inode.hv1 && e.ifindex === topo.ifindex.u1 && name(e) === 'net:net_dev_start_xmit');
      expect(u1Sent.length).toBeGreaterThan(0);
      expect(txDelta).toBeGreaterThanOrEqual(u1Sent.length);
    },
    300_000,
  );

  itWithBackend('fentry', ...SRV6_PATH)(
    'fentry: seg6 functions between the device events, len and gso_type change where encapsulation happens',
    async () => {
      const { summary, received, packets, name } = await traceTransfer('fentry', { regex: SRV6_REGEX });
      expect(received).toBe(BYTES);
      expectNoLoss(summary);
      expect(summary.attach.succeeded).toBeGreaterThan(5);
      const crossing = crossingPackets(packets);
      expect(crossing.length).toBeGreaterThan(0);
      for (const p of crossing) expectSeg6Path(p, name);
    },
    600_000,
  );

  itWithBackend('fentry', ...SRV6_PATH)(
    'fentry -t function_graph: return events carry the state after the function',
    async () => {
      const { summary, packets, name } = await traceTransfer('fentry', {
        regex: '^(seg6_do_srh|seg6_do_srh_encap|iptunnel_handle_offloads)$',
        type: 'function_graph',
      });
      expectNoLoss(summary);
      const events = packets.flatMap((p) => p.events).filter((e) => e.gsoSegs > 1 && e.netns === topo.inode.hv1);
      const pair = (fn: string) => {
        const entry = events.find((e) => name(e) === fn && !e.isReturn);
        const exit = entry && events.find((e) => name(e) === fn && e.isReturn && e.skb === entry.skb && e.tstamp > entry.tstamp);
        return entry && exit ? { entry, exit } : undefined;
      };
      // iptunnel_handle_offloads sets SKB_GSO_IPXIP6 and returns 0.
      const off = pair('iptunnel_handle_offloads')!;
      expect(off).toBeDefined();
      expect([has(off.entry, GSO_IPXIP6), has(off.exit, GSO_IPXIP6), off.exit.retval]).toEqual([false, true, 0n]);
      // The encapsulation step (whichever of these this kernel did not inline) adds 64 bytes.
      const encap = pair('seg6_do_srh') ?? pair('seg6_do_srh_encap');
      expect(encap).toBeDefined();
      expect(encap!.exit.len - encap!.entry.len).toBe(ENCAP_OVERHEAD);
    },
    600_000,
  );

  for (const backend of ['kprobe', 'kprobe-multi'] as const)
    itWithBackend(backend, ...SRV6_PATH)(
      `${backend}: seg6 encap and decap functions between the device events`,
      async () => {
        const { summary, received, packets, name } = await traceTransfer(backend, { regex: SRV6_REGEX });
        expect(received).toBe(BYTES);
        expectNoLoss(summary);
        const crossing = crossingPackets(packets);
        expect(crossing.length).toBeGreaterThan(0);
        for (const p of crossing) expectSeg6Path(p, name);
      },
      600_000,
    );
});

// ---- the CLI ----

/** Programs of ours with a link, as bpftool sees them. */
const attachedIpftLinks = () => ipftInKernel().links;

interface Run {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function ipft(args: string[]): Run {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  return { proc, out: () => out, err: () => err, exit: new Promise((r) => proc.on('close', (code) => r(code))) };
}

async function waitFor(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ipft CLI', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} missing: build first (npm run build)`);
    dir = mkdtempSync(join(tmpdir(), 'ipft-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itWith(SRV6_PATH)(
    'traces until SIGTERM: summary line, Trace ready!, ready file, Samples/Lost, GSO blocks; nothing left attached',
    async () => {
      const ready = join(dir, 'ready');
      const run = ipft(['-m', '0xdeadbeef', '-r', CLI_REGEX, '--ready-file', ready]);
      await waitFor(() => existsSync(ready) || run.proc.exitCode !== null, 'the ready file');
      expect(run.err()).toMatch(/^Backend: \w/m);
      expect(run.err()).toMatch(/^Attaching program \(total \d+, succeeded \d+, failed \d+, filtered: \d+, untraceable: \d+\)$/m);
      expect(run.err()).toContain('Trace ready!');
      expect(attachedIpftLinks()).toBeGreaterThan(0);
      expect(await tcpTransfer(topo, 1 << 20)).toBe(1 << 20);
      run.proc.kill('SIGTERM');
      expect(await run.exit).toBe(0);
      const out = run.out();
      const m = /^Samples: (\d+) Lost: (\d+)$/m.exec(out)!;
      expect(m).not.toBeNull();
      expect(Number(m[1])).toBeGreaterThan(0);
      expect(Number(m[2])).toBe(0);
      expect(out).toMatch(/^=== packet 1: skb 0x[0-9a-f]{16}, \d+ events/m);
      expect(out).toMatch(
        /^\d+ \d{4} \S+ \(len: \d+ gso_size: \d+ gso_segs: \d+ gso_type: tcpv4\|ipxip6 protocol: 0x86dd inner_protocol: 0x0800 encapsulation: 1 /m,
      );
      expect(attachedIpftLinks()).toBe(0);
    },
    300_000,
  );

  it('streams JSON lines and stops by itself at --limit', async () => {
    const ready = join(dir, 'ready-json');
    const run = ipft(['-m', '0xdeadbeef', '-r', CLI_REGEX, '-o', 'json', '--limit', '20', '--ready-file', ready]);
    await waitFor(() => existsSync(ready) || run.proc.exitCode !== null, 'the ready file');
    const transfer = tcpTransfer(topo, 1 << 20);
    expect(await run.exit).toBe(0);
    await transfer;
    const lines = run.out().trim().split('\n');
    expect(lines).toHaveLength(20);
    for (const l of lines)
      expect(JSON.parse(l)).toMatchObject({
        packet_id: expect.stringMatching(/^0x[0-9a-f]{16}$/),
        packet: expect.any(Number),
        timestamp: expect.any(Number),
        processor_id: expect.any(Number),
        function: expect.any(String),
        is_return: false,
        len: expect.any(Number),
      });
    expect(run.err()).toMatch(/^Samples: \d+ Lost: 0$/m);
    expect(attachedIpftLinks()).toBe(0);
  }, 300_000);

  it('Ctrl-C at any time leaves nothing attached', async () => {
    const run = ipft(['-m', '0xdeadbeef', '-r', CLI_REGEX]);
    await waitFor(() => /Backend:/.test(run.err()) || run.proc.exitCode !== null, 'the backend line');
    run.proc.kill('SIGINT'); // while attaching (or just after)
    const code = await run.exit;
    expect([0, 1]).toContain(code);
    expect(attachedIpftLinks()).toBe(0);
  }, 300_000);

  it('lists targets and says why backends are unavailable', () => {
    const out = execFileSync(process.execPath, [CLI, '--check-backends', '-o', 'json'], { encoding: 'utf8' });
    const checks = JSON.parse(out) as Array<{ backend: string; ok: boolean; reason: string }>;
    expect(checks.map((c) => c.backend)).toEqual(['fentry', 'kprobe-multi', 'kprobe', 'tp_btf']);
    for (const c of checks) expect(c.reason).toMatch(c.ok ? /^attached to / : /E[A-Z]+/);
    const list = execFileSync(process.execPath, [CLI, '-l', '-b', 'tp_btf'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(list).toMatch(/^net:net_dev_queue \(skb arg 1\)$/m);
  });
});
