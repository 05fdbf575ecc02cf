// The child redis-server of `serve`, for real (needs the redis-server binary, no root).
import { execFileSync } from 'node:child_process';
import { createServer, Server } from 'node:net';

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

  it('fails with redis-server\'s own words when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      // The blocker accepts TCP connections but is no Redis: only redis-server's exit may answer.
      await expect(startRedisServer({ host: '127.0.0.1', port, readyTimeoutMs: 3000 })).rejects.toThrow(/exited \(1\) before accepting connections: .*Address already in use/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('startRedisServer without a binary', () => {
  it('says it cannot run it', async () => {
    await expect(startRedisServer({ host: '127.0.0.1', port: 1, binary: '/nonexistent/redis-server' })).rejects.toThrow('cannot run /nonexistent/redis-server: ENOENT');
  });
});
