// The child redis-server of `serve`, for real (needs the redis-server binary; the serve tests need
// root for their managed namespace). Issue 15, defect 12: a password nobody else knows, and only
// with --sandbox or redis.embedded.
//
//   redis-server 127.0.0.1:<random> (ours, or a stand-in for the real one started late)
//   serve (in-process) on 127.0.0.1:<random>, managing netns srv6t-redis-<pid>-<rnd>
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transpileModule } from 'typescript';

import { JsonLogger } from '../cli/logging';
import { serve, ServeHandle } from '../cli/srv6-agent';
import { loadConfig } from '../config/config.loader';
import { JobQueue, openQueue } from '../jobs/job-queue';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { newPassword, redisAnswers, startRedisServer, tcpReachable, withPassword } from './local-redis';
import { LocalRedisService, prepareRedis } from './local-redis.service';

jest.setTimeout(scaled(60_000));

const haveRedis = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

(haveRedis ? describe : describe.skip)('startRedisServer (skipped without the redis-server binary)', () => {
  it('starts a Redis that accepts connections, and stops it by pid', async () => {
    const port = await freePort();
    const child = await startRedisServer({ host: '127.0.0.1', port });
    try {
      expect(await redisAnswers('127.0.0.1', port)).toBe(true);
      expect(execFileSync('ps', ['-o', 'args=', '-p', String(child.pid)], { encoding: 'utf8' })).toMatch(new RegExp(`redis-server 127\\.0\\.0\\.1:${port}`));
    } finally {
      await child.stop();
    }
    expect(alive(child.pid)).toBe(false);
    expect(await tcpReachable('127.0.0.1', port)).toBe(false);
    await child.stop(); // idempotent
  });

  it("fails with redis-server's own words when the port is taken, never taking the holder for a Redis", async () => {
    // The blocker accepts TCP connections but is no Redis: only redis-server's exit may answer. It
    // reads and discards what the readiness probe sends, so each probe connection ends when the
    // probe drops it (a socket nobody reads never sees the peer's FIN, and close() then waits for
    // it forever: that hung in the lab VM, where redis-server starts slowly enough to be probed).
    const conns = new Set<Socket>();
    let probes = 0;
    const blocker: Server = createServer((s) => {
      probes++;
      conns.add(s);
      s.on('close', () => conns.delete(s));
      s.on('error', () => undefined); // a probe that resets its connection is no failure
      s.resume();
    });
    await new Promise<void>((r, j) => blocker.once('error', j).listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    // redis-server started late, as on a slow machine: the probe meets the blocker first.
    const dir = mkdtempSync(join(tmpdir(), 'srv6t-redis-late-'));
    const late = join(dir, 'redis-server');
    writeFileSync(late, '#!/bin/sh\nsleep 0.3\nexec redis-server "$@"\n', { mode: 0o755 });
    try {
      await expect(startRedisServer({ host: '127.0.0.1', port, binary: late, readyTimeoutMs: scaled(3000) })).rejects.toThrow(
        /exited \(1\) before accepting connections: .*Address already in use/,
      );
      expect(probes).toBeGreaterThan(0);
    } finally {
      for (const s of conns) s.destroy();
      await new Promise((r) => blocker.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Inline commands over a raw connection, as any local user could send them: one reply line each. */
function rawCommands(port: number, ...cmds: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let got = '';
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`no reply to ${cmds.length} commands: ${JSON.stringify(got)}`))), scaled(3000));
    sock.on('data', (b) => {
      got += b.toString();
      const lines = got.split('\r\n').slice(0, -1);
      if (lines.length >= cmds.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(lines);
      }
    });
    sock.once('error', reject);
    sock.connect(port, '127.0.0.1', () => sock.write(cmds.map((c) => `${c}\r\n`).join('')));
  });
}

async function until(what: string, f: () => Promise<boolean> | boolean, ms = scaled(10_000)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

(haveRedis ? describe : describe.skip)('the throwaway redis-server requires a password (skipped without the redis-server binary)', () => {
  it('refuses a local user without it (NOAUTH), answers with it, and shows it on no command line', async () => {
    const port = await freePort();
    const password = newPassword();
    const child = await startRedisServer({ host: '127.0.0.1', port, password });
    try {
      expect(await rawCommands(port, 'PING', 'SET srv6-agent:x:jobs:1 y', 'KEYS *')).toEqual(Array(3).fill('-NOAUTH Authentication required.'));
      expect(await rawCommands(port, `AUTH ${password}`, 'PING')).toEqual(['+OK', '+PONG']);
      expect(await rawCommands(port, 'AUTH guessed', 'PING')).toEqual([expect.stringMatching(/^-WRONGPASS/), '-NOAUTH Authentication required.']);
      const seen = [
        execFileSync('ps', ['-ww', '-o', 'args=', '-p', String(child.pid)], { encoding: 'utf8' }),
        readFileSync(`/proc/${child.pid}/cmdline`, 'latin1'),
        readFileSync(`/proc/${child.pid}/environ`, 'latin1'),
      ];
      for (const text of seen) expect(text).not.toContain(password);
    } finally {
      await child.stop();
    }
  });

  it('takes a configured password as it is (quotes, backslashes, spaces), and Bull finds it in the URL', async () => {
    const port = await freePort();
    const password = 'a "b\\c d%@:/';
    const child = await startRedisServer({ host: '127.0.0.1', port, password });
    const q = openQueue(withPassword(`redis://127.0.0.1:${port}`, password), `lr-${process.pid}`);
    try {
      expect(await rawCommands(port, 'PING')).toEqual(['-NOAUTH Authentication required.']);
      expect(await q.client.ping()).toBe('PONG');
    } finally {
      await q.close();
      await child.stop();
    }
  });

  it('ends when the process that started it is killed (SIGKILL): no orphan keeps the port with a lost password', async () => {
    // The module as JavaScript, in a node process of its own that this test can kill.
    const dir = mkdtempSync(join(tmpdir(), 'srv6t-redis-parent-'));
    const js = transpileModule(readFileSync(join(__dirname, 'local-redis.ts'), 'utf8'), {
      compilerOptions: { module: 1 /* CommonJS */, target: 9 /* ES2022 */ },
    }).outputText;
    writeFileSync(join(dir, 'local-redis.js'), js);
    const port = await freePort();
    const parent: ChildProcess = spawn(
      process.execPath,
      [
        '-e',
        `require('./local-redis.js').startRedisServer({ host: '127.0.0.1', port: ${port}, password: 'p' }).then((c) => console.log(c.pid), (e) => { console.error(e.message); process.exit(1); }); setInterval(() => {}, 1000);`,
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let pid = 0;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        parent.stdout!.once('data', (b) => resolve(Number(String(b).trim())));
        parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before starting redis-server`)));
      });
      expect(alive(pid)).toBe(true);
      parent.kill('SIGKILL');
      await until('redis-server to end with its parent', () => !alive(pid));
      expect(await tcpReachable('127.0.0.1', port)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

(haveRedis ? describe : describe.skip)('prepareRedis, before the app is built (skipped without the redis-server binary)', () => {
  const lines: string[] = [];
  const logger = { log: (m: unknown) => void lines.push(`log ${String(m)}`), warn: (m: unknown) => void lines.push(`warn ${String(m)}`) };
  beforeEach(() => (lines.length = 0));

  it('without redis.embedded starts nothing when no Redis answers: it waits for the real one', async () => {
    const port = await freePort();
    const config = loadConfig({ env: { SRV6_REDIS_URL: `redis://127.0.0.1:${port}` } });
    const prepared = await prepareRedis(config, logger);
    expect(prepared).toEqual({ config });
    expect(lines).toEqual([
      `warn Redis at redis://127.0.0.1:${port} is not reachable: waiting for it (jobs are taken once it answers; no throwaway redis-server is started without --sandbox or redis.embedded)`,
    ]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await tcpReachable('127.0.0.1', port)).toBe(false);
  });

  it('with redis.embedded: a throwaway Redis whose password only the queue has; stopped on shutdown; a Redis already there is used as it is', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const config = loadConfig({ env: { SRV6_REDIS_URL: url, SRV6_REDIS_EMBEDDED: 'true' } });
    const { config: withIt, child } = await prepareRedis(config, logger);
    expect(child).toBeDefined();
    expect(withIt.redis.url).toMatch(new RegExp(`^redis://:[0-9a-f]{64}@127\\.0\\.0\\.1:${port}$`));
    expect(withIt.redis.embedded).toBe(true);
    expect(withIt.listenAddress).toEqual(config.listenAddress); // the rest of the config as it was
    expect(config.redis.url).toBe(url);
    expect(lines.join('\n')).not.toContain(new URL(withIt.redis.url).password); // logs show no password
    expect(await rawCommands(port, 'PING')).toEqual(['-NOAUTH Authentication required.']);
    // The queue connects with the URL it is given: jobs go through.
    const hv = `lr-${process.pid}`;
    const q = openQueue(withIt.redis.url, hv);
    try {
      q.process(1, async () => ({ type: 'resync', operations: 0 }));
      const jobs = new JobQueue(q);
      const { job } = await jobs.submit({ type: 'resync' });
      expect(await jobs.wait(job, scaled(10_000))).toEqual({ type: 'resync', operations: 0 });
    } finally {
      await q.close();
    }
    await new LocalRedisService(withIt).onApplicationShutdown();
    expect(alive(child!.pid)).toBe(false);

    // A Redis that answers already is used as it is, password or not.
    const other = await startRedisServer({ host: '127.0.0.1', port });
    try {
      lines.length = 0;
      expect(await prepareRedis(config, logger)).toEqual({ config });
      expect(lines).toEqual([`log using the Redis at ${url}`]);
    } finally {
      await other.stop();
    }
  });
});

(haveRedis ? describe : describe.skip)('serve and its Redis (issue 15, defect 12; skipped without the redis-server binary)', () => {
  let dir: string;
  let ns: TestNetns;
  const logs: { level: string; context: string; message: string }[] = [];
  const env = (port: number, extra: Record<string, string> = {}) => ({
    SRV6_LISTEN: '127.0.0.1:0',
    SRV6_REDIS_URL: `redis://127.0.0.1:${port}`,
    SRV6_STATE_DIR: join(dir, `state-${port}`),
    SRV6_HYPERVISOR: `lr-${process.pid}-${port}`,
    SRV6_NETNS: ns.name,
    SRV6_RESYNC_SECONDS: '0',
    ...extra,
  });
  const logger = new JsonLogger({ write: (l) => void logs.push(JSON.parse(l)) });
  const redisLogs = () => logs.filter((l) => l.context === 'LocalRedis').map((l) => `${l.level === 'info' ? 'log' : l.level} ${l.message}`);
  const post = (agent: ServeHandle, job: object) =>
    fetch(`${agent.url}/v1/jobs?wait=${scaled(10_000)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(job) });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'srv6t-redis-serve-'));
    ns = TestNetns.create('redis');
  });
  beforeEach(() => (logs.length = 0));
  afterAll(() => {
    destroyAllNetns();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without --sandbox starts no Redis of its own when none answers, and takes jobs once the real one is there', async () => {
    const port = await freePort();
    const agent = await serve({ command: 'serve', sandbox: false }, { env: env(port), logger });
    let real: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      expect(redisLogs()).toEqual([expect.stringMatching(/^warn Redis at redis:\/\/127\.0\.0\.1:\d+ is not reachable: waiting for it/)]);
      expect(await tcpReachable('127.0.0.1', port)).toBe(false);
      expect((await fetch(`${agent.url}/v1/health/ready`)).status).toBe(503);
      real = await startRedisServer({ host: '127.0.0.1', port }); // the real Redis, late
      await until('the agent to be ready', async () => (await fetch(`${agent.url}/v1/health/ready`)).status === 200, scaled(30_000));
      const r = await post(agent, { type: 'resync' });
      expect(r.status).toBe(202);
      expect(((await r.json()) as { job: { state: string } }).job.state).toBe('completed');
      await until('the log line that says so', () => redisLogs().includes(`log Redis at redis://127.0.0.1:${port} answers now`));
    } finally {
      await agent.close();
      await real?.stop();
    }
  });

  it("with redis.embedded (what --sandbox sets): its own Redis refuses a local user without the password; the agent's queue has it; stopped on close", async () => {
    const port = await freePort();
    const agent = await serve({ command: 'serve', sandbox: false }, { env: env(port, { SRV6_REDIS_EMBEDDED: 'true' }), logger });
    try {
      expect(redisLogs()).toEqual([
        expect.stringMatching(
          /^log Redis at redis:\/\/127\.0\.0\.1:\d+ was not reachable: started redis-server \(pid \d+, no persistence, password required\)/,
        ),
      ]);
      expect(await rawCommands(port, 'PING', 'KEYS *')).toEqual(['-NOAUTH Authentication required.', '-NOAUTH Authentication required.']);
      const r = await post(agent, { type: 'resync' });
      expect(r.status).toBe(202);
      expect(((await r.json()) as { job: { state: string } }).job.state).toBe('completed');
      expect((await fetch(`${agent.url}/v1/health/ready`)).status).toBe(200);
      expect(agent.config.redis.url).not.toBe(`redis://127.0.0.1:${port}`);
      expect(JSON.stringify(logs)).not.toContain(new URL(agent.config.redis.url).password);
    } finally {
      await agent.close();
    }
    expect(redisLogs()).toContainEqual(expect.stringMatching(/^log stopped redis-server \(pid \d+\)/));
    expect(await tcpReachable('127.0.0.1', port)).toBe(false);
  });
});

describe('startRedisServer without a binary', () => {
  it('says it cannot run it', async () => {
    await expect(startRedisServer({ host: '127.0.0.1', port: 1, binary: '/nonexistent/redis-server' })).rejects.toThrow(
      'cannot run /nonexistent/redis-server: ENOENT',
    );
  });
});
