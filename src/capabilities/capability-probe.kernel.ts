// Kernel tier: the capability probe against the running kernel, checked by an independent observer.
//
//   host: never changed (no probe device may appear here)
//   netns srv6-probe-<pid>-<rnd>:  prb0 <══ veth ══> prb1, prbvrf (table 100) when VRF exists
//                                  (made and deleted by the probe itself)
//   netns srv6t-capref-<pid>-<rnd>: p0 <══ veth ══> p1; the same features tried with iproute2,
//                                  giving the expected answers (so this holds on the lab kernel too)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../native/addon';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { FIB_TBID_PROBE, LibbpfProber } from './bpf-prober';
import { Capabilities, kernelAtLeast } from './capabilities.model';
import { CapabilityProbe, PROBE_NETNS_PREFIX } from './capability-probe';

function netnsNames(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

function hostLinkNames(): string[] {
  return JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })).map((l: { ifname: string }) => l.ifname);
}

function succeeds(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** What iproute2 says this kernel can do, tried in a namespace of our own. */
function reference(): { vrf: boolean; dt4: boolean; dx4: boolean; nexthopSeg6: boolean; counters: boolean } {
  const ns = TestNetns.create('capref');
  try {
    ns.ip(['link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    ns.ip(['link', 'set', 'p1', 'up']); // a nexthop needs carrier on its device
    ns.ip(['link', 'set', 'p0', 'up']);
    const vrf = succeeds(() => ns.ip(['link', 'add', 'v0', 'type', 'vrf', 'table', '100']));
    const dt4 =
      vrf &&
      succeeds(() => {
        ns.ip(['link', 'set', 'v0', 'up']);
        ns.exec('sysctl', ['-qw', 'net.vrf.strict_mode=1']);
        ns.ip(['-6', 'route', 'add', 'fc00::4/128', 'encap', 'seg6local', 'action', 'End.DT4', 'vrftable', '100', 'dev', 'p0']);
      });
    succeeds(() => ns.ip(['-6', 'route', 'add', 'fc00::1/128', 'encap', 'seg6local', 'action', 'End.DX4', 'nh4', '10.0.0.1', 'dev', 'p0']));
    succeeds(() => ns.ip(['-6', 'route', 'add', 'fc00::2/128', 'encap', 'seg6local', 'action', 'End', 'count', 'dev', 'p0']));
    succeeds(() => ns.ip(['nexthop', 'add', 'id', '1', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00::9', 'dev', 'p0']));
    const routes = ns.ipJson<Array<{ dst: string; action?: string; stats64?: object }>>(['-s', '-6', 'route', 'show']);
    const nexthops = ns.ipJson<Array<{ id: number; encap?: string }>>(['nexthop', 'show']);
    return {
      vrf,
      dt4,
      dx4: routes.some((r) => r.dst === 'fc00::1' && r.action === 'End.DX4'),
      counters: routes.some((r) => r.dst === 'fc00::2' && r.stats64 !== undefined),
      nexthopSeg6: nexthops.some((n) => n.id === 1 && n.encap === 'seg6'),
    };
  } finally {
    ns.destroy();
  }
}

afterAll(destroyAllNetns);

describe('CapabilityProbe on this kernel', () => {
  let caps: Capabilities;
  let ref: ReturnType<typeof reference>;
  const created: string[] = [];
  let hostLinksBefore: string[];

  beforeAll(async () => {
    ref = reference();
    hostLinksBefore = hostLinkNames();
    const probe = new CapabilityProbe({
      addNetns: async (name) => {
        created.push(name);
        execFileSync('ip', ['netns', 'add', name]);
      },
    });
    caps = await probe.run();
  }, scaled(10_000));

  it('made exactly one throwaway namespace and removed it', () => {
    expect(created).toHaveLength(1);
    expect(created[0]).toMatch(new RegExp(`^${PROBE_NETNS_PREFIX}${process.pid}-[0-9a-f]+$`));
    expect(netnsNames().filter((n) => n.startsWith(`${PROBE_NETNS_PREFIX}${process.pid}-`))).toEqual([]);
  });

  it('left the host alone', () => {
    const after = hostLinkNames();
    for (const dev of ['prb0', 'prb1', 'prbvrf']) expect(after).not.toContain(dev);
    expect(after.filter((l) => !hostLinksBefore.includes(l))).toEqual([]);
  });

  it('reports every feature with a definite answer or a reason', () => {
    expect(caps.kernel).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(Number.isNaN(Date.parse(caps.probedAt))).toBe(false);
    for (const [feature, s] of Object.entries(caps.features)) {
      expect([true, false, null]).toContain(s.supported);
      if (s.supported !== true) expect({ feature, reason: s.reason }).toEqual({ feature, reason: expect.stringMatching(/\S/) });
    }
  });

  it('agrees with iproute2 on VRF, End.DX4, End.DT4, seg6 nexthops, counters and the mode', () => {
    expect(caps.features.vrf.supported).toBe(ref.vrf);
    if (!ref.vrf) {
      expect(caps.features.vrf.reason).toMatch(/E[A-Z]+/); // the kernel's errno (and extack)
      for (const f of ['seg6local.End.DT4', 'seg6local.End.DT46', 'seg6local.End.DT6.vrftable'] as const) {
        expect(caps.features[f].supported).toBe(false);
        expect(caps.features[f].reason).toMatch(/^needs VRF/);
      }
    }
    expect(caps.features['seg6local.End.DT4'].supported).toBe(ref.dt4);
    expect(caps.features['seg6local.End.DX4'].supported).toBe(ref.dx4);
    expect(caps.features['nexthop.seg6'].supported).toBe(ref.nexthopSeg6);
    expect(caps.features['seg6local.counters'].supported).toBe(ref.counters);
    expect(caps.mode).toBe(ref.vrf && ref.dt4 ? 'vrf' : 'table');
  });

  it('agrees with the host on the tracing backends it can see from /sys', () => {
    expect(caps.features['trace.tp_btf'].supported).toBe(existsSync('/sys/kernel/btf/vmlinux'));
    expect(caps.features['trace.kprobe'].supported).toBe(existsSync('/sys/bus/event_source/devices/kprobe'));
    expect(caps.features['trace.fentry']).toEqual({ supported: null, reason: 'unknown: probed by ipft' });
  });

  it('attaches XDP natively and generically on veth when a probe object is built', () => {
    const root = packageRoot();
    const built = ['bpf/build/probe/xdp_pass.bpf.o', 'bpf/build/test/xdp_test.bpf.o'].some((f) => existsSync(join(root, f)));
    if (!built) {
      expect(caps.features['xdp.generic'].supported).toBeNull();
      return;
    }
    expect(caps.features['xdp.generic']).toEqual({ supported: true, reason: expect.stringMatching(/^bpf_link attach in generic mode verified/) });
    expect(caps.features['xdp.native']).toEqual({ supported: true, reason: expect.stringMatching(/^bpf_link attach in driver mode verified/) });
  });

  it('knows BPF_FIB_LOOKUP_TBID from a test run of the helper, agreeing with the kernel version (6.8)', () => {
    if (!existsSync(join(packageRoot(), FIB_TBID_PROBE.file))) {
      expect(caps.features['bpf.fib_lookup_tbid'].reason).toMatch(/version check/);
      return;
    }
    const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    expect(caps.features['bpf.fib_lookup_tbid']).toEqual({ supported: kernelAtLeast(release, 6, 8), reason: expect.stringMatching(/\(test run\)/) });
  });
});

describe('LibbpfProber.fibLookupTbid', () => {
  afterAll(() => destroyAllNetns());

  it('answers from the table it names: its route without a neighbour (7), no route in another (4)', async () => {
    if (!existsSync(join(packageRoot(), FIB_TBID_PROBE.file))) return; // `make -C bpf` builds it (npm test does)
    const release = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
    const ns = TestNetns.create('tbid');
    ns.ipBatch(['link add name t0 type veth peer name t1', 'link set dev t0 up', 'link set dev t1 up', 'route add 10.9.0.1/32 dev t0 table 101']);
    ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.t0.forwarding=1']);
    const t0 = ns.ipJson<Array<{ ifindex: number }>>(['link', 'show', 'dev', 't0'])[0]!.ifindex;
    const prober = new LibbpfProber();
    const found = await prober.fibLookupTbid(ns.name, t0, 101, '10.9.0.1');
    const other = await prober.fibLookupTbid(ns.name, t0, 102, '10.9.0.1');
    if (kernelAtLeast(release, 6, 8)) {
      expect(found).toEqual({ ok: true, rc: 7 }); // BPF_FIB_LKUP_RET_NO_NEIGH
      expect(other).toEqual({ ok: true, rc: 4 }); // BPF_FIB_LKUP_RET_NOT_FWDED
    } else {
      expect(found).toEqual({ ok: true, rc: -22 });
    }
  });
});

describe('CapabilityProbe failure paths', () => {
  it('deletes its namespace when the probe fails inside it', async () => {
    const created: string[] = [];
    const probe = new CapabilityProbe({
      addNetns: async (name) => {
        created.push(name);
        execFileSync('ip', ['netns', 'add', name]);
      },
      openRtnetlink: () => {
        throw new Error('simulated socket failure');
      },
      bpf: null,
    });
    const caps = await probe.run();
    expect(created).toHaveLength(1);
    expect(netnsNames()).not.toContain(created[0]);
    expect(caps.features.veth).toEqual({ supported: null, reason: 'probe namespace failed: simulated socket failure' });
    expect(caps.features['trace.tp_btf'].supported).not.toBeNull(); // host facts need no namespace
    expect(caps.mode).toBe('table');
  });

  it('cleans up when creating the namespace itself fails half-way', async () => {
    let name = '';
    const probe = new CapabilityProbe({
      addNetns: async (n) => {
        name = n;
        execFileSync('ip', ['netns', 'add', n]);
        throw new Error('simulated failure after creation');
      },
      bpf: null,
    });
    const caps = await probe.run();
    expect(netnsNames()).not.toContain(name);
    expect(caps.features['nexthop.seg6'].reason).toMatch(/simulated failure after creation/);
  });
});
