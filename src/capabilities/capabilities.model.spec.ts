import { Capabilities, decideMode, Feature, FEATURES, FeatureStatus, kernelAtLeast, kernelVersion, summarize } from './capabilities.model';
import { CapabilityProbe } from './capability-probe';

const all = (s: FeatureStatus) => Object.fromEntries(FEATURES.map((f) => [f, s])) as Record<Feature, FeatureStatus>;

describe('capability model', () => {
  it('runs in VRF mode only with VRF and End.DT4 vrftable', () => {
    expect(decideMode(all({ supported: true }))).toBe('vrf');
    expect(decideMode({ ...all({ supported: true }), 'seg6local.End.DT4': { supported: false, reason: 'needs VRF' } })).toBe('table');
    expect(decideMode({ ...all({ supported: true }), vrf: { supported: null, reason: 'unknown' } })).toBe('table');
    expect(decideMode({})).toBe('table');
  });

  it('compares kernel versions', () => {
    expect(kernelVersion('6.18.44-fc-v657')).toEqual([6, 18]);
    expect(kernelAtLeast('6.8.0-1-amd64', 6, 8)).toBe(true);
    expect(kernelAtLeast('6.7.12', 6, 8)).toBe(false);
    expect(kernelAtLeast('5.19.0', 6, 8)).toBe(false);
    expect(kernelAtLeast('7.0', 6, 8)).toBe(true);
    expect(kernelAtLeast('weird', 6, 8)).toBeUndefined();
  });

  it('summarises in one line', () => {
    const c: Capabilities = {
      kernel: '6.18.44',
      mode: 'table',
      probedAt: new Date(0).toISOString(),
      features: {
        ...all({ supported: true }),
        vrf: { supported: false, reason: 'EOPNOTSUPP: Unknown device type' },
        'trace.fentry': { supported: null, reason: 'unknown: probed by ipft' },
      },
    };
    expect(summarize(c)).toBe(
      `kernel 6.18.44, mode table: ${FEATURES.length - 2}/${FEATURES.length} features supported; missing: vrf (EOPNOTSUPP: Unknown device type); unknown: trace.fentry`,
    );
  });
});

describe('CapabilityProbe without a kernel', () => {
  it('deletes the namespace and reports unknown when it cannot be created', async () => {
    const calls: string[] = [];
    const probe = new CapabilityProbe({
      kernelRelease: () => '6.1.0',
      pathExists: () => false,
      addNetns: async (name) => {
        calls.push(`add ${name}`);
        throw new Error('ip netns add: Permission denied');
      },
      deleteNetns: async (name) => {
        calls.push(`del ${name}`);
      },
      openRtnetlink: () => {
        throw new Error('must not be called');
      },
      bpf: null,
      now: () => new Date(0),
    });
    const c = await probe.run();
    expect(calls).toHaveLength(2);
    expect(calls[1]).toBe(calls[0]!.replace('add', 'del'));
    expect(calls[0]).toMatch(/^add srv6-probe-\d+-[0-9a-f]{6}$/);
    expect(c).toMatchObject({ kernel: '6.1.0', mode: 'table', probedAt: '1970-01-01T00:00:00.000Z' });
    expect(c.features.veth).toEqual({ supported: null, reason: 'probe namespace failed: ip netns add: Permission denied' });
    expect(c.features['bpf.fib_lookup_tbid']).toEqual({ supported: false, reason: 'kernel 6.1.0 < 6.8 (version check, not a load test)' });
    expect(c.features['trace.kprobe'].supported).toBe(false);
    expect(c.features['xdp.native'].supported).toBeNull();
    expect(Object.keys(c.features)).toEqual([...FEATURES]);
  });
});
