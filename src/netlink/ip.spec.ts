import { formatAddress, parseAddress, parsePrefix } from './ip';
import { InvalidArgumentError } from './errors';

describe('addresses', () => {
  it.each([
    ['::', '::'],
    ['fc00:0:0:0:0:0:0:1', 'fc00::1'],
    ['FC00:1:0:0:1:0:0:0', 'fc00:1:0:0:1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['192.0.2.1', '192.0.2.1'],
  ])('%s formats as %s (RFC 5952)', (input, out) => {
    expect(formatAddress(parseAddress(input, 'a'))).toBe(out);
  });

  it.each(['1.2.3', '256.1.1.1', 'fc00::1::2', 'fe80::1%eth0', '', 'x'])('rejects %j', (bad) => {
    expect(() => parseAddress(bad, 'a')).toThrow(InvalidArgumentError);
  });

  it('enforces the family', () => {
    expect(() => parseAddress('10.0.0.1', 'nh6', 6)).toThrow(/expected an IPv6/);
  });
});

describe('prefixes', () => {
  it('parses and checks host bits', () => {
    expect(parsePrefix('10.0.0.0/8', 'p')).toMatchObject({ family: 4, len: 8 });
    expect(() => parsePrefix('10.0.0.1/8', 'p')).toThrow(/host bits set in 10.0.0.1\/8 \(did you mean 10.0.0.0\/8\?\)/);
    expect(parsePrefix('10.0.0.1/8', 'p', { allowHostBits: true }).len).toBe(8);
    expect(parsePrefix('fc00::1', 'p').len).toBe(128);
    expect(parsePrefix('default', 'p', { family: 6 }).len).toBe(0);
  });

  it.each(['10.0.0.0/33', 'fc00::/129', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8x', 'default'])('rejects %j', (bad) => {
    expect(() => parsePrefix(bad, 'dst')).toThrow(InvalidArgumentError);
  });
});

describe('the address parser against independent oracles (node:net validity, WHATWG URL form)', () => {
  const { isIP } = require('node:net');
  let s = 7;
  const r = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const alphabet = '0123456789abcdefABCDEF:.::';
  const sample = (): string => {
    if (r() < 0.5) {
      // mostly-valid shapes: groups, an optional gap, an optional dotted tail
      const groups = Array.from({ length: 1 + Math.floor(r() * 8) }, () =>
        Math.floor(r() * 65536)
          .toString(16)
          .slice(0, 1 + Math.floor(r() * 4)),
      );
      if (r() < 0.5) groups.splice(Math.floor(r() * groups.length), 0, '');
      let t = groups.join(':');
      if (r() < 0.2) t += `:${[1, 2, 3, 4].map(() => Math.floor(r() * 300)).join('.')}`;
      return t;
    }
    return Array.from({ length: Math.floor(r() * 20) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
  };

  it('agrees on 20,000 generated strings', () => {
    for (let i = 0; i < 20000; i++) {
      const t = sample();
      const valid = isIP(t) !== 0;
      let ours: string | undefined;
      try {
        ours = formatAddress(parseAddress(t, 'a'));
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidArgumentError);
      }
      if ((ours !== undefined) !== valid) throw new Error(`disagree on ${JSON.stringify(t)}: node ${valid}, ours ${ours}`);
      if (ours && isIP(t) === 6) expect(ours).toBe(new URL(`http://[${t}]/`).hostname.slice(1, -1));
    }
  });
});
