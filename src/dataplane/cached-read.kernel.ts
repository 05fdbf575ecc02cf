// Tenant plans reuse the rule list and the agent's main routes between jobs (CachedRead), and
// still see what someone else changed: the netlink monitor's events invalidate them. The drift
// repair and the cache's age limit are both pushed out of reach (an hour), so only the events can
// make a job notice the change. Observed with iproute2.
//
//   netns srv6t-rc-*:  ul0 <-> ul1 underlay, ta0 <-> ta1 tenant "alpha"
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rtnetlink } from '../netlink/rtnetlink';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import type { CachedRead } from './cached-read';
import { Dataplane } from './dataplane';
import { DEFAULT_OWNERSHIP } from './kernel-objects';
import type { Reconciler } from './reconciler';
import { DesiredStateStore } from './state-store';

jest.setTimeout(scaled(60000));

const MODE = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const P = DEFAULT_OWNERSHIP.protocol;
const SID = 'fc00:0:1:a::';

let ns: TestNetns;
let nl: Rtnetlink;
let dir: string;
let dp: Dataplane;
let n = 0;

/** A job on alpha: one remote route to a SID that changes every time. */
const job = () => dp.changeRoutes('alpha', { set: [{ prefix: '10.9.0.0/24', sids: [`fc00:0:9:${(++n).toString(16)}::`] }] });

/** The agent's rules as iproute2 lists them, in a stable order (a re-made rule goes after others of its priority). */
const ownRules = () =>
  ns
    .ipJson(['rule', 'show'])
    .filter((r: any) => r.protocol === String(P) || r.protocol === P)
    .map((r: any) => JSON.stringify(r))
    .sort();
const sidRoute = () => ns.ipJson(['-6', 'route', 'show', 'table', 'main', `${SID}/128`]);

/** Runs jobs until `check` holds; fails after `ms`. */
async function jobsUntil(check: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`not seen by a job within ${ms} ms`);
    expect((await job()).failed).toEqual([]);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'srv6-rc-'));
  ns = TestNetns.create('rc');
  ns.vethPairs([
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
  ]);
  nl = Rtnetlink.open({ netns: ns.name });
  dp = new Dataplane({ nl, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name, debounceMs: 3_600_000, readCacheMaxAgeMs: 3_600_000 });
  await dp.start();
  expect((await dp.upsertNode({ underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 })).failed).toEqual([]);
  const r = await dp.upsertTenant({
    id: 'alpha',
    behaviour: 'End.DT6',
    sid: SID,
    interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] }],
    routes: [],
  });
  expect(r.failed).toEqual([]);
});

afterAll(() => {
  dp?.stop();
  nl?.close();
  destroyAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

describe(`node-wide reads kept between jobs (${MODE} mode)`, () => {
  itWith(SRV6)('a run of route jobs reads the rules and main again only after they were invalidated', async () => {
    // The kernel's own changes count too (address and link events while an interface settles,
    // seconds under TCG): wait for duplicate address detection first.
    const t0 = Date.now();
    while (ns.ipJson(['-6', 'addr', 'show', 'tentative']).length) {
      if (Date.now() - t0 > scaled(5000)) throw new Error('addresses still tentative');
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = (dp as unknown as { reconciler: { cached: Record<'rules' | 'main', CachedRead<unknown>> } }).reconciler;
    // Invalidations are counted from before the job that reads afresh: none can slip in unseen.
    const invalidated = { rules: jest.spyOn(r.cached.rules, 'invalidate'), main: jest.spyOn(r.cached.main, 'invalidate') };
    const foreign = jest.spyOn((dp as unknown as { reconciler: Reconciler }).reconciler, 'kernelChanged');
    await job();
    const rules = jest.spyOn(nl, 'rules');
    const routes = jest.spyOn(nl, 'routes');
    try {
      for (let i = 0; i < 8; i++) expect((await job()).failed).toEqual([]);
      const dumps = { rules: rules.mock.calls.length, main: routes.mock.calls.filter(([f]) => f?.table === 254).length };
      const why = JSON.stringify(foreign.mock.calls.map(([e]) => (e ? `${e.kind} ${e.action} by ${e.pid}` : 'overrun')));
      // Each re-read follows an invalidation (by the agent's own apply or a foreign change).
      expect({ dumps, why }).toEqual({
        dumps: { rules: Math.min(dumps.rules, invalidated.rules.mock.calls.length), main: Math.min(dumps.main, invalidated.main.mock.calls.length) },
        why,
      });
      expect(dumps.rules + dumps.main).toBeLessThan(8); // kept for most jobs: route jobs invalidate neither
      expect(routes).toHaveBeenCalled(); // the tenant's own table is read by every job
    } finally {
      for (const spy of [rules, routes, foreign, invalidated.rules, invalidated.main]) spy.mockRestore();
    }
  });

  itWith(SRV6)("sees a foreign deletion of one of the agent's rules and makes it again", async () => {
    const before = ownRules();
    expect(before.length).toBeGreaterThan(0);
    ns.ip(['rule', 'del', 'pref', String(JSON.parse(before[0]).priority)]);
    expect(ownRules().length).toBe(before.length - 1);
    await jobsUntil(() => ownRules().length === before.length, scaled(5000));
    expect(ownRules()).toEqual(before);
    expect(dp.stats.driftRepairs).toBe(0); // the job did it, not the repair
  });

  itWith(SRV6)("sees a foreign deletion of the tenant's SID route in main and makes it again", async () => {
    const before = sidRoute();
    expect(before).toHaveLength(1);
    ns.ip(['-6', 'route', 'del', `${SID}/128`, 'table', 'main']);
    expect(sidRoute()).toEqual([]);
    await jobsUntil(() => sidRoute().length === 1, scaled(5000));
    expect(sidRoute()).toEqual(before);
    expect(dp.stats.driftRepairs).toBe(0);
  });
});
