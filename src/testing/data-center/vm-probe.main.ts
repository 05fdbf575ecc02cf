// The program a tenant "VM" runs (inside its network namespace): TCP and UDP servers that answer
// with the VM's own name and tenant, a bulk TCP sink, and a control socket (a unix socket: the
// test process lives in another namespace) through which the test makes the VM open connections
// and reads what it received. Every request carries the sender's name and tenant, so a server
// counts what reached it from each tenant: a leak between tenants shows even when both tenants
// use the same addresses.
//
//   node vm-probe.main.js NAME TENANT CONTROL_SOCKET
//   control: one JSON request per line, one JSON answer per line (see Request below).
import { createSocket, Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';

export const ECHO_PORT = 7000;
export const BULK_PORT = 7001;

export type Proto = 'tcp' | 'udp';

export type Request =
  { op: 'tcp' | 'udp'; host: string; timeoutMs: number } | { op: 'bulk'; host: string; bytes: number; timeoutMs: number } | { op: 'stats' } | { op: 'reset' };

export type ExchangeAnswer = { ok: true; from: string; tenant: string; ms: number } | { ok: false; error: string };
export type BulkAnswer = { ok: true; bytes: number; ms: number } | { ok: false; error: string; sent: number };
export interface Stats {
  /** Requests received, by protocol and by the sender's tenant. */
  received: Record<Proto, Record<string, number>>;
  /** ICMP echo requests this namespace received (the kernel's counters: pings never reach the probe). */
  icmpInEchos: { 4: number; 6: number };
}

const [name, tenant, control] = process.argv.slice(2);
if (!name || !tenant || !control) {
  process.stderr.write('usage: vm-probe.main.js NAME TENANT CONTROL_SOCKET\n');
  process.exit(2);
}

let received: Stats['received'] = { tcp: {}, udp: {} };
const count = (proto: Proto, from: string) => (received[proto][from] = (received[proto][from] ?? 0) + 1);

/** "HELLO <name> <tenant> <nonce>" → "FROM <name> <tenant> <nonce>". */
function answer(proto: Proto, line: string): string | undefined {
  const m = /^HELLO (\S+) (\S+) (\S+)$/.exec(line.trim());
  if (!m) return undefined;
  count(proto, m[2]);
  return `FROM ${name} ${tenant} ${m[3]}\n`;
}

// Echo over TCP, dual stack.
createServer((s) => {
  let buf = '';
  s.on('data', (b) => {
    buf += b.toString();
    if (!buf.includes('\n')) return;
    const reply = answer('tcp', buf.slice(0, buf.indexOf('\n')));
    if (reply) s.end(reply);
    else s.destroy();
  });
  s.on('error', () => undefined);
}).listen({ port: ECHO_PORT, host: '::', ipv6Only: false });

// Echo over UDP: one socket per family.
for (const type of ['udp4', 'udp6'] as const) {
  const u = createSocket({ type, ipv6Only: type === 'udp6' });
  u.on('message', (msg, rinfo) => {
    const reply = answer('udp', msg.toString());
    if (reply) u.send(reply, rinfo.port, rinfo.address);
  });
  u.on('error', () => undefined);
  u.bind(ECHO_PORT, type === 'udp4' ? '0.0.0.0' : '::');
}

// Bulk sink: counts what a connection sends, says how much once the sender is done.
createServer((s) => {
  let n = 0;
  s.on('data', (b) => (n += b.length));
  s.on('end', () => s.end(`GOT ${n}\n`));
  s.on('error', () => undefined);
}).listen({ port: BULK_PORT, host: '::', ipv6Only: false });

function nonce(): string {
  return randomBytes(6).toString('hex');
}

function parseReply(text: string, n: string): { from: string; tenant: string } | undefined {
  const m = /^FROM (\S+) (\S+) (\S+)/.exec(text.trim());
  return m && m[3] === n ? { from: m[1], tenant: m[2] } : undefined;
}

function tcpExchange(host: string, timeoutMs: number): Promise<ExchangeAnswer> {
  const t0 = performance.now();
  const n = nonce();
  return new Promise((resolve) => {
    const s = new Socket();
    let buf = '';
    const done = (a: ExchangeAnswer) => {
      clearTimeout(timer);
      s.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message }));
    s.on('data', (b) => (buf += b.toString()));
    s.on('end', () => {
      const r = parseReply(buf, n);
      done(r ? { ok: true, ...r, ms: performance.now() - t0 } : { ok: false, error: `bad reply ${JSON.stringify(buf)}` });
    });
    s.connect(ECHO_PORT, host, () => s.write(`HELLO ${name} ${tenant} ${n}\n`));
  });
}

/** Up to three datagrams within the timeout: the first may wait on neighbour resolution. */
function udpExchange(host: string, timeoutMs: number): Promise<ExchangeAnswer> {
  const t0 = performance.now();
  const n = nonce();
  return new Promise((resolve) => {
    const u: UdpSocket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const timers: NodeJS.Timeout[] = [];
    const done = (a: ExchangeAnswer) => {
      timers.forEach(clearTimeout);
      u.close();
      resolve(a);
    };
    u.on('message', (msg) => {
      const r = parseReply(msg.toString(), n);
      if (r) done({ ok: true, ...r, ms: performance.now() - t0 });
    });
    u.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message }));
    const send = () => u.send(`HELLO ${name} ${tenant} ${n}\n`, ECHO_PORT, host, () => undefined);
    for (let i = 0; i < 3; i++) timers.push(setTimeout(send, (i * timeoutMs) / 3));
    timers.push(setTimeout(() => done({ ok: false, error: 'timeout' }), timeoutMs));
  });
}

function bulk(host: string, bytes: number, timeoutMs: number): Promise<BulkAnswer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = new Socket();
    let sent = 0;
    let buf = '';
    const done = (a: BulkAnswer) => {
      clearTimeout(timer);
      s.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'timeout', sent }), timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message, sent }));
    s.on('data', (b) => (buf += b.toString()));
    s.on('end', () => {
      const m = /^GOT (\d+)/.exec(buf);
      done(m ? { ok: true, bytes: Number(m[1]), ms: performance.now() - t0 } : { ok: false, error: `bad reply ${JSON.stringify(buf)}`, sent });
    });
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const pump = () => {
      while (sent < bytes) {
        const part = Math.min(chunk.length, bytes - sent);
        sent += part;
        if (!s.write(part === chunk.length ? chunk : chunk.subarray(0, part))) return void s.once('drain', pump);
      }
      s.end();
    };
    s.connect(BULK_PORT, host, pump);
  });
}

/** The kernel's ICMP echo counters of this namespace (/proc/net is per namespace). */
function icmpInEchos(): Stats['icmpInEchos'] {
  const snmp = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Icmp:'));
  const keys = snmp[0].split(/\s+/);
  const vals = snmp[1].split(/\s+/);
  const v4 = Number(vals[keys.indexOf('InEchos')]);
  const m = /^Icmp6InEchos\s+(\d+)$/m.exec(readFileSync('/proc/net/snmp6', 'utf8'));
  return { 4: v4, 6: m ? Number(m[1]) : 0 };
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'tcp':
      return tcpExchange(req.host, req.timeoutMs);
    case 'udp':
      return udpExchange(req.host, req.timeoutMs);
    case 'bulk':
      return bulk(req.host, req.bytes, req.timeoutMs);
    case 'stats':
      return { received, icmpInEchos: icmpInEchos() } satisfies Stats;
    case 'reset':
      received = { tcp: {}, udp: {} };
      return { ok: true };
  }
}

rmSync(control, { force: true });
createServer((c) => {
  let buf = '';
  c.on('data', (b) => {
    buf += b.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let req: Request & { id?: number };
      try {
        req = JSON.parse(line);
      } catch {
        c.write(`${JSON.stringify({ error: 'not JSON' })}\n`);
        continue;
      }
      void handle(req).then(
        (a) => c.write(`${JSON.stringify({ id: req.id, answer: a })}\n`),
        (e) => c.write(`${JSON.stringify({ id: req.id, error: String(e) })}\n`),
      );
    }
  });
  c.on('error', () => undefined);
}).listen(control, () => process.stdout.write(`vm-probe ${name} (${tenant}) ready\n`));
