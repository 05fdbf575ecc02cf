// A long-running program inside a network namespace (redis-server, an agent, a VM's probe),
// started as `ip netns exec NS setpriv --pdeathsig KILL CMD ...` (or `nsenter --net=...` instead
// of `ip netns exec`): they exec, so the child's pid is the program's own, and the program dies
// with the test process even when that one is killed. Output goes to a log file (kept across
// restarts) and to line listeners.
import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { scaled } from '../time-scale';
import { trackPid, untrackPid } from './cleanup-registry';

export interface NetnsProcessOptions {
  netns: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /** An agent: its probe namespaces are swept with it (cleanup-registry.ts). */
  agent?: boolean;
  /**
   * 'ip-netns-exec' (default): also a mount namespace of its own with the namespace's /sys, gone
   * with the process. 'nsenter': the network namespace only, the host's mounts (bpffs pins that
   * outlive the process, as under systemd).
   */
  launcher?: 'ip-netns-exec' | 'nsenter';
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class NetnsProcess {
  readonly exited: Promise<Exit>;
  private readonly lineListeners = new Set<(line: string) => void>();
  private exit?: Exit;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    readonly logFile: string,
  ) {
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        untrackPid(pid);
        resolve(this.exit);
      });
    });
  }

  static start(o: NetnsProcessOptions): NetnsProcess {
    const enter = o.launcher === 'nsenter' ? ['nsenter', `--net=/var/run/netns/${o.netns}`] : ['ip', 'netns', 'exec', o.netns];
    const child = spawn(enter[0], [...enter.slice(1), 'setpriv', '--pdeathsig', 'KILL', o.cmd, ...o.args], {
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start ${o.cmd} in ${o.netns}`);
    trackPid(child.pid, { agent: o.agent });
    const p = new NetnsProcess(child, child.pid, o.logFile);
    appendFileSync(o.logFile, `--- ${new Date().toISOString()} pid ${child.pid}: ${o.cmd} ${o.args.join(' ')}\n`);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        appendFileSync(o.logFile, `${line}\n`);
        for (const l of p.lineListeners) l(line);
      });
    }
    return p;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves with the first output line matching `re`; rejects if the process exits first or after the deadline. */
  waitForLine(re: RegExp, deadlineMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error, line?: string) => {
        clearTimeout(timer);
        this.lineListeners.delete(onLine);
        if (err) reject(err);
        else resolve(line!);
      };
      const onLine = (line: string) => {
        if (re.test(line)) done(undefined, line);
      };
      const timer = setTimeout(
        () => done(new Error(`pid ${this.pid}: no output line matching ${re} within ${deadlineMs} ms; log ${this.logFile}:\n${this.tail()}`)),
        deadlineMs,
      );
      this.lineListeners.add(onLine);
      void this.exited.then((e) =>
        done(new Error(`pid ${this.pid} exited (${e.code ?? e.signal}) before printing ${re}; log ${this.logFile}:\n${this.tail()}`)),
      );
    });
  }

  /** Signals the process and waits for its exit; SIGKILL after the grace period. Idempotent. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = scaled(10_000)): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const escalated = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    const e = await Promise.race([this.exited, escalated.then(() => this.exited)]);
    clearTimeout(timer);
    return e;
  }

  /** The last lines of the log, for error messages. */
  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
