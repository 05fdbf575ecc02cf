// Traffic for the XDP topology tests and benchmarks: the VM NIC observer (bpf/xdp/vm_nic.bpf.c)
// and real sockets (ping, UDP, TCP) driven by small Node scripts run inside the VM namespaces.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { BpfObject, RingBuffer, XdpLink, XdpMode } from '../../bpf/libbpf';
import { packageRoot } from '../../native/addon';
import type { TestNetns } from '../../testing/netns';
import { scaled } from '../../testing/time-scale';
import { u32Key } from '../layout';

export const VM_NIC_OBJECT = () => join(packageRoot(), 'bpf/build/xdp/vm_nic.bpf.o');

/**
 * vm_nic attached (native) to a VM's interface inside its namespace: gives the veth peer the NAPI
 * instance XDP_REDIRECT into veth needs, counts frames, optionally records them or drops them.
 */
export class VmNic {
  readonly frames: Buffer[] = [];
  private ring?: RingBuffer;

  private constructor(
    private readonly obj: BpfObject,
    private readonly link: XdpLink,
  ) {}

  static async attach(ns: TestNetns, dev: string, opts: { record?: boolean; drop?: boolean } = {}): Promise<VmNic> {
    const obj = await BpfObject.load(VM_NIC_OBJECT(), { globals: { nic_record: u32Key(opts.record ? 1 : 0), nic_drop: u32Key(opts.drop ? 1 : 0) } });
    let link: XdpLink;
    try {
      link = XdpLink.attach(obj.prog('vm_nic_rx'), dev, { netns: ns.name, mode: XdpMode.Drv });
    } catch (e) {
      obj.close();
      throw e;
    }
    const nic = new VmNic(obj, link);
    if (opts.record)
      nic.ring = RingBuffer.open(obj.map('nic_frames'), (samples) => {
        for (const s of samples) nic.frames.push(Buffer.from(s.subarray(4, 4 + Math.min(s.readUInt32LE(0), 256))));
      }).unref();
    return nic;
  }

  /** Frames received so far (summed over CPUs). */
  packets(): number {
    return (this.obj.map('nic_packets').lookupPerCpu(u32Key(0)) ?? []).reduce((a, b) => a + Number(b.readBigUInt64LE(0)), 0);
  }

  close(): void {
    this.ring?.close();
    this.link.close(); // not pinned: detached with its last fd
    this.obj.close();
  }
}

// ---- processes inside namespaces ----

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command inside `ns`, killed (SIGKILL) after timeoutMs. */
export function runIn(ns: TestNetns, cmd: string, args: string[], timeoutMs = scaled(10_000)): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `ping -c n` bound to `src`; the number of replies. */
export async function ping(ns: TestNetns, src: string, dst: string, count = 3): Promise<number> {
  const r = await runIn(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '1', '-I', src, dst], scaled(10_000));
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

// The VM side of the socket tests. Receiver: UDP on 7001 and TCP on 7002, v4 and v6 (one dual-stack
// socket each); TCP answers each connection with the sha256 of what it received. On SIGTERM it
// prints the UDP payloads it got, as JSON.
const RECEIVER = `
const dgram = require('dgram'), net = require('net'), crypto = require('crypto');
const got = [];
const u = dgram.createSocket({ type: 'udp6', ipv6Only: false });
u.on('message', (m) => got.push(m.toString()));
const t = net.createServer((c) => { const h = crypto.createHash('sha256'); c.on('data', (d) => h.update(d)); c.on('end', () => c.end(h.digest('hex'))); });
let ready = 0;
const up = () => { if (++ready === 2) console.log('ready'); };
u.bind(7001, '::', up);
t.listen({ port: 7002, host: '::', ipv6Only: false }, up);
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify(got) + '\\n', () => process.exit(0)); });
`;

// Sender: argv = mode tag src4 dst4 src6 dst6 count bytes.
// mode "udp": per family, from a socket bound to a fixed port, <count> unconnected datagrams
// "<tag>-udp4-<i>" / "<tag>-udp6-<i>" (with DF and no connect the kernel writes IPv4 id 0: the
// packets are the same bytes in every run), then 2 with TTL/hop limit 1 ("<tag>-ttl4-<i>"). H.Encaps
// on the VM's HV does not forward the inner packet (no decrement): IPv4 ones expire at the
// decapsulating HV; IPv6 ones at the encapsulating HV already (the outer header inherits the
// inner hop limit). Prints {sent: n}.
// mode "tcp": one TCP stream per family of <bytes> deterministic bytes; prints {tcp4, tcp6, sent4,
// sent6}: the sha256 the receiver returned, and of what was sent.
const SENDER = `
const dgram = require('dgram'), net = require('net'), crypto = require('crypto');
const [mode, tag, src4, dst4, src6, dst6, count, bytes] = process.argv.slice(1);
const data = (fam) => { const b = Buffer.alloc(+bytes); for (let i = 0; i < b.length; i++) b[i] = (i * 31 + tag.charCodeAt(0) + fam) & 255; return b; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function udp(type, src, port, dst, label) {
  const s = dgram.createSocket(type);
  await new Promise((r) => s.bind(port, src, r));
  const one = (m) => new Promise((r) => s.send(m, 7001, dst, r));
  for (let i = 0; i < +count; i++) { await one(tag + '-' + label + '-' + i); await sleep(1); }
  s.setTTL(1);
  for (let i = 0; i < 2; i++) { await one(tag + '-' + label.replace('udp', 'ttl') + '-' + i); await sleep(1); }
  s.close();
}
function tcp(src, dst, fam) {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port: 7002, host: dst, localAddress: src }, () => { c.end(data(fam)); });
    let reply = ''; c.on('data', (d) => (reply += d)); c.on('end', () => resolve(reply)); c.on('error', reject);
    c.setTimeout(8000, () => { c.destroy(); resolve('timeout'); });
  });
}
(async () => {
  if (mode === 'udp') {
    await udp('udp4', src4, 40004, dst4, 'udp4');
    await udp('udp6', src6, 40006, dst6, 'udp6');
    console.log(JSON.stringify({ sent: 2 * +count }));
    return;
  }
  const [tcp4, tcp6] = await Promise.all([tcp(src4, dst4, 4), tcp(src6, dst6, 6)]);
  const h = (b) => crypto.createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ tcp4, tcp6, sent4: h(data(4)), sent6: h(data(6)) }));
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); });
`;

export class Receiver {
  private constructor(
    private readonly proc: ReturnType<typeof spawn>,
    private readonly out: Promise<string>,
  ) {}

  static start(ns: TestNetns): Promise<Receiver> {
    return new Promise((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'pipe'] });
      let buf = '';
      let started = false;
      const out = new Promise<string>((res) => p.on('close', () => res(buf)));
      const kill = setTimeout(() => p.kill('SIGKILL'), scaled(30_000)); // a backstop, scaled: TCG runs the test phases much slower
      p.on('close', () => clearTimeout(kill));
      p.stdout!.on('data', (d) => {
        buf += d;
        if (!started && buf.includes('ready\n')) {
          started = true;
          buf = buf.replace('ready\n', '');
          resolve(new Receiver(p, out));
        }
      });
      p.on('error', reject);
      p.on('close', () => !started && reject(new Error('receiver exited before it was ready')));
    });
  }

  /** Stops it; the UDP payloads it received. */
  async stop(): Promise<string[]> {
    this.proc.kill('SIGTERM');
    const s = (await this.out).trim();
    return s ? (JSON.parse(s) as string[]) : [];
  }
}

export interface TcpResult {
  tcp4: string;
  tcp6: string;
  sent4: string;
  sent6: string;
  error?: string;
}

export interface SendOptions {
  tag: string;
  src4: string;
  dst4: string;
  src6: string;
  dst6: string;
  /** UDP datagrams per family. */
  count?: number;
  /** TCP bytes per family. */
  bytes?: number;
}

async function sender(ns: TestNetns, mode: 'udp' | 'tcp', o: SendOptions): Promise<any> {
  const r = await runIn(ns, process.execPath, ['-e', SENDER, mode, o.tag, o.src4, o.dst4, o.src6, o.dst6, String(o.count ?? 20), String(o.bytes ?? 1_000_000)], scaled(15_000));
  try {
    return JSON.parse(r.stdout.trim());
  } catch {
    return { error: `exit ${r.code}: ${r.stderr || r.stdout}` };
  }
}

/** UDP datagrams (and 2 expiring ones) per family; see SENDER. */
export async function sendUdp(ns: TestNetns, o: SendOptions): Promise<{ sent: number; error?: string }> {
  return sender(ns, 'udp', o);
}

/** One TCP stream per family; see SENDER. */
export async function sendTcp(ns: TestNetns, o: SendOptions): Promise<TcpResult> {
  return sender(ns, 'tcp', o);
}
