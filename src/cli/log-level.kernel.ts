// Kernel tier: serve's log level (log.level, SRV6_LOG_LEVEL, --log-level) applied to a real start:
// an agent booted in-process with its JSON lines captured, in a throwaway namespace. Not in the
// lab subset: nothing here depends on a kernel feature.
//
//   host: redis-server 127.0.0.1:<random>; the agent (serve) on 127.0.0.1:<random>
//   netns srv6t-log-<pid>-<rnd>: the managed namespace (empty)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { destroyAllNetns, TestNetns } from '../testing/netns';
import { TestRedis } from '../testing/redis';
import { scaled } from '../testing/time-scale';
import { JsonLogger } from './logging';
import { serve } from './srv6-agent';

jest.setTimeout(scaled(20_000));

let redis: TestRedis;
let ns: TestNetns;
let dir: string;
beforeAll(async () => {
  redis = await TestRedis.start();
  ns = TestNetns.create('log');
  dir = mkdtempSync(join(tmpdir(), 'srv6t-log-'));
});
afterAll(async () => {
  await redis?.destroy();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

/** The levels of the lines an agent logs while it starts and stops. */
async function levels(name: string, logLevel: 'debug' | undefined, env: Record<string, string>): Promise<Set<string>> {
  const lines: string[] = [];
  const agent = await serve(
    { command: 'serve', sandbox: false, ...(logLevel ? { logLevel } : {}) },
    {
      env: {
        SRV6_LISTEN: '127.0.0.1:0',
        SRV6_REDIS_URL: redis.url,
        SRV6_NETNS: ns.name,
        SRV6_STATE_DIR: join(dir, name),
        SRV6_HYPERVISOR: `log-${name}-${process.pid}`,
        SRV6_RESYNC_SECONDS: '0',
        ...env,
      },
      logger: new JsonLogger({ write: (l) => void lines.push(l) }),
    },
  );
  await agent.close();
  return new Set(lines.map((l) => JSON.parse(l).level as string));
}

it('by default: info and more severe, no debug', async () => {
  const seen = await levels('default', undefined, {});
  expect(seen.has('info')).toBe(true);
  expect(seen.has('debug')).toBe(false);
});

it('SRV6_LOG_LEVEL=warn: no info line, only warnings and errors (if the host gives cause)', async () => {
  const seen = await levels('warn', undefined, { SRV6_LOG_LEVEL: 'warn' });
  expect([...seen].filter((l) => !['warn', 'error', 'fatal'].includes(l))).toEqual([]);
});

it("--log-level debug wins over the environment: Nest's per-module lines appear, as debug", async () => {
  const seen = await levels('debug', 'debug', { SRV6_LOG_LEVEL: 'warn' });
  expect(seen.has('info')).toBe(true);
  expect(seen.has('debug')).toBe(true);
});
