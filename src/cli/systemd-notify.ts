// systemd readiness (Type=notify) without a dependency. The protocol is one datagram on the unix
// socket named by NOTIFY_SOCKET; Node cannot send unix datagrams, so the agent runs systemd's own
// `systemd-notify` (package systemd, present wherever systemd is) for each message:
//
//   systemd-notify --pid=<agent pid> --ready --status=...    (then STOPPING=1 on shutdown)
//
// --pid makes systemd-notify send the message with the agent's PID in its credentials (it may:
// it runs as root with CAP_SYS_ADMIN, which the unit keeps for setns anyway), so systemd
// attributes it to the main process whatever NotifyAccess says and however soon
// systemd-notify exits. Should that be refused, it is sent again without --pid: with
// NotifyAccess=all (deploy/srv6-agent.service) systemd accepts it from any process of the unit,
// and systemd-notify (systemd >= 246) waits on a barrier until systemd has read it, so the old
// race (the sender gone before systemd looked up its unit) cannot lose it.
//
// NOTIFY_SOCKET is removed from the agent's environment once read, so that no child (a local
// redis-server, which speaks the same protocol) can announce readiness in the agent's name.
import { execFile } from 'node:child_process';

export interface NotifyResult {
  sent: boolean;
  /** Why nothing was sent, or what went wrong; undefined when sent. */
  reason?: string;
}

export type RunFile = (file: string, args: string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; stderr: string }>;

const runFile: RunFile = (file, args, env) =>
  new Promise((resolve) => {
    execFile(file, args, { env, timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ code: 0, stderr: String(stderr) });
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      if (e.code === 'ENOENT') return resolve({ code: 127, stderr: `${file}: not found` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, stderr: String(stderr || e.message) });
    });
  });

export class SystemdNotifier {
  private constructor(
    /** The socket systemd gave us; undefined: not started by systemd with Type=notify. */
    readonly socket: string | undefined,
    private readonly opts: { binary: string; pid: number; env: NodeJS.ProcessEnv; run: RunFile },
  ) {}

  /**
   * Takes NOTIFY_SOCKET out of `env` (default process.env: children must not inherit it) and
   * returns a notifier for it.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, opts: { binary?: string; pid?: number; run?: RunFile } = {}): SystemdNotifier {
    const socket = env.NOTIFY_SOCKET || undefined;
    delete env.NOTIFY_SOCKET;
    const childEnv: NodeJS.ProcessEnv = { ...env };
    return new SystemdNotifier(socket, { binary: opts.binary ?? 'systemd-notify', pid: opts.pid ?? process.pid, env: childEnv, run: opts.run ?? runFile });
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** READY=1 (+ STATUS=); call once the API listens and the startup reconcile is done. */
  ready(status?: string): Promise<NotifyResult> {
    return this.send(['--ready', ...(status ? [`--status=${status}`] : [])]);
  }

  /** STOPPING=1: the shutdown path has begun. */
  stopping(status = 'shutting down, the dataplane stays in place'): Promise<NotifyResult> {
    return this.send([`--status=${status}`, 'STOPPING=1']);
  }

  private async send(args: string[]): Promise<NotifyResult> {
    if (!this.socket) return { sent: false, reason: 'NOTIFY_SOCKET is not set' };
    const env = { ...this.opts.env, NOTIFY_SOCKET: this.socket };
    const first = await this.opts.run(this.opts.binary, [`--pid=${this.opts.pid}`, ...args], env);
    if (first.code === 0) return { sent: true };
    if (first.code === 127)
      return {
        sent: false,
        reason: `${this.opts.binary} is not installed (package systemd): systemd cannot be told the agent is ready; use Type=exec in the unit instead of Type=notify`,
      };
    // Not allowed to speak for the agent's PID: send as itself (NotifyAccess=all accepts it).
    const second = await this.opts.run(this.opts.binary, args, env);
    if (second.code === 0) return { sent: true };
    return { sent: false, reason: `${this.opts.binary} ${args.join(' ')} failed: ${(second.stderr || first.stderr).trim() || `exit ${second.code}`}` };
  }
}
