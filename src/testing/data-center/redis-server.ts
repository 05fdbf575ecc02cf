// The data center's Redis, in the controller namespace: agents reach it over the management
// network (TCP), the test process (root namespace) through its unix socket, a file in a temporary
// directory (the filesystem is shared by all namespaces). Durable like a production Redis (every
// write in the append-only file before it is acknowledged), so a restart loses nothing.
import { connect } from 'node:net';
import { join } from 'node:path';
import { DURABLE_REDIS } from '../redis';
import { scaled } from '../time-scale';
import { NetnsProcess } from './netns-process';

export class NetnsRedis {
  private proc?: NetnsProcess;

  constructor(
    readonly netns: string,
    /** Address on the management network it listens on. */
    readonly address: string,
    readonly port: number,
    /** Data directory (append-only file), socket and log live here. */
    readonly dir: string,
  ) {}

  /** For agents: over the management network. */
  get url(): string {
    return `redis://${this.address}:${this.port}`;
  }

  /** For the test process: the unix socket (HypervisorClient accepts `unix:/path`). */
  get socketPath(): string {
    return join(this.dir, 'redis.sock');
  }

  get clientUrl(): string {
    return `unix:${this.socketPath}`;
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  async start(): Promise<void> {
    this.proc = NetnsProcess.start({
      netns: this.netns,
      cmd: 'redis-server',
      args: [
        '--bind',
        this.address,
        '--port',
        String(this.port),
        '--protected-mode',
        'no',
        '--unixsocket',
        this.socketPath,
        '--unixsocketperm',
        '700',
        '--dir',
        this.dir,
        ...DURABLE_REDIS,
      ],
      logFile: join(this.dir, 'redis.log'),
    });
    await this.waitAnswering(scaled(10_000));
  }

  /** SIGTERM by pid (Redis writes its append-only file and exits), waits for the exit. */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM');
    this.proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** PING through the unix socket until +PONG (the server is loaded and accepts commands). */
  private async waitAnswering(deadlineMs: number): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      if (!this.proc?.running) throw new Error(`redis-server exited at start; log:\n${this.proc?.tail()}`);
      if (await pong(this.socketPath)) return;
      if (Date.now() - t0 > deadlineMs) throw new Error(`redis-server not answering on ${this.socketPath} after ${deadlineMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function pong(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (b) => {
      got += b.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}
