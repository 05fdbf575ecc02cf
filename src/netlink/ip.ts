// IP addresses and prefixes: strict parsing to bytes and canonical formatting (RFC 5952 for IPv6).
import { isIPv4, isIPv6 } from 'node:net';
import { AF } from './constants';
import { InvalidArgumentError } from './errors';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  addr: Buffer;
  len: number;
}

export function afOf(family: Family): number {
  return family === 4 ? AF.INET : AF.INET6;
}

export function familyOf(af: number): Family {
  return af === AF.INET6 ? 6 : 4;
}

export function addressFamily(text: string): Family | undefined {
  if (isIPv4(text)) return 4;
  if (isIPv6(text) && !text.includes('%')) return 6;
  return undefined;
}

/** Parses an address to bytes; `family` restricts what is accepted. */
export function parseAddress(text: string, field: string, family?: Family): Buffer {
  if (typeof text !== 'string') throw new InvalidArgumentError(field, 'expected an address string');
  const f = addressFamily(text);
  if (!f) throw new InvalidArgumentError(field, `not an IP address: ${JSON.stringify(text)}`);
  if (family && f !== family) throw new InvalidArgumentError(field, `expected an IPv${family} address, got ${text}`);
  return f === 4 ? Buffer.from(text.split('.').map(Number)) : ipv6Bytes(text);
}

function ipv6Bytes(text: string): Buffer {
  let s = text;
  const out = Buffer.alloc(16);
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dot = s.lastIndexOf('.');
  if (dot >= 0) {
    const colon = s.lastIndexOf(':');
    const v4 = Buffer.from(s.slice(colon + 1).split('.').map(Number));
    s = `${s.slice(0, colon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  h.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  t.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 16 - (t.length - i) * 2));
  return out;
}

/** Formats 4 or 16 bytes; IPv6 in RFC 5952 form (longest zero run compressed, lower case). */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Buffer.from(b).toString('hex');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * Parses "addr/len" (or a bare address: host prefix; or "default"). Host bits must be zero
 * unless `allowHostBits` (interface addresses carry them).
 */
export function parsePrefix(text: string, field: string, opts: { family?: Family; allowHostBits?: boolean } = {}): Prefix {
  if (typeof text !== 'string') throw new InvalidArgumentError(field, 'expected a prefix string');
  if (text === 'default') {
    if (!opts.family) throw new InvalidArgumentError(field, '"default" needs a known family');
    return { family: opts.family, addr: Buffer.alloc(opts.family === 4 ? 4 : 16), len: 0 };
  }
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseAddress(addrText, field, opts.family);
  const family: Family = addr.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max)
      throw new InvalidArgumentError(field, `prefix length must be 0..${max}: ${JSON.stringify(text)}`);
    len = Number(lenText);
  }
  if (!opts.allowHostBits && !hostBitsZero(addr, len))
    throw new InvalidArgumentError(field, `host bits set in ${text} (did you mean ${formatPrefix(mask(addr, len), len)}?)`);
  return { family, addr, len };
}

export function formatPrefix(addr: Uint8Array, len: number): string {
  return `${formatAddress(addr)}/${len}`;
}

export function mask(addr: Buffer, len: number): Buffer {
  const out = Buffer.from(addr);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i] &= (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

function hostBitsZero(addr: Buffer, len: number): boolean {
  return mask(addr, len).equals(addr);
}

/** Formats a MAC address from bytes ("aa:bb:..."). */
export function formatMac(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1:');
}

export function parseMac(text: string, field: string): Buffer {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text)) throw new InvalidArgumentError(field, `not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/:/g, ''), 'hex');
}
