// A Redis for a first `npm start` (--sandbox, or redis.embedded): if nothing answers at the
// configured loopback URL, the agent runs a throwaway redis-server (no persistence) as its child,
// with a password of its own, and stops it on shutdown.
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';

export interface Endpoint {
  host: string;
  port: number;
}

/** Host and port of a redis:// URL (IPv6 brackets removed, default port 6379). */
export function redisEndpoint(url: string): Endpoint {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port ? Number(u.port) : 6379 };
}

/** The URL with this password (and its user, if any): how Bull and ioredis are given it. */
export function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = encodeURIComponent(password); // the setter leaves '%' alone; Bull decodes the whole
  return u.toString();
}

/** The URL fit for a log line: its password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** A password for one run of the throwaway redis-server: 256 random bits, URL-safe. */
export function newPassword(): string {
  return randomBytes(32).toString('hex');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True when a TCP connection to host:port is accepted within timeoutMs. */
export function tcpReachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * True when a Redis answers PING at host:port within timeoutMs (-NOAUTH also proves it is a Redis).
 * Stronger than tcpReachable: another program holding the port does not pass.
 */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let got = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (b) => {
      got += b.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG') || got.startsWith('-NOAUTH'));
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

export interface RedisChild {
  readonly pid: number;
  /** SIGTERM (SIGKILL after a grace period) and wait for the exit; idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions extends Endpoint {
  binary?: string;
  readyTimeoutMs?: number;
  /** requirepass: clients must AUTH with it (a local user could otherwise bypass the API's token). */
  password?: string;
}

/** The executable `name` resolves to through PATH (as spawn would), or undefined. */
function resolveExecutable(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* the next one */
    }
  }
  return undefined;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts `redis-server` bound to host:port without persistence; resolves once it answers PING.
 * Its configuration (the password with it) goes in on stdin, never on a command line `ps` shows.
 */
export async function startRedisServer(opts: StartOptions): Promise<RedisChild> {
  const binary = opts.binary ?? 'redis-server';
  const bind = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  // Double-quoted as redis.conf reads it (sdssplitargs): a configured password may hold anything.
  const quoted = (v: string) => `"${v.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
  const conf = [`port ${opts.port}`, `bind ${bind}`, 'save ""', 'appendonly no', ...(opts.password ? [`requirepass ${quoted(opts.password)}`] : [])];
  const program = resolveExecutable(binary);
  if (!program) throw new Error(`cannot run ${binary}: ENOENT`);
  // With setpriv it gets SIGTERM when the agent dies (even by SIGKILL): an orphan would hold the
  // port with a password nobody knows any more.
  const setpriv = resolveExecutable('setpriv');
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'TERM', '--', program, '-'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(program, ['-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.on('error', () => undefined); // EPIPE when it exits before reading
  child.stdin!.end(`${conf.join('\n')}\n`);
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-2000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (e) => (spawnError = e)); // ENOENT etc.; also keeps a late error from crashing us

  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // already gone (e.g. Ctrl-C reached it too)
    }
  };
  const stop = async () => {
    if (exited(child) || child.pid === undefined) return;
    signal('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      signal('SIGKILL');
      await waitExit(child, 2000);
    }
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 5000);
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.code ?? spawnError.message}`);
    if (exited(child))
      throw new Error(
        `${binary} exited (${child.exitCode ?? child.signalCode}) before accepting connections: ${output.trim().split('\n').slice(-3).join(' | ')}`,
      );
    if (await redisAnswers(opts.host, opts.port, 200)) {
      if (!exited(child)) break; // it is ours that answered, not some Redis that held the port before
      continue;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${binary} did not accept connections on ${opts.host}:${opts.port} within ${opts.readyTimeoutMs ?? 5000} ms`);
    }
  }
  // From here on its output is not ours to show; drain it so the pipes never fill up.
  child.stdout!.removeListener('data', keep).resume();
  child.stderr!.removeListener('data', keep).resume();
  return { pid: child.pid!, stop };
}
