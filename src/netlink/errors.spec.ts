import { errnoName, KernelError } from './errors';

describe('errnoName', () => {
  it('names libc errnos and the kernel-internal ENOTSUPP (524) BPF attaches return; others by number', () => {
    expect([errnoName(2), errnoName(22), errnoName(95), errnoName(524), errnoName(4095)]).toEqual(['ENOENT', 'EINVAL', 'EOPNOTSUPP', 'ENOTSUPP', 'errno 4095']);
  });

  it('is what kernel errors carry as their code', () => {
    expect(new KernelError(524, { type: 24, flags: 0, seq: 1, what: 'route x' }).code).toBe('ENOTSUPP');
  });
});
