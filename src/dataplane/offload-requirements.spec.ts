import { CapabilityMissingError } from '../common/errors';
import { requireXdpOffloadCapabilities } from './offload-requirements';

const NO = { supported: false, reason: 'bpf_fib_lookup ... EINVAL, the kernel does not know the flag (needs 6.8)' };
const YES = { supported: true, reason: 'test run' };

function refusal(fn: () => void): CapabilityMissingError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CapabilityMissingError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('requireXdpOffloadCapabilities', () => {
  it('refuses a table-mode End.DT4/DT46 offload without BPF_FIB_LOOKUP_TBID, naming the feature and why', () => {
    for (const behaviour of ['End.DT4', 'End.DT46']) {
      const e = refusal(() => requireXdpOffloadCapabilities({ behaviour, xdpOffload: true }, 'table', NO));
      expect(e.feature).toBe('bpf.fib_lookup_tbid');
      expect(e.message).toContain(`XDP ${behaviour} looks up the tenant table with BPF_FIB_LOOKUP_TBID`);
      expect(e.message).toContain('EINVAL');
      expect(e.alternative).toMatch(/kernel >= 6.8.*only IPv4 decapsulation in table mode/);
    }
  });

  it('refuses every End.DT* offload without it (the program would pass everything), also when not probed', () => {
    expect(refusal(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT6', xdpOffload: true }, 'table', NO)).alternative).toMatch(/^xdpOffload: false/);
    expect(refusal(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT4', xdpOffload: true }, 'vrf', NO)).alternative).toMatch(/^xdpOffload: false/);
    expect(refusal(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT46', xdpOffload: true }, 'vrf', undefined)).message).toContain('not probed');
    expect(refusal(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT6', xdpOffload: true }, 'vrf', { supported: null })).feature).toBe(
      'bpf.fib_lookup_tbid',
    );
  });

  it('accepts what needs no TBID: no offload, End.DX*, or a kernel that has it', () => {
    expect(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT4', xdpOffload: false }, 'vrf', NO)).not.toThrow();
    expect(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT6' }, 'table', NO)).not.toThrow();
    expect(() => requireXdpOffloadCapabilities({ behaviour: 'End.DX4', xdpOffload: true }, 'table', NO)).not.toThrow();
    expect(() => requireXdpOffloadCapabilities({ behaviour: 'End.DX6', xdpOffload: true }, 'vrf', NO)).not.toThrow();
    expect(() => requireXdpOffloadCapabilities({ behaviour: 'End.DT4', xdpOffload: true }, 'table', YES)).not.toThrow();
  });
});
