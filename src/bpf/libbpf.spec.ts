// Unit tier: the parts of the libbpf wrapper that need neither root nor the addon.
import { BpfError, toBpfError } from './errors';
import { xdpMd } from './libbpf';

describe('xdpMd', () => {
  it('encodes struct xdp_md for a test run', () => {
    expect(xdpMd(64, { ingressIfindex: 7, rxQueueIndex: 3 }).toString('hex')).toBe(
      '00000000' + '40000000' + '00000000' + '07000000' + '03000000' + '00000000',
    );
  });
});

describe('toBpfError', () => {
  it('maps addon errors carrying errno, keeping op, code and log', () => {
    const native = Object.assign(new Error('bpf_object__load: Permission denied\nlog'), {
      errno: 13,
      code: 'EACCES',
      op: 'bpf_object__load',
      log: 'log',
    });
    const e = toBpfError(native, 'fallback') as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ name: 'BpfError', errno: 13, code: 'EACCES', op: 'bpf_object__load', log: 'log' });
    expect(e.message).toBe(native.message);
    expect(e.cause).toBe(native);
    expect(BpfError.is(e, 'EACCES')).toBe(true);
    expect(BpfError.is(e, 'ENOENT')).toBe(false);
  });

  it('uses the caller op when the addon gave none', () => {
    const e = toBpfError(Object.assign(new Error('open netns: No such file'), { errno: 2, code: 'ENOENT' }), 'bpfX');
    expect(e).toMatchObject({ op: 'bpfX', code: 'ENOENT' });
  });

  it("names an errno glibc has no name for from the one errno table (524: the kernel's ENOTSUPP)", () => {
    const e = toBpfError(Object.assign(new Error('bpf_link_create: Unknown error 524'), { errno: 524 }), 'bpf_link_create');
    expect(e).toMatchObject({ errno: 524, code: 'ENOTSUPP' });
  });

  it('leaves errors without errno alone (argument type errors are bugs, not kernel failures)', () => {
    const t = new TypeError('expected a Buffer');
    expect(toBpfError(t, 'op')).toBe(t);
    expect(toBpfError('x', 'op')).toBe('x');
  });
});
