// Kernel tier: the CLI against a real agent. `serve` is booted in-process (JSON logs captured,
// systemd readiness through a recording runner), then submit/jobs/state run as `main(argv)` over
// real HTTP; the kernel is checked with iproute2. Last, the built CLI (dist/) is run as a process
// the way systemd runs it: NOTIFY_SOCKET, JSON lines on stdout, SIGTERM, dataplane left in place.
//
//   host: 127.0.0.1:<random>  ── HTTP ──  main(['submit' | 'jobs' | 'state', ..., '--url', url])
//   host: redis-server 127.0.0.1:<random> (the job queue)
//   netns srv6t-cli-<pid>-<rnd>: the managed namespace (SRV6_NETNS)
//       ul0 <-> ul1   underlay             (node: locator fc00:0:1::/48, encap source fc00:0:1::1)
//       ta0 <-> ta1   tenant "alpha"       (10.0.0.1/24; remote 10.1.0.0/24 via fc00:0:2:1::)
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { itWith, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { TestRedis } from '../testing/redis';
import { recordingIo } from '../testing/cli-io';
import { JsonLogger } from './logging';
import { main, serve, ServeHandle } from './srv6-agent';
import { RunFile, SystemdNotifier } from './systemd-notify';
import { notifySocketUnavailable, TestNotifySocket } from '../testing/notify-socket';

jest.setTimeout(scaled(20_000));
const WAIT = String(scaled(15)); // --wait seconds

let redis: TestRedis;
let dir: string;
let ns: TestNetns;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  redis = await TestRedis.start();
  dir = mkdtempSync(join(tmpdir(), 'srv6t-cli-'));
  ns = TestNetns.create('cli');
  for (const [a, b] of [
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
  ]) {
    ns.ip(['link', 'add', a!, 'type', 'veth', 'peer', 'name', b!]);
    ns.ip(['link', 'set', a!, 'up']);
    ns.ip(['link', 'set', b!, 'up']);
  }
  env = {
    SRV6_LISTEN: '127.0.0.1:0',
    SRV6_REDIS_URL: redis.url,
    SRV6_STATE_DIR: join(dir, 'state'),
    SRV6_HYPERVISOR: `cli-${process.pid}`,
    SRV6_NETNS: ns.name,
    SRV6_RESYNC_SECONDS: '0',
  };
});
afterAll(async () => {
  await redis?.destroy();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

const io = recordingIo;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const DC_YAML = `# this hypervisor, then tenant alpha on it
type: upsert-node
node:
  underlay: [ul0]
  locator: fc00:0:1::/48
  encapSource: fc00:0:1::1
  underlayMtu: 1500
---
type: upsert-tenant
idempotencyKey: cli-alpha-1
tenant:
  id: alpha
  behaviour: End.DT6
  interfaces:
    - name: ta0
      gateways: [10.0.0.1/24]
  routes:
    - prefix: 10.1.0.0/24
      sids: ["fc00:0:2:1::"]   # quoted: YAML would read a trailing "::" as a mapping key
`;

describe('srv6-agent CLI against a running agent', () => {
  let agent: ServeHandle;
  let url: string;
  const logLines: string[] = [];
  const notifyCalls: string[][] = [];

  beforeAll(async () => {
    const run: RunFile = async (_file, args) => (notifyCalls.push(args), { code: 0, stderr: '' });
    const notifier = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/systemd/notify' }, { run });
    agent = await serve({ command: 'serve', sandbox: false }, { env: { ...env }, logger: new JsonLogger({ write: (l) => void logLines.push(l) }), notifier });
    url = agent.url;
    await agent.notified;
  });
  afterAll(async () => {
    await agent?.close();
  });

  it('serve logs one JSON object per line and tells systemd it is ready once it listens', () => {
    const records = logLines.map((l) => JSON.parse(l));
    expect(records.every((r) => typeof r.time === 'string' && typeof r.level === 'string' && typeof r.message === 'string')).toBe(true);
    expect(records).toEqual(
      expect.arrayContaining([expect.objectContaining({ level: 'info', context: 'srv6-agent', message: expect.stringContaining(`listening on ${url}`) })]),
    );
    expect(records.some((r) => r.context === 'Dataplane' && /startup reconcile/.test(r.message))).toBe(true);
    expect(notifyCalls).toEqual([[`--pid=${process.pid}`, '--ready', `--status=listening on ${url}, managing netns ${ns.name}`]]);
  });

  itWith(SRV6)('submit: a YAML file with a node and a tenant job, applied in order; the kernel holds them', async () => {
    const o = io();
    expect(await main(['submit', file('dc.yaml', DC_YAML), '--url', url, '--wait', WAIT], o, {})).toBe(0);
    const out = JSON.parse(o.stdout());
    expect(out).toEqual([
      expect.objectContaining({ type: 'upsert-node', state: 'completed' }),
      expect.objectContaining({
        type: 'upsert-tenant',
        state: 'completed',
        id: 'cli-alpha-1',
        result: expect.objectContaining({ created: expect.objectContaining({ nexthop: 1 }) }),
      }),
    ]);
    expect(o.stderr()).toBe('');
    // iproute2, the independent observer
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
    const [ta0] = ns.ipJson(['link', 'show', 'ta0']);
    expect(ta0.mtu).toBe(1436);
    const decap = ns.ipJson(['-6', 'route', 'show', 'fc00:0:1:1::/128']);
    expect(decap).toHaveLength(1);
  });

  itWith(SRV6)('submit again with the same idempotency key: the first result, nothing applied again', async () => {
    const o = io();
    const again = file('again.yaml', DC_YAML.slice(DC_YAML.indexOf('---') + 4));
    expect(await main(['submit', again, '--url', url], o, {})).toBe(0);
    expect(JSON.parse(o.stdout())).toMatchObject({ id: 'cli-alpha-1', duplicate: true, state: 'completed' });
  });

  it('submit: an invalid file exits 2 with field errors and lines; nothing is enqueued', async () => {
    const before = JSON.parse(await run(['jobs', '--json', '--limit', '1000'])).length;
    const o = io();
    const bad = file('bad.yaml', 'type: routes\ntenant: alpha\nadd:\n  - prefix: 10.1.0.300/24\n    sids:\n      - fc00:0:2:1::\n');
    expect(await main(['submit', bad, '--url', url], o, {})).toBe(2);
    expect(o.stderr()).toContain(`${bad}:4: add[0].prefix: must be an IP prefix`);
    expect(o.stderr()).toContain(`${bad}:6: fc00:0:2:1:: was read as a mapping key`);
    expect(JSON.parse(await run(['jobs', '--json', '--limit', '1000'])).length).toBe(before);
  });

  itWith(SRV6)('submit: a job the agent cannot apply exits 1 and says why', async () => {
    const o = io();
    const f = file(
      'missing-if.yaml',
      'type: upsert-tenant\ntenant:\n  id: beta\n  behaviour: End.DT6\n  interfaces: [{name: tb0, gateways: [10.9.0.1/24]}]\n  routes: []\n',
    );
    expect(await main(['submit', f, '--url', url], o, {})).toBe(1);
    expect(JSON.parse(o.stdout())).toMatchObject({ type: 'upsert-tenant', state: 'failed' });
    expect(o.stderr()).toMatch(/^srv6-agent: job \d+ \(upsert-tenant\) from .*missing-if\.yaml failed:\n/);
    expect(o.stderr()).toContain('tb0');
  });

  async function run(argv: string[], want = 0): Promise<string> {
    const o = io();
    const code = await main([...argv, '--url', url], o, {});
    if (code !== want) throw new Error(`${argv.join(' ')}: exit ${code}: ${o.stderr()}`);
    return o.stdout();
  }

  itWith(SRV6)('jobs: the table lists them newest first; jobs ID shows one', async () => {
    const table = (await run(['jobs'])).split('\n');
    expect(table[0]).toMatch(/^ID\s+TYPE\s+STATE\s+SUBMITTED\s+TOOK\s+OUTCOME$/);
    expect(table[1]).toMatch(/upsert-tenant\s+failed/);
    expect(table.some((l) => /^cli-alpha-1\s+upsert-tenant\s+completed\s/.test(l))).toBe(true);
    expect(await run(['jobs', 'cli-alpha-1'])).toMatch(/^job cli-alpha-1: upsert-tenant, completed\n {2}idempotency key {2}cli-alpha-1\n/);
    expect(await run(['jobs', 'no-such-job'], 1)).toBe('');
  });

  itWith(SRV6)('state: the node, owned objects and tenant alpha; state alpha: as desired and as observed', async () => {
    const s = await run(['state']);
    expect(s).toMatch(new RegExp(`^hypervisor cli-${process.pid}, (vrf|table) mode, desired state v\\d+`));
    expect(s).toContain('node: underlay ul0, locator fc00:0:1::/48, encap source fc00:0:1::1, underlay MTU 1500');
    expect(s).toMatch(/\nalpha\s+10000\s+fc00:0:1:1::\s+End\.DT6\s+ta0\s+1\s+0\s+0\s+0\n/);
    const t = await run(['state', 'alpha']);
    expect(t).toContain('  ta0: up, mtu 1436');
    expect(t).toContain('  10.1.0.0/24 via fc00:0:2:1:: (encap)');
    const json = JSON.parse(await run(['state', 'alpha', '--json']));
    expect(json.observed.interfaces[0]).toMatchObject({ name: 'ta0', up: true, mtu: 1436 });
    await run(['state', 'nobody'], 1);
  });

  itWith(SRV6)('closing the agent leaves the dataplane in place', async () => {
    await agent.close();
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
  });
});

describe('srv6-agent serve with no desired state while the kernel holds objects of the agent (a lost state directory)', () => {
  let other: TestNetns;
  const rules = () => other.ipJson<{ protocol?: string | number }[]>(['rule', 'show']).filter((r) => String(r.protocol) === '196');
  beforeAll(() => {
    other = TestNetns.create('cli-orphans');
    other.ip(['rule', 'add', 'pref', '998', 'iif', 'lo', 'goto', '1001', 'proto', '196']);
  });

  it('refuses to start (exit 2: systemd does not restart it), naming what the kernel holds; changes nothing', async () => {
    const o = io();
    const state = join(dir, 'orphans-refused');
    expect(await main(['serve', '--log-format', 'text'], o, { ...env, SRV6_NETNS: other.name, SRV6_STATE_DIR: state })).toBe(2);
    expect(o.stderr()).toMatch(
      new RegExp(
        `^srv6-agent: cannot start: no desired state in ${state}, but the kernel holds objects of the agent \\(protocol 196: 1 rules\\); restore the state directory, or start once with --wipe-orphans`,
      ),
    );
    expect(rules()).toHaveLength(1);
  });

  it('--wipe-orphans starts, and the startup reconcile deletes them', async () => {
    const agent = await serve(
      { command: 'serve', sandbox: false, wipeOrphans: true },
      { env: { ...env, SRV6_NETNS: other.name, SRV6_STATE_DIR: join(dir, 'orphans-wiped') }, logger: new JsonLogger({ write: () => undefined }) },
    );
    try {
      expect(rules()).toEqual([]);
    } finally {
      await agent.close();
    }
  });
});

// The built CLI as systemd runs it. dist/ is built by `npx tsc -p .` (scripts/setup.sh, before
// every `npm test`); an outdated one would test old code, so it is skipped then, by name.
const CLI = join(__dirname, '..', '..', 'dist', 'src', 'cli', 'srv6-agent.js');
function distUnavailable(): string | undefined {
  if (!existsSync(CLI)) return `${CLI} not built (npx tsc -p .)`;
  const out = join(CLI, '..');
  const stale = readdirSync(__dirname).filter((f) => {
    if (!f.endsWith('.ts') || /\.(spec|kernel)\.ts$/.test(f)) return false;
    const js = join(out, f.replace(/\.ts$/, '.js'));
    return !existsSync(js) || statSync(join(__dirname, f)).mtimeMs > statSync(js).mtimeMs;
  });
  return stale.length ? `dist/src/cli/${stale[0]!.replace(/\.ts$/, '.js')} is older than its source (npx tsc -p .)` : undefined;
}
const skipProcess = distUnavailable() ?? notifySocketUnavailable();

(skipProcess ? describe.skip : describe)(`srv6-agent serve as a systemd service${skipProcess ? ` (skipped: ${skipProcess})` : ''}`, () => {
  let sock: TestNotifySocket;
  let proc: ChildProcess | undefined;
  beforeAll(async () => (sock = await TestNotifySocket.open()));
  afterAll(() => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    sock?.close();
  });

  itWith(SRV6)(
    'READY=1 once listening (after a restart: the state is reloaded), JSON lines on stdout, SIGTERM: STOPPING=1, exit 0, dataplane kept',
    async () => {
      proc = spawn(process.execPath, [CLI, 'serve'], {
        env: { ...process.env, ...env, NOTIFY_SOCKET: sock.path, SRV6_LOG_FORMAT: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines: string[] = [];
      let stderr = '';
      createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
      proc.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => proc!.once('exit', (code) => r(code)));

      const ready = await sock.waitFor('READY=1', scaled(10_000));
      expect(ready.pid).toBe(proc.pid); // credited to the agent itself (systemd-notify --pid)
      expect(ready.msg).toMatch(/STATUS=listening on http:\/\/127\.0\.0\.1:\d+, managing netns srv6t-cli-/);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      await sock.waitFor('STOPPING=1', scaled(5000));

      expect(stderr).toBe('');
      const records = lines.map((l) => JSON.parse(l)); // stdout is not a terminal: every line is JSON
      expect(records[0]).toEqual({
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: 'info',
        context: expect.any(String),
        message: expect.any(String),
        pid: proc.pid,
      });
      expect(records.some((r) => r.context === 'Dataplane' && /startup reconcile .* state v\d+/.test(r.message))).toBe(true);
      expect(records.some((r) => /SIGTERM: shutting down; the dataplane stays in place/.test(r.message))).toBe(true);
      expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
    },
  );
});
