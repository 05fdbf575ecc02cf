// End to end, what production throws at the system: an agent killed with SIGKILL in the middle of
// a large job and restarted while tenant traffic flows, and Redis restarted under a stream of
// jobs. Real agents (`srv6-agent serve`), real Redis (append-only, fsync always), real packets.
//
//            ctl: redis-server (restarted in scenario 2), test process (orchestrator client)
//             │  management 10.255.0.0/24
//      ┌──────┴──────┐
//     hv1           hv2        agents (queue lock 2 s, scaled: a killed agent's job runs again after it)
//      │             │         underlay ul0 ── fab (IPv6 router, MTU 1500)
//     a1            a2
//
//   | VM | tenant | HV  | IPv4      | IPv6     |  gateway 10.0.0.1/24, fd00::1/64
//   |----|--------|-----|-----------|----------|  HV n: locator fc00:0:n::/48
//   | a1 | alpha  | hv1 | 10.0.0.11 | fd00::11 |
//   | a2 | alpha  | hv2 | 10.0.0.12 | fd00::12 |
//
//   The large job: 10,000 routes 172.16.0.0/12 in /28s to 100 SIDs fc00:0:10:1:: … fc00:0:109:1::
//   (HVs that do not exist: the routes are installed, never used). The job stream: 400 jobs of
//   one route each (10.1xx.y.0/24), 200 per HV, each with an idempotency key.
//
//   decapsulation per mode (orchestrator.ts): VRF mode End.DT46 (kernel); table mode End.DT46 +
//   xdpOffload (XDP; its pinned link and maps must survive the SIGKILL: IPv4 has no other path).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { JobValidationError } from '../../src/jobs/job-validation';
import { itWith, kernelHas, SRV6 } from '../../src/testing/kernel-features';
import { scaled } from '../../src/testing/time-scale';
import { trackPid, untrackPid } from '../../src/testing/data-center/cleanup-registry';
import { DataCenter } from '../../src/testing/data-center/data-center';
import { ownedKernelState, ownedRoutes } from '../../src/testing/data-center/kernel-observer';
import { agentTenant, decapPlan, Mode, Orchestrator, vmNic } from '../../src/testing/data-center/orchestrator';
import { Stream } from '../../src/testing/data-center/exchanges';
import { VmSpec } from '../../src/testing/data-center/vm';

jest.setTimeout(scaled(180_000));

const MODE: Mode = kernelHas('CONFIG_NET_VRF') ? 'vrf' : 'table';
const PLAN = decapPlan(MODE);
const TENANT = agentTenant(PLAN, 'alpha', { 4: '10.0.0.1/24', 6: 'fd00::1/64' });
const ALPHA = TENANT.id;
const vm = (name: string, hv: number, host: number): VmSpec => ({
  name,
  tenant: 'alpha',
  hv,
  nics: [vmNic(TENANT, { 4: `10.0.0.${host}`, 6: `fd00::${host}` })],
});

let dc: DataCenter;
let orch: Orchestrator;

beforeAll(async () => {
  const t0 = performance.now();
  dc = await DataCenter.build({ tag: 'flt', hvs: 2, vms: [vm('a1', 1, 11), vm('a2', 2, 12)], agent: { lockMs: scaled(5000) } });
  const t1 = performance.now();
  orch = new Orchestrator(dc, [TENANT]);
  await orch.converge();
  orch.configureVmMtus();
  await Promise.all([...dc.vms.values()].map((v) => v.announce()));
  console.log(
    `E2E failures-setup-ms ${(t1 - t0).toFixed(0)} (2 agents, 2 VMs; agents loaded/listening/ready: ${dc.hvs.map((h) => h.agent.startSummary()).join(', ')}); converged and announced ${(performance.now() - t1).toFixed(0)} ms later`,
  );
}, scaled(180_000));

afterAll(async () => {
  const t0 = performance.now();
  await dc?.destroy();
  console.log(`E2E failures-teardown-ms ${(performance.now() - t0).toFixed(0)} (${dc?.teardown.join(', ')})`);
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, deadlineMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves when `ip monitor route` in the namespace shows a new route matching `re` (event, not polling). */
function routeAppears(netns: string, re: RegExp, deadlineMs: number): Promise<void> {
  const mon = spawn('ip', ['-n', netns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  if (mon.pid !== undefined) trackPid(mon.pid);
  mon.once('exit', () => mon.pid !== undefined && untrackPid(mon.pid));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      mon.kill();
      reject(new Error(`no route matching ${re} appeared within ${deadlineMs} ms`));
    }, deadlineMs);
    createInterface({ input: mon.stdout! }).on('line', (line) => {
      if (!re.test(line)) return;
      clearTimeout(timer);
      mon.kill();
      resolve();
    });
  });
}

const tableOf = async (hv: number, tenant: string): Promise<number> => (await dc.hv(hv).agent.rest('GET', `/v1/tenants/${tenant}`)).body.desired.table;

describe(`agent killed with SIGKILL in the middle of a 10,000-route job (${MODE} mode, ${PLAN})`, () => {
  const ROUTES = Array.from({ length: 10_000 }, (_, i) => ({
    prefix: `172.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`,
    sids: [`fc00:0:${(i % 100) + 10}:1::`],
  }));

  itWith(SRV6)(
    'traffic keeps flowing while the agent is dead and restarting; the job runs again and converges; removing it leaves exactly what was there',
    async () => {
      const hv1 = dc.hv(1);
      const before = ownedKernelState(hv1.ns);
      const a1 = dc.vm('a1');
      const a2 = dc.vm('a2');
      const streams = a1.families().map((f) => new Stream(a2, a1.address(f)!, 50));

      // Killed at the first of the job's routes the kernel announces: the job is half applied.
      const firstRoute = routeAppears(hv1.ns.name, /^172\./, scaled(60_000));
      const id = await hv1.client.enqueue({ type: 'routes', tenant: ALPHA, add: ROUTES, idempotencyKey: `big-${process.pid}` });
      await firstRoute;
      const killedAt = performance.now();
      const exit = await hv1.agent.kill();
      expect(exit?.signal).toBe('SIGKILL');
      const atKill = ownedRoutes(hv1.ns).filter((r) => r.dst.startsWith('172.')).length;
      await hv1.agent.start();
      const readyAt = performance.now();
      const status = await waitFor(
        'the big job finished',
        async () => {
          const s = await hv1.client.status(id);
          return s && (s.state === 'completed' || s.state === 'failed') ? s : undefined;
        },
        scaled(60_000),
      );
      const doneAt = performance.now();
      for (const s of streams) await s.stop();
      // Completed (the record may still carry the failure of a run whose lock was lost: Bull keeps
      // failedReason when a stalled job runs again); otherwise the failure says why.
      expect(status.state === 'completed' ? status.state : { state: status.state, failure: status.failure }).toBe('completed');

      // Traffic: every exchange during kill, restart and re-run answered.
      for (const s of streams) expect({ to: s.to, sent: s.sent > 20, losses: s.losses }).toEqual({ to: s.to, sent: true, losses: [] });

      // Converged: the 10,000 routes in the tenant's table, once.
      const table = await tableOf(1, ALPHA);
      const big = ownedRoutes(hv1.ns).filter((r) => r.dst.startsWith('172.'));
      expect(big).toHaveLength(10_000);
      expect(new Set(big.map((r) => r.table))).toEqual(new Set([String(table)]));
      console.log(
        `E2E sigkill-restart: ${atKill} of 10000 routes in the kernel at the kill; agent ready ${(readyAt - killedAt).toFixed(0)} ms after the kill (${hv1.agent.startSummary()}); ` +
          `job completed ${(doneAt - killedAt).toFixed(0)} ms after the kill; ${streams.map((s) => `${s.to}: ${s.answered}/${s.sent} answered`).join(', ')}`,
      );

      // Nothing left over: removing the job's routes gives back exactly the state before it.
      await hv1.client.submit({ type: 'routes', tenant: ALPHA, remove: ROUTES.map((r) => r.prefix) }, { timeoutMs: scaled(60_000) });
      expect(ownedKernelState(hv1.ns)).toEqual(before);
      expect(await a2.reaches(a1.address(6)!)).toBe(true);
    },
  );
});

describe('Redis restarted in the middle of a stream of 400 jobs to two HVs', () => {
  itWith(SRV6)("loses no job: every job completes and every route is in its HV's kernel", async () => {
    const N = 400;
    const key = (i: number) => `stream-${process.pid}-${i}`;
    const prefix = (i: number) => `10.${100 + (i >> 8)}.${i & 255}.0/24`;
    const job = (i: number) => ({
      type: 'routes' as const,
      tenant: ALPHA,
      idempotencyKey: key(i),
      add: [{ prefix: prefix(i), sids: [`fc00:0:${(i % 7) + 10}:1::`] }],
    });
    const hvOf = (i: number) => dc.hv((i % 2) + 1);
    const befores = dc.hvs.map((h) => ownedKernelState(h.ns));
    let resubmits = 0;
    // The orchestrator's side: on a connection error, submit the same job again (its idempotency
    // key makes that safe: the queue finds the first one), then wait for every result.
    const submit = async (i: number): Promise<unknown> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await hvOf(i).client.submit(job(i), { timeoutMs: scaled(60_000) });
        } catch (e) {
          if (attempt > 100 || e instanceof JobValidationError) throw e;
          resubmits++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const results: Promise<unknown>[] = [];
    let restartMs = 0;
    for (let i = 0; i < N; i++) {
      results.push(submit(i));
      if (i === 150) {
        const t0 = performance.now();
        await dc.redis.restart(); // with jobs queued, one running on each HV, more being submitted
        restartMs = performance.now() - t0;
      }
    }
    const outcomes = await Promise.all(results);
    expect(outcomes.every((o) => (o as { type?: string }).type === 'routes')).toBe(true);
    for (const h of dc.hvs) {
      const table = await tableOf(h.n, ALPHA);
      const want = Array.from({ length: N }, (_, i) => i)
        .filter((i) => hvOf(i) === h)
        .map(prefix)
        .sort();
      const got = ownedRoutes(h.ns)
        .filter((r) => r.table === String(table) && /^10\.1\d\d\./.test(r.dst))
        .map((r) => r.dst)
        .sort();
      expect({ hv: h.n, routes: got }).toEqual({ hv: h.n, routes: want });
      // The jobs' records in Redis survived too: each one completed.
      const states = await Promise.all(
        Array.from({ length: N }, (_, i) => i)
          .filter((i) => hvOf(i) === h)
          .map(async (i) => (await h.client.status(key(i)))?.state),
      );
      expect(new Set(states)).toEqual(new Set(['completed']));
    }
    console.log(`E2E redis-restart: Redis down and back in ${restartMs.toFixed(0)} ms; ${resubmits} resubmissions; ${N} jobs, none lost`);
    // Back to the state before the stream: nothing else was touched.
    await Promise.all(
      dc.hvs.map((h) =>
        h.client.submit({
          type: 'routes',
          tenant: ALPHA,
          remove: Array.from({ length: N }, (_, i) => i)
            .filter((i) => hvOf(i) === h)
            .map(prefix),
        }),
      ),
    );
    dc.hvs.forEach((h, k) => expect(ownedKernelState(h.ns)).toEqual(befores[k]));
  });
});
