// Tests only: a NOTIFY_SOCKET like systemd's, held by python3 (Node cannot bind a unix datagram
// socket). Every datagram is recorded with the PID of its credentials; file descriptors passed
// with it (systemd-notify's barrier) are closed, as systemd does.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const RECEIVER = `
import socket, sys, os, array, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for lvl, typ, data in anc:
        if typ == socket.SCM_CREDENTIALS:
            pid = array.array('i', data[:12])[0]
        if typ == socket.SCM_RIGHTS:
            for fd in array.array('i', data[:len(data) - len(data) % 4]):
                os.close(fd)
    print(json.dumps({"msg": msg.decode(), "pid": pid}), flush=True)
`;

export interface NotifyMessage {
  /** The datagram, "KEY=VALUE" lines. */
  msg: string;
  /** PID in the sender's credentials. */
  pid: number | null;
}

/** Why a real notify socket cannot be had here; undefined when it can. */
export function notifySocketUnavailable(): string | undefined {
  for (const [cmd, why] of [
    ['systemd-notify', 'systemd-notify missing (Debian package systemd)'],
    ['python3', 'python3 missing (it holds the test NOTIFY_SOCKET)'],
  ]) {
    try {
      execFileSync(cmd!, ['--version'], { stdio: 'ignore' });
    } catch {
      return why;
    }
  }
  return undefined;
}

export class TestNotifySocket {
  readonly messages: NotifyMessage[] = [];
  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly proc: ChildProcess,
  ) {}

  static async open(): Promise<TestNotifySocket> {
    const dir = mkdtempSync(join(tmpdir(), 'srv6t-notify-'));
    const path = join(dir, 'notify.sock');
    const proc = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const s = new TestNotifySocket(path, dir, proc);
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (c) => reject(new Error(`notify receiver exited (${c})`)));
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        const m = JSON.parse(l);
        if (m.bound) resolve();
        else s.messages.push(m);
      });
    });
    return s;
  }

  /** The first message with this line (e.g. "READY=1"), waited for. */
  async waitFor(line: string, timeoutMs = 5000): Promise<NotifyMessage> {
    for (const t0 = Date.now(); ;) {
      const m = this.messages.find((x) => x.msg.split('\n').includes(line));
      if (m) return m;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${line} within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.proc.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
