// The child redis-server of `serve`, for real (needs the redis-server binary, no root).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { scaled } from '../testing/time-scale';
import { redisAnswers, startRedisServer, tcpReachable } from './local-redis';

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

  it('fails with redis-server\'s own words when the port is taken, never taking the holder for a Redis', async () => {
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
      await expect(startRedisServer({ host: '127.0.0.1', port, binary: late, readyTimeoutMs: scaled(3000) })).rejects.toThrow(/exited \(1\) before accepting connections: .*Address already in use/);
      expect(probes).toBeGreaterThan(0);
    } finally {
      for (const s of conns) s.destroy();
      await new Promise((r) => blocker.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startRedisServer without a binary', () => {
  it('says it cannot run it', async () => {
    await expect(startRedisServer({ host: '127.0.0.1', port: 1, binary: '/nonexistent/redis-server' })).rejects.toThrow('cannot run /nonexistent/redis-server: ENOENT');
  });
});
