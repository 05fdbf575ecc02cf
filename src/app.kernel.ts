// Kernel tier, end to end: the Nest application booted as `serve` boots it (without the local
// Redis), managing a throwaway namespace, answering over real HTTP on a random loopback port.
//
//   host: 127.0.0.1:<random>  ── HTTP ──  this test (fetch)
//   host: redis-server 127.0.0.1:<random> (the job queue)
//   netns srv6t-app-<pid>-<rnd>: the agent's managed namespace (SRV6_NETNS):
//       ul0 <-> ul1 underlay, ta0 <-> ta1 tenant "alpha" (10.0.0.1/24)
//   netns srv6-probe-<pid>-<rnd>: the capability probe's, gone once the app has started
import { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';

import { Capabilities } from './capabilities/capabilities.model';
import { loadConfig } from './config/config.loader';
import { ReadinessReport } from './health/health-check';
import { bootstrap } from './main';
import { itWith, itWithout, kernelHas, SRV6 } from './testing/kernel-features';
import { destroyAllNetns, TestNetns } from './testing/netns';
import { scaled } from './testing/time-scale';
import { TestRedis } from './testing/redis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(scaled(20_000));
const WAIT = scaled(15000); // ?wait= for a job's result

let redis: TestRedis;
let stateDir: string;
beforeAll(async () => {
  redis = await TestRedis.start();
  stateDir = mkdtempSync(join(tmpdir(), 'srv6t-app-'));
});
afterAll(async () => {
  await redis?.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});
const baseEnv = () => ({ SRV6_LISTEN: '127.0.0.1:0', SRV6_REDIS_URL: redis.url, SRV6_STATE_DIR: stateDir, SRV6_HYPERVISOR: `app-${process.pid}` });

describe('srv6-agent HTTP API', () => {
  let ns: TestNetns;
  let app: INestApplication;
  let url: string;
  const signalListeners = () => process.listenerCount('SIGTERM') + process.listenerCount('SIGINT');
  let listenersBefore: number;

  beforeAll(async () => {
    ns = TestNetns.create('app');
    ns.vethPairs([
      ['ul0', 'ul1'],
      ['ta0', 'ta1'],
    ]);
    listenersBefore = signalListeners();
    const config = loadConfig({ env: { ...baseEnv(), SRV6_NETNS: ns.name } });
    ({ app, url } = await bootstrap(config, { logger: ['error'] }));
  });

  afterAll(async () => {
    await app?.close();
    destroyAllNetns();
  });

  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`);
    return { status: res.status, body: (await res.json()) as T };
  };

  it('listens on a random loopback port', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
  });

  it('GET /v1/health: live', async () => {
    const { status, body } = await get<{ status: string; pid: number }>('/v1/health');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', pid: process.pid });
  });

  it('GET /v1/capabilities: the probe result, its namespace already gone', async () => {
    const { status, body } = await get<Capabilities>('/v1/capabilities');
    expect(status).toBe(200);
    expect(body.kernel).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(body.mode).toBe(body.features.vrf.supported && body.features['seg6local.End.DT4'].supported ? 'vrf' : 'table');
    // iproute2's answer (src/testing/kernel-features.ts), not our probe's, is the reference
    expect(body.features['seg6local.End'].supported).toBe(kernelHas('seg6local'));
    expect(body.features['nexthop.seg6'].supported).toBe(kernelHas('nexthop.seg6'));
    expect(body.srv6).toMatch(
      kernelHas('seg6local') && kernelHas('nexthop.seg6')
        ? /^(vrf|table) mode, an SRv6 node: H\.Encaps yes/
        : /^table mode, NOT an SRv6 node: tenant jobs are refused/,
    );
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`srv6-probe-${process.pid}-`);
  });

  it('GET /v1/health/ready: 200 while netlink answers in the managed namespace', async () => {
    const { status, body } = await get<ReadinessReport>('/v1/health/ready');
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ready',
      checks: ['netlink', 'redis', 'bpffs'].map((name) => ({ name, ok: true, durationMs: expect.any(Number) })),
    });
  });

  const post = async (path: string, body: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };

  itWith(SRV6)('POST /v1/jobs?wait applies node and tenant jobs through the queue and reports what changed', async () => {
    const node = await post(`/v1/jobs?wait=${WAIT}`, {
      type: 'upsert-node',
      node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 },
    });
    expect(node.status).toBe(202);
    expect(node.body.job).toMatchObject({ type: 'upsert-node', state: 'completed' });
    const tenant = await post(`/v1/jobs?wait=${WAIT}`, {
      type: 'upsert-tenant',
      idempotencyKey: `app-${process.pid}-alpha`,
      tenant: {
        id: 'alpha',
        behaviour: 'End.DT6',
        interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24'] }],
        routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }],
      },
    });
    expect(tenant.body.job).toMatchObject({ state: 'completed', result: { created: { nexthop: 1 } } });
    // the kernel, seen by iproute2
    expect(ns.ipJson(['route', 'show', 'table', '10000', '10.1.0.0/24'])[0].segs).toEqual(['fc00:0:2:1::']);
    const again = await post(`/v1/jobs?wait=${WAIT}`, {
      type: 'upsert-tenant',
      idempotencyKey: `app-${process.pid}-alpha`,
      tenant: { id: 'alpha', behaviour: 'End.DT6', interfaces: [], routes: [] },
    });
    expect(again.body).toMatchObject({ duplicate: true, job: { id: tenant.body.job.id } });
    const job = await get<any>(`/v1/jobs/${tenant.body.job.id}`);
    expect(job.body.result.created.nexthop).toBe(1);
  });

  it('POST /v1/jobs with an invalid job: 400 with field-level messages, nothing enqueued', async () => {
    const before = (await get<any[]>('/v1/jobs')).body.length;
    const r = await post('/v1/jobs', { type: 'routes', tenant: 'alpha', add: [{ prefix: '10.0.0.300/24', sids: [] }] });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['add[0].prefix', 'add[0].sids']);
    expect((await get<any[]>('/v1/jobs')).body.length).toBe(before);
  });

  itWithout(SRV6)('a tenant job this kernel cannot carry out: refused naming every missing feature; kernel and /v1/state unchanged', async () => {
    const node = await post(`/v1/jobs?wait=${WAIT}`, {
      type: 'upsert-node',
      node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 },
    });
    expect(node.body.job).toMatchObject({ type: 'upsert-node', state: 'completed' });
    const kernelBefore = ns.kernelSnapshot();
    const stateBefore = await get<any>('/v1/state');
    const tenant = {
      id: 'alpha',
      behaviour: 'End.DT6',
      interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] }],
      routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }],
    };
    const r = await post(`/v1/jobs?wait=${WAIT}`, { type: 'upsert-tenant', tenant });
    expect(r.body.job).toMatchObject({ type: 'upsert-tenant', state: 'failed', failure: { name: 'CapabilityMissingError', retry: 'permanent' } });
    // Every feature the tenant needs that this kernel lacks is named (End.DT6 by table, H.Encaps nexthops; counters are optional).
    const capabilities = (await get<Capabilities>('/v1/capabilities')).body;
    const wanted = ['seg6local.End.DT6', 'nexthop.seg6', 'seg6.encap'].filter(
      (f) => capabilities.features[f as keyof Capabilities['features']].supported !== true,
    );
    expect(wanted.length).toBeGreaterThan(0);
    expect(r.body.job.failure.features.sort()).toEqual(wanted.sort());
    expect(r.body.job.failure.message).toContain(wanted[0]);
    // Nothing changed: the kernel as iproute2 and procfs show it, and the agent's own state.
    expect(ns.kernelSnapshot()).toEqual(kernelBefore);
    expect((await get<any>('/v1/state')).body).toEqual(stateBefore.body);
  });

  itWith(SRV6)('GET /v1/state and /v1/tenants/:id show desired and observed state', async () => {
    const s = await get<any>('/v1/state');
    expect(s.body).toMatchObject({
      mode: expect.stringMatching(/vrf|table/),
      node: { locator: 'fc00:0:1::/48' },
      tenants: [{ id: 'alpha', routes: 1, decap: { packets: 0 } }],
    });
    const t = await get<any>('/v1/tenants/alpha');
    expect(t.body.observed.interfaces[0]).toMatchObject({ name: 'ta0', up: true, mtu: 1436 });
    expect((await get<any>('/v1/tenants/nobody')).status).toBe(404);
  });

  itWith(SRV6)('GET /metrics: jobs by outcome, owned objects, per-SID counters', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/srv6_agent_jobs_total\{type="upsert-tenant",outcome="completed"\} 1/);
    expect(text).toMatch(/srv6_agent_owned_objects\{kind="nexthop"\} 1/);
    expect(text).toMatch(/srv6_agent_sid_packets_total\{tenant="alpha",sid="fc00:0:1:1::",behaviour="End.DT6"\} 0/);
    expect(text).toMatch(/srv6_agent_job_apply_seconds_bucket/);
    expect(text).toMatch(/srv6_agent_job_wait_seconds_count\{type="upsert-tenant"\} 1/);
  });

  it('GET /metrics: Node process metrics by their standard names, build, readiness, queue depth, reconciles by trigger', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds /m);
    expect(text).not.toMatch(/srv6_agent_(process|nodejs)_/);
    expect(text).toMatch(/^srv6_agent_build_info\{version="[^"]+",commit="[^"]+",node="v\d+[^"]*"\} 1$/m);
    expect(text).toMatch(/^srv6_agent_ready [01]$/m);
    expect(text).toMatch(/^srv6_agent_queue_jobs\{state="waiting"\} \d+$/m);
    expect(text).toMatch(/^srv6_agent_queue_scrape_errors_total 0$/m);
    expect(text).toMatch(/^srv6_agent_reconciles_total\{trigger="startup"\} 1$/m);
  });

  it('GET /docs-json: the OpenAPI document lists the API', async () => {
    const doc = await get<any>('/docs-json');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/state', '/v1/tenants/{id}', '/v1/capabilities']));
  });

  it('unknown paths are 404', async () => {
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
  });

  it('GET /v1/health/ready: 503 naming the check once the managed namespace is deleted', async () => {
    ns.destroy();
    const { status, body } = await get<ReadinessReport>('/v1/health/ready');
    expect(status).toBe(503);
    expect(body.status).toBe('not-ready');
    expect(body.checks.find((c) => c.name === 'netlink')).toMatchObject({ ok: false, error: expect.stringContaining(`netns ${ns.name} is gone`) });
  });

  it('close() runs the shutdown path and releases the signal handlers', async () => {
    expect(signalListeners()).toBeGreaterThan(listenersBefore);
    await app.close();
    expect(signalListeners()).toBe(listenersBefore);
    await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
  });
});

describe('srv6-agent start failures', () => {
  it('a managed namespace that does not exist stops the start with a clear error', async () => {
    const config = loadConfig({ env: { ...baseEnv(), SRV6_NETNS: `srv6t-missing-${process.pid}` } });
    const before = process.listenerCount('SIGTERM');
    await expect(bootstrap(config, { logger: false })).rejects.toThrow(/network namespace "srv6t-missing-\d+" .*does not exist/);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});

describe('srv6-agent bearer token', () => {
  // Loopback clients are made to authenticate (auth.loopback=token): the rule every non-loopback
  // client gets (which address counts as loopback is unit-tested in the guard's spec).
  let ns: TestNetns;
  let app: INestApplication;
  let url: string;
  const tokenFile = () => join(stateDir, 'token');
  beforeAll(async () => {
    writeFileSync(tokenFile(), 's3cret-token\n');
    ns = TestNetns.create('auth');
    const config = loadConfig({
      env: { ...baseEnv(), SRV6_NETNS: ns.name, SRV6_TOKEN_FILE: tokenFile(), SRV6_LOOPBACK_AUTH: 'token', SRV6_STATE_DIR: join(stateDir, 'auth') },
    });
    ({ app, url } = await bootstrap(config, { logger: false }));
  });
  afterAll(async () => {
    await app?.close();
    destroyAllNetns();
  });

  it('401 without the token, 401 with a wrong one, 200 with it; health stays open', async () => {
    expect((await fetch(`${url}/v1/state`)).status).toBe(401);
    expect((await fetch(`${url}/v1/state`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/v1/state`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
  });

  it('the OpenAPI document and UI need the token too, and a body is refused before it is read', async () => {
    for (const path of ['/docs-json', '/docs']) expect({ path, status: (await fetch(`${url}${path}`)).status }).toEqual({ path, status: 401 });
    expect((await fetch(`${url}/docs-json`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    // Not valid JSON: a parser ahead of the check would answer 400; the check answers first.
    const r = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"not json' });
    expect(r.status).toBe(401);
  });
});

describe('srv6-agent on open loopback', () => {
  let ns: TestNetns;
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    ns = TestNetns.create('open');
    const config = loadConfig({ env: { ...baseEnv(), SRV6_NETNS: ns.name, SRV6_STATE_DIR: join(stateDir, 'open') } });
    ({ app, url } = await bootstrap(config, { logger: false }));
  });
  afterAll(async () => {
    await app?.close();
    destroyAllNetns();
  });

  // A page a browser on the HV loaded from a name that later resolves to 127.0.0.1 (DNS
  // rebinding) reaches the port from loopback, but with its own name in Host.
  it('serves loopback Host names without a token; another Host name (DNS rebinding) needs the token', async () => {
    const port = new URL(url).port;
    const get = (host: string) => httpGet(`127.0.0.1`, Number(port), '/v1/state', host);
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`rebound.example:${port}`)).toBe(401);
  });
});

/** GET with a Host header of our choosing (fetch does not let a caller set Host). */
function httpGet(address: string, port: number, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
