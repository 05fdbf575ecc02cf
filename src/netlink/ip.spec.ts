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
