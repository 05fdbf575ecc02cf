// IP addresses and prefixes: strict parsing to bytes and canonical formatting (RFC 5952 for IPv6).
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
  const b = parseBytes(text);
  return b ? (b.length === 4 ? 4 : 6) : undefined;
}

// Route programming parses tens of thousands of addresses per reconcile: single-pass parsers
// without regular expressions or intermediate strings.
function parseV4Into(s: string, start: number, end: number, out: Buffer, off: number): boolean {
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 : s.charCodeAt(i); // a virtual '.' ends the last part
    if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false; // no leading zeros ("01" is octal to some)
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 46) {
      if (digits === 0 || part === 4) return false;
      out[off + part++] = value;
      value = 0;
      digits = 0;
    } else return false;
  }
  return part === 4;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function parseV6(s: string): Buffer | undefined {
  const out = Buffer.alloc(16);
  const n = s.length;
  if (n < 2) return undefined;
  let i = 0;
  let g = 0; // groups written
  let gap = -1; // group index where "::" stands
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
    if (i === n) return out;
  }
  while (i < n) {
    // An embedded IPv4 address ends the text and fills two groups.
    let j = i;
    let v = 0;
    while (j < n && j - i < 5) {
      const d = hex(s.charCodeAt(j));
      if (d < 0) break;
      v = (v << 4) | d;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      if (g > 6 || !parseV4Into(s, i, n, out, 2 * g)) return undefined;
      g += 2;
      i = n;
      break;
    }
    if (j === i || j - i > 4 || g === 8) return undefined;
    out.writeUInt16BE(v, 2 * g++);
    i = j;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined;
      gap = g;
      i++;
    } else if (i === n) return undefined; // trailing single ':'
  }
  if (gap < 0) return g === 8 ? out : undefined;
  if (g > 7) return undefined;
  // Move the groups after the gap to the end.
  const tail = 2 * (g - gap);
  out.copy(out, 16 - tail, 2 * gap, 2 * g);
  out.fill(0, 2 * gap, 16 - tail);
  return out;
}

function parseBytes(text: string): Buffer | undefined {
  if (text.indexOf(':') >= 0) return parseV6(text);
  const out = Buffer.alloc(4);
  return parseV4Into(text, 0, text.length, out, 0) ? out : undefined;
}

// SIDs and gateways repeat across routes: a bounded cache of parsed addresses (never modified).
const CACHE_MAX = 4096;
const cache = new Map<string, Buffer>();

/** Parses an address to bytes (shared: do not modify); `family` restricts what is accepted. */
export function parseAddress(text: string, field: string, family?: Family): Buffer {
  if (typeof text !== 'string') throw new InvalidArgumentError(field, 'expected an address string');
  let b = cache.get(text);
  if (!b) {
    b = parseBytes(text);
    if (!b) throw new InvalidArgumentError(field, `not an IP address: ${JSON.stringify(text)}`);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(text, b);
  }
  if (family && b.length !== (family === 4 ? 4 : 16)) throw new InvalidArgumentError(field, `expected an IPv${family} address, got ${text}`);
  return b;
}

/** Formats 4 or 16 bytes; IPv6 in RFC 5952 form (longest zero run compressed, lower case). */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Buffer.from(b).toString('hex');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8;) {
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
  const addr = parseBytes(addrText);
  if (!addr) throw new InvalidArgumentError(field, `not an IP prefix: ${JSON.stringify(text)}`);
  const family: Family = addr.length === 4 ? 4 : 6;
  if (opts.family && family !== opts.family) throw new InvalidArgumentError(field, `expected an IPv${opts.family} prefix, got ${text}`);
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) throw new InvalidArgumentError(field, `prefix length must be 0..${max}: ${JSON.stringify(text)}`);
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
  if (len === addr.length * 8) return addr;
  const out = Buffer.from(addr);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i] &= (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

function hostBitsZero(addr: Buffer, len: number): boolean {
  for (let i = len >> 3; i < addr.length; i++) {
    const keep = i === len >> 3 ? (0xff << (8 - (len & 7))) & 0xff : 0;
    if (addr[i] & ~keep & 0xff) return false;
  }
  return true;
}

/** Formats a MAC address from bytes ("aa:bb:..."). */
export function formatMac(b: Uint8Array): string {
  return Buffer.from(b)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

export function parseMac(text: string, field: string): Buffer {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text)) throw new InvalidArgumentError(field, `not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/:/g, ''), 'hex');
}
