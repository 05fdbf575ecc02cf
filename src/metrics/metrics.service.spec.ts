// Unit: the exposition of the XDP offload's counters (the kernel tier reads real ones:
// src/xdp/xdp-agent.kernel.ts).
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
