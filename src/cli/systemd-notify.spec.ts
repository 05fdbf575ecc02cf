// systemd readiness through systemd-notify: the calls made (with a fake runner), and the real
// systemd-notify against a real NOTIFY_SOCKET (a unix datagram socket held by python3, since Node
// cannot bind one).
import { RunFile, SystemdNotifier } from './systemd-notify';
import { notifySocketUnavailable, TestNotifySocket } from '../testing/notify-socket';

function fakeRun(codes: number[]) {
  const calls: { file: string; args: string[]; socket?: string }[] = [];
  const run: RunFile = async (file, args, env) => {
    calls.push({ file, args, socket: env.NOTIFY_SOCKET });
    return { code: codes[calls.length - 1] ?? 0, stderr: codes[calls.length - 1] ? 'Failed to notify init system: Operation not permitted' : '' };
  };
  return { run, calls };
}

describe('SystemdNotifier', () => {
  it('without NOTIFY_SOCKET it does nothing', async () => {
    const { run, calls } = fakeRun([]);
    const n = SystemdNotifier.fromEnv({}, { run });
    expect(n.enabled).toBe(false);
    expect(await n.ready('x')).toEqual({ sent: false, reason: 'NOTIFY_SOCKET is not set' });
    expect(calls).toEqual([]);
  });

  it('takes NOTIFY_SOCKET out of the environment children inherit, and hands it to systemd-notify only', async () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' };
    const { run, calls } = fakeRun([0, 0]);
    const n = SystemdNotifier.fromEnv(env, { run, pid: 4242 });
    expect(env.NOTIFY_SOCKET).toBeUndefined();
    expect(await n.ready('listening on http://127.0.0.1:9610')).toEqual({ sent: true });
    expect(await n.stopping()).toEqual({ sent: true });
    expect(calls).toEqual([
      { file: 'systemd-notify', args: ['--pid=4242', '--ready', '--status=listening on http://127.0.0.1:9610'], socket: '/run/systemd/notify' },
      { file: 'systemd-notify', args: ['--pid=4242', '--status=shutting down, the dataplane stays in place', 'STOPPING=1'], socket: '/run/systemd/notify' },
    ]);
  });

  it("sends again as itself when it may not speak for the agent's PID (NotifyAccess=all accepts that)", async () => {
    const { run, calls } = fakeRun([1, 0]);
    const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@sock' }, { run, pid: 7 });
    expect(await n.ready()).toEqual({ sent: true });
    expect(calls.map((c) => c.args)).toEqual([['--pid=7', '--ready'], ['--ready']]);
  });

  it('says what to do when systemd-notify is missing, and why it failed otherwise', async () => {
    const missing = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@sock' }, { binary: '/nonexistent/systemd-notify' });
    expect(await missing.ready()).toEqual({ sent: false, reason: expect.stringMatching(/not installed \(package systemd\).*Type=exec/) });
    const { run } = fakeRun([1, 1]);
    expect(await SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '@sock' }, { run }).ready()).toEqual({
      sent: false,
      reason: 'systemd-notify --ready failed: Failed to notify init system: Operation not permitted',
    });
  });
});

const unavailable = notifySocketUnavailable();

(unavailable ? describe.skip : describe)(`systemd-notify against a real NOTIFY_SOCKET${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let sock: TestNotifySocket;
  beforeAll(async () => (sock = await TestNotifySocket.open()));
  afterAll(() => sock?.close());

  it("READY=1 with STATUS and MAINPID, credited to the agent's own PID when root; then STOPPING=1", async () => {
    const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: sock.path, PATH: process.env.PATH });
    expect(await n.ready('listening on http://127.0.0.1:1')).toEqual({ sent: true });
    const ready = await sock.waitFor('READY=1');
    expect(ready.msg.split('\n')).toEqual(expect.arrayContaining(['READY=1', 'STATUS=listening on http://127.0.0.1:1']));
    if (process.getuid?.() === 0) {
      expect(ready.msg).toContain(`MAINPID=${process.pid}`);
      expect(ready.pid).toBe(process.pid); // systemd attributes it to the main process, whatever NotifyAccess says
    }
    expect(await n.stopping()).toEqual({ sent: true });
    await sock.waitFor('STOPPING=1');
  });
});
