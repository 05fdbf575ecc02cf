// Kernel tier: the README's job file (examples/sandbox.yaml), exactly as printed there, submitted
// with the CLI to an agent that manages a sandbox like `npm start`'s (ensureSandbox, under a test
// name: the real srv6-sandbox is never touched). On a kernel with SRv6 it applies (checked with
// iproute2); on one without, the tenant job is refused naming what is missing and changes nothing.
//
//   host: redis-server 127.0.0.1:<random>; the agent (serve, in-process) on 127.0.0.1:<random>
//   netns srv6t-readme-<pid>-<rnd>: sbx-uplink (fc00:0:ffff::1/64) <══> sbx-peer, sbx-tap0 <══> sbx-vm0
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { itWith, itWithout, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { TestRedis } from '../testing/redis';
import { recordingIo } from '../testing/cli-io';
import { JsonLogger } from './logging';
import { ensureSandbox, SANDBOX } from './sandbox-netns';
import { main, serve, ServeHandle } from './srv6-agent';

jest.setTimeout(scaled(20_000));
const WAIT = String(scaled(15)); // --wait seconds

const ROOT = join(__dirname, '..', '..');
/** The first YAML block of the README: the example job file. */
const README_JOBS = /```yaml\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))![1];
const EXAMPLE = join(ROOT, 'examples', 'sandbox.yaml');

let redis: TestRedis;
let dir: string;
let ns: TestNetns;
let agent: ServeHandle;

const io = recordingIo;

beforeAll(async () => {
  redis = await TestRedis.start();
  dir = mkdtempSync(join(tmpdir(), 'srv6t-readme-'));
  ns = TestNetns.create('readme'); // registered for cleanup; ensureSandbox adds the sandbox's links
  await ensureSandbox({ ...SANDBOX, netns: ns.name });
  const env = {
    SRV6_LISTEN: '127.0.0.1:0',
    SRV6_REDIS_URL: redis.url,
    SRV6_STATE_DIR: join(dir, 'state'),
    SRV6_HYPERVISOR: `readme-${randomBytes(3).toString('hex')}`,
    SRV6_NETNS: ns.name,
    SRV6_RESYNC_SECONDS: '0',
  };
  agent = await serve({ command: 'serve', sandbox: false }, { env, logger: new JsonLogger({ write: () => undefined }) });
});
afterAll(async () => {
  await agent?.close();
  await redis?.destroy();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

it('examples/sandbox.yaml is the README’s example, as printed', () => {
  expect(readFileSync(EXAMPLE, 'utf8').replace(/^#.*\n/, '')).toBe(README_JOBS);
  expect(README_JOBS).toContain(`underlay: [${SANDBOX.uplink}]`);
  expect(README_JOBS).toContain(`name: ${SANDBOX.tap}`);
});

itWith(SRV6)('the README’s job file applies on the sandbox: node and tenant completed, the kernel holds them', async () => {
  const o = io();
  expect(await main(['submit', EXAMPLE, '--url', agent.url, '--wait', WAIT], o, {})).toBe(0);
  expect(JSON.parse(o.stdout())).toEqual([
    expect.objectContaining({ type: 'upsert-node', state: 'completed' }),
    expect.objectContaining({ type: 'upsert-tenant', state: 'completed' }),
  ]);
  // iproute2: the encap route in the tenant's table, the decapsulation SID in main, the tap's MTU
  expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
  expect(ns.ipJson(['-6', 'route', 'show', 'fc00:0:1:1::/128'])).toHaveLength(1);
  expect(ns.ipJson(['link', 'show', SANDBOX.tap])[0].mtu).toBe(1500 - 64);
});

itWithout(SRV6)('on this kernel the README’s tenant job is refused, naming the missing features, and changes nothing', async () => {
  const node = join(dir, 'node.yaml');
  writeFileSync(node, README_JOBS.slice(0, README_JOBS.indexOf('---')));
  expect(await main(['submit', node, '--url', agent.url, '--wait', WAIT], io(), {})).toBe(0);
  const before = ns.kernelSnapshot();
  const state = await (await fetch(`${agent.url}/v1/state`)).json();

  const o = io();
  expect(await main(['submit', EXAMPLE, '--url', agent.url, '--wait', WAIT], o, {})).toBe(1);
  const [n, t] = JSON.parse(o.stdout());
  expect(n).toMatchObject({ type: 'upsert-node', state: 'completed', result: { operations: 0 } });
  expect(t).toMatchObject({ type: 'upsert-tenant', state: 'failed', failure: { name: 'CapabilityMissingError' } });
  expect(t.failure.features).toEqual(expect.arrayContaining(['seg6local.End.DT6', 'nexthop.seg6']));
  expect(o.stderr()).toMatch(/CapabilityMissingError: kernel features .*seg6local\.End\.DT6.* are not available/);
  expect(ns.kernelSnapshot()).toEqual(before);
  expect(await (await fetch(`${agent.url}/v1/state`)).json()).toEqual(state);
});
