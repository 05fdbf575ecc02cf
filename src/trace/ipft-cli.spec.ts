// The ipft entry point without a kernel: help, usage errors and exit codes.
import { main } from '../cli/ipft';
import { USAGE } from './ipft-args';

function io() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}

describe('ipft main', () => {
  it('prints the usage for -h and exits 0', async () => {
    const { o, io: x } = io();
    expect(await main(['-h'], x)).toBe(0);
    expect(o.out).toBe(USAGE);
  });

  it('exits 2 with the reason and the usage on a bad command line', async () => {
    const { o, io: x } = io();
    expect(await main(['-m', 'nope'], x)).toBe(2);
    expect(o.err).toMatch(/^ipft: --mark: expected a 32-bit number/);
    expect(o.err).toContain('Usage: ipft');
    expect(o.out).toBe('');
  });

  it('--version prints the version; -j as JSON', async () => {
    const a = io();
    expect(await main(['--version'], a.io)).toBe(0);
    expect(a.o.out).toMatch(/^ipft \d+\.\d+\.\d+/);
    const b = io();
    expect(await main(['-V', '-j'], b.io)).toBe(0);
    expect(JSON.parse(b.o.out)).toMatchObject({ program: 'ipft', node: process.version });
  });

  it('needs a mark to trace', async () => {
    const { o, io: x } = io();
    expect(await main([], x)).toBe(2);
    expect(o.err).toMatch(/--mark is required/);
  });
});
