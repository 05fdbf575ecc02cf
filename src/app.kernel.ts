// Kernel tier, end to end: the Nest application booted as `serve` boots it (without the local
// Redis), managing a throwaway namespace, answering over real HTTP on a random loopback port.
//
//   host: 127.0.0.1:<random>  ── HTTP ──  this test (fetch)
//   netns srv6t-app-<pid>-<rnd>: the agent's managed namespace (SRV6_NETNS), lo only
//   netns srv6-probe-<pid>-<rnd>: the capability probe's, gone once the app has started
import { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';

import { Capabilities } from './capabilities/capabilities.model';
import { loadConfig } from './config/config.loader';
import { ReadinessReport } from './health/health-check';
import { bootstrap } from './main';
import { destroyAllNetns, TestNetns } from './testing/netns';

jest.setTimeout(10_000);

describe('srv6-agent HTTP API', () => {
  let ns: TestNetns;
  let app: INestApplication;
  let url: string;
  const signalListeners = () => process.listenerCount('SIGTERM') + process.listenerCount('SIGINT');
  let listenersBefore: number;

  beforeAll(async () => {
    ns = TestNetns.create('app');
    listenersBefore = signalListeners();
    const config = loadConfig({ env: { SRV6_NETNS: ns.name, SRV6_LISTEN: '127.0.0.1:0' } });
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
    expect(body.features['seg6local.End'].supported).toBe(true);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`srv6-probe-${process.pid}-`);
  });

  it('GET /v1/health/ready: 200 while netlink answers in the managed namespace', async () => {
    const { status, body } = await get<ReadinessReport>('/v1/health/ready');
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ready', checks: [{ name: 'netlink', ok: true, durationMs: expect.any(Number) }] });
  });

  it('unknown paths are 404', async () => {
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
  });

  it('GET /v1/health/ready: 503 naming the check once the managed namespace is deleted', async () => {
    ns.destroy();
    const { status, body } = await get<ReadinessReport>('/v1/health/ready');
    expect(status).toBe(503);
    expect(body.status).toBe('not-ready');
    expect(body.checks[0]).toMatchObject({ name: 'netlink', ok: false, error: expect.stringContaining(`netns ${ns.name} is gone`) });
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
    const config = loadConfig({ env: { SRV6_NETNS: `srv6t-missing-${process.pid}`, SRV6_LISTEN: '127.0.0.1:0' } });
    const before = process.listenerCount('SIGTERM');
    await expect(bootstrap(config, { logger: false })).rejects.toThrow(/network namespace "srv6t-missing-\d+" .*does not exist/);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
