// Traffic between test namespaces over real sockets, for the XDP and tracer topology tests and
// benchmarks: ping, UDP and TCP driven by small Node scripts run inside the namespaces (`ip netns
// exec`). What the receiving side's own sockets got is the independent observer.
import { ChildProcess, spawn } from 'node:child_process';

import type { TestNetns } from '../netns';
import { scaled } from '../time-scale';

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command running inside a namespace: its output so far, and its result once it exits. */
interface Started {
  proc: ChildProcess;
  stdout(): string;
  done: Promise<ProcResult>;
}

/** Starts `cmd` inside `ns`, killed (SIGKILL) after killAfterMs if given. */
function startIn(ns: TestNetns, cmd: string, args: string[], killAfterMs?: number): Started {
  const proc = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const kill = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
  const done = new Promise<ProcResult>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
  return { proc, stdout: () => stdout, done };
}

/** Resolves once `p` printed `text`; rejects if it exits first. */
function printed(p: Started, text: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!p.stdout().includes(text)) return;
      p.proc.stdout!.off('data', check);
      resolve();
    };
    p.proc.stdout!.on('data', check);
    p.done.then(() => reject(new Error(`${what} exited before it was ready`)), reject);
  });
}

const exited = (ns: TestNetns, r: ProcResult) => new Error(`node in ${ns.name} exited ${r.code}: ${r.stderr.trim()}`);

/** Runs a command inside `ns`, killed (SIGKILL) after timeoutMs. */
export function runIn(ns: TestNetns, cmd: string, args: string[], timeoutMs = scaled(10_000)): Promise<ProcResult> {
  return startIn(ns, cmd, args, timeoutMs).done;
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
  private constructor(private readonly proc: Started) {}

  static async start(ns: TestNetns): Promise<Receiver> {
    const p = startIn(ns, process.execPath, ['-e', RECEIVER], scaled(30_000)); // a backstop, scaled: TCG runs the test phases much slower
    await printed(p, 'ready\n', 'receiver');
    return new Receiver(p);
  }

  /** Stops it; the UDP payloads it received. */
  async stop(): Promise<string[]> {
    this.proc.proc.kill('SIGTERM');
    const s = (await this.proc.done).stdout.replace('ready\n', '').trim();
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
  const r = await runIn(
    ns,
    process.execPath,
    ['-e', SENDER, mode, o.tag, o.src4, o.dst4, o.src6, o.dst6, String(o.count ?? 20), String(o.bytes ?? 1_000_000)],
    scaled(15_000),
  );
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

/**
 * Sends `bytes` over one TCP connection from `client` to `server`'s addr:port and resolves with
 * what the server received.
 */
export async function tcpTransferBetween(client: TestNetns, server: TestNetns, addr: string, port: number, bytes: number, timeoutMs = 60_000): Promise<number> {
  const srv = startIn(server, process.execPath, [
    '-e',
    `const net=require('net');let n=0;const s=net.createServer(c=>{c.on('data',d=>n+=d.length);` +
      `c.on('end',()=>{process.stdout.write('received '+n+'\\n');s.close();});});` +
      `s.listen(${port},'${addr}',()=>process.stdout.write('listening\\n'));setTimeout(()=>process.exit(3),${timeoutMs}).unref();`,
  ]);
  await printed(srv, 'listening', `tcp server in ${server.name}`);
  const cli = await startIn(client, process.execPath, [
    '-e',
    `const c=require('net').connect(${port},'${addr}',()=>c.end(Buffer.alloc(${bytes},0x61)));` +
      `c.on('close',h=>process.exit(h?1:0));c.on('error',e=>{console.error(e.message);process.exit(1)});` +
      `setTimeout(()=>{console.error('timeout');process.exit(2)},${timeoutMs}).unref();`,
  ]).done;
  if (cli.code !== 0) {
    srv.proc.kill();
    throw exited(client, cli);
  }
  const received = await srv.done;
  if (received.code !== 0) throw exited(server, received);
  const m = /received (\d+)/.exec(received.stdout);
  return m ? Number(m[1]) : -1;
}
