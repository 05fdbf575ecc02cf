import { HealthCheck } from './health-check';
import { HealthService } from './health.service';

const check = (name: string, fn: () => Promise<void>): HealthCheck => ({ name, check: fn });

describe('HealthService', () => {
  it('is live while the process runs', () => {
    expect(new HealthService([]).liveness()).toMatchObject({ status: 'ok', pid: process.pid });
  });

  it('is ready when every check passes', async () => {
    const s = new HealthService([check('netlink', async () => undefined), check('redis', async () => undefined)]);
    const r = await s.readiness();
    expect(r.status).toBe('ready');
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ['netlink', true],
      ['redis', true],
    ]);
  });

  it('is not ready when one fails, and says which and why', async () => {
    const s = new HealthService([
      check('netlink', async () => undefined),
      check('bpffs', async () => {
        throw new Error('/sys/fs/bpf is not mounted');
      }),
    ]);
    const r = await s.readiness();
    expect(r.status).toBe('not-ready');
    expect(r.checks[1]).toMatchObject({ name: 'bpffs', ok: false, error: '/sys/fs/bpf is not mounted' });
  });
});
