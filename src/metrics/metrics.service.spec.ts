// Unit: the exposition of the XDP offload's counters (the kernel tier reads real ones:
// src/xdp/xdp-agent.kernel.ts).
import { readBuildInfo } from '../common/build-info';
import { MetricsService, ScrapeSource, XdpScrape } from './metrics.service';

function source(xdp: XdpScrape | undefined, calls: { xdp: number }): ScrapeSource {
  return {
    ownedObjects: () => ({ route: 3 }),
    driftRepairs: () => 0,
    sidCounters: async () => [],
    xdpCounters: async () => {
      calls.xdp++;
      return xdp;
    },
  };
}

const SCRAPE: XdpScrape = {
  sids: [
    { tenant: 'alpha', sid: 'fc00:0:2:1::', behaviour: 'End.DT4', packets: 40, bytes: 4880, passed: { no_neigh: 3, ttl: 2 } },
    { tenant: 'beta', sid: 'fc00:0:2:2::', behaviour: 'End.DX4', packets: 0, bytes: 0, passed: {} },
  ],
  reasons: { redirect: 40, no_sid: 7, no_neigh: 3, ttl: 2 },
  attachments: [{ ifname: 'ul0', mode: 'native' }],
};

describe('MetricsService: XDP offload', () => {
  it('exports per-SID packets, bytes and passed-by-reason, verdicts and attachments, reading the maps once per scrape', async () => {
    const calls = { xdp: 0 };
    const m = new MetricsService();
    m.attach(source(SCRAPE, calls));
    const text = await m.text();
    expect(calls.xdp).toBe(1);
    const lines = text.split('\n').filter((l) => l.startsWith('srv6_agent_xdp_'));
    expect(lines.sort()).toEqual(
      [
        'srv6_agent_xdp_sid_packets_total{tenant="alpha",sid="fc00:0:2:1::",behaviour="End.DT4"} 40',
        'srv6_agent_xdp_sid_packets_total{tenant="beta",sid="fc00:0:2:2::",behaviour="End.DX4"} 0',
        'srv6_agent_xdp_sid_bytes_total{tenant="alpha",sid="fc00:0:2:1::",behaviour="End.DT4"} 4880',
        'srv6_agent_xdp_sid_bytes_total{tenant="beta",sid="fc00:0:2:2::",behaviour="End.DX4"} 0',
        'srv6_agent_xdp_sid_passed_total{tenant="alpha",sid="fc00:0:2:1::",behaviour="End.DT4",reason="no_neigh"} 3',
        'srv6_agent_xdp_sid_passed_total{tenant="alpha",sid="fc00:0:2:1::",behaviour="End.DT4",reason="ttl"} 2',
        'srv6_agent_xdp_packets_total{reason="redirect"} 40',
        'srv6_agent_xdp_packets_total{reason="no_sid"} 7',
        'srv6_agent_xdp_packets_total{reason="no_neigh"} 3',
        'srv6_agent_xdp_packets_total{reason="ttl"} 2',
        'srv6_agent_xdp_attached{interface="ul0",mode="native"} 1',
      ].sort(),
    );
    // The next scrape reads again (no stale cache), and shows what went away.
    SCRAPE.sids.pop();
    const again = await m.text();
    expect(calls.xdp).toBe(2);
    expect(again).not.toContain('tenant="beta"');
  });

  it('the offload not loaded: no XDP series', async () => {
    const m = new MetricsService();
    m.attach(source(undefined, { xdp: 0 }));
    expect((await m.text()).split('\n').filter((l) => l.startsWith('srv6_agent_xdp_'))).toEqual([]);
  });
});

describe('MetricsService: build, readiness, queue, reconciles, job wait', () => {
  const line = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name));

  it('Node process metrics keep their standard names; build_info names the version, commit and Node', async () => {
    const text = await new MetricsService().text();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).not.toMatch(/srv6_agent_(process|nodejs)_/);
    const b = readBuildInfo();
    expect(line(text, 'srv6_agent_build_info')).toEqual([
      `srv6_agent_build_info{version="${b.version}",commit="${b.commit ?? 'unknown'}",node="${process.version}"} 1`,
    ]);
  });

  it('parts attached by different modules are all read; readiness, queue depth and reconciles follow their source', async () => {
    const m = new MetricsService();
    let ready = false;
    let counts: Record<string, number> = { waiting: 2, active: 1, completed: 5 };
    const reconciles = { job: 3, startup: 1, drift: 0, periodic: 0, resync: 0, undo: 0 };
    m.attach(source(undefined, { xdp: 0 }));
    m.attach({ ready: async () => ready });
    m.attach({ queueCounts: async () => counts, reconciles: () => reconciles });
    let text = await m.text();
    expect(line(text, 'srv6_agent_ready')).toEqual(['srv6_agent_ready 0']);
    expect(line(text, 'srv6_agent_queue_jobs').sort()).toEqual(
      ['waiting 2', 'active 1', 'delayed 0', 'failed 0', 'completed 5', 'paused 0']
        .map((s) => s.split(' '))
        .map(([state, n]) => `srv6_agent_queue_jobs{state="${state}"} ${n}`)
        .sort(),
    );
    expect(line(text, 'srv6_agent_reconciles_total{')).toContain('srv6_agent_reconciles_total{trigger="job"} 3');
    expect(line(text, 'srv6_agent_owned_objects')).toEqual(['srv6_agent_owned_objects{kind="route"} 3']);

    ready = true;
    counts = { waiting: 0, active: 0, completed: 7 };
    reconciles.drift = 2;
    text = await m.text();
    expect(line(text, 'srv6_agent_ready')).toEqual(['srv6_agent_ready 1']);
    expect(line(text, 'srv6_agent_queue_jobs')).toContain('srv6_agent_queue_jobs{state="waiting"} 0');
    expect(line(text, 'srv6_agent_queue_jobs')).toContain('srv6_agent_queue_jobs{state="completed"} 7');
    expect(line(text, 'srv6_agent_reconciles_total{')).toContain('srv6_agent_reconciles_total{trigger="drift"} 2');
    expect(line(text, 'srv6_agent_queue_scrape_errors_total')).toEqual(['srv6_agent_queue_scrape_errors_total 0']);
  });

  it('a slow or failing Redis: the queue gauge is absent, a scrape error is counted, /metrics still answers', async () => {
    const m = new MetricsService();
    m.queueTimeoutMs = 20;
    let counts: () => Promise<Record<string, number>> = () => new Promise(() => undefined); // never answers
    m.attach({ queueCounts: () => counts() });
    const t0 = Date.now();
    let text = await m.text();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(line(text, 'srv6_agent_queue_jobs{')).toEqual([]);
    expect(line(text, 'srv6_agent_queue_scrape_errors_total')).toEqual(['srv6_agent_queue_scrape_errors_total 1']);
    counts = async () => Promise.reject(new Error('ECONNREFUSED'));
    text = await m.text();
    expect(line(text, 'srv6_agent_queue_scrape_errors_total')).toEqual(['srv6_agent_queue_scrape_errors_total 2']);
    counts = async () => ({ waiting: 4 });
    text = await m.text();
    expect(line(text, 'srv6_agent_queue_jobs{')).toContain('srv6_agent_queue_jobs{state="waiting"} 4');
    expect(line(text, 'srv6_agent_queue_scrape_errors_total')).toEqual(['srv6_agent_queue_scrape_errors_total 2']);
  });

  it('job wait time: one observation per started job, by type; a clock behind counts as 0', async () => {
    const m = new MetricsService();
    m.jobStarted('upsert-tenant', 0.03);
    m.jobStarted('upsert-tenant', 2);
    m.jobStarted(undefined, -1);
    const text = await m.text();
    expect(text).toContain('srv6_agent_job_wait_seconds_count{type="upsert-tenant"} 2');
    expect(text).toContain('srv6_agent_job_wait_seconds_sum{type="upsert-tenant"} 2.03');
    expect(text).toContain('srv6_agent_job_wait_seconds_bucket{le="0.05",type="upsert-tenant"} 1');
    expect(text).toContain('srv6_agent_job_wait_seconds_sum{type="unknown"} 0');
  });
});
