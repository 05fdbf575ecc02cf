// A real redis-server for tests: its own port and directory, stopped by pid, restartable with
// its data (append-only file) to test what survives a Redis restart.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './process-exit';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function accepting(port: number, deadlineMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = new Socket();
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
      c.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() - t0 > deadlineMs) throw new Error(`redis on port ${port} not accepting after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Durable like a production Redis should be: every write is in the append-only file before it is acknowledged. */
export const DURABLE_REDIS = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];

export class TestRedis {
  private proc?: ChildProcess;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), mkdtempSync(join(tmpdir(), 'srv6t-redis-')));
    live.add(r);
    await r.launch();
    return r;
  }

  private async launch(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...DURABLE_REDIS], { stdio: 'ignore' });
    await accepting(this.port, 10_000);
  }

  /** Stops the server (SIGTERM, by pid) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  async destroy(): Promise<void> {
    live.delete(this);
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const live = new Set<TestRedis>();
onProcessExit(() => {
  for (const r of live) r['proc']?.kill('SIGKILL');
});
