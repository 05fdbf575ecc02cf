// seg6 encapsulation (LWTUNNEL_ENCAP_SEG6): SEG6_IPTUNNEL_SRH = { s32 mode; struct ipv6_sr_hdr }.
import { AttrWriter, Attrs, parseAttrs } from './attributes';
import { SEG6_IPTUNNEL_SRH } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { formatAddress, parseAddress } from './ip';

export const SEG6_MODES = ['inline', 'encap', 'l2encap', 'encap.red', 'l2encap.red'] as const;
export type Seg6Mode = (typeof SEG6_MODES)[number];

/** An SRH holds at most 127 segments (hdrlen is a u8 counting 8-byte units, 2 per segment). */
export const MAX_SRH_SLOTS = 127;

export interface Seg6Encap {
  type: 'seg6';
  mode: Seg6Mode;
  /** SIDs in travel order: segments[0] is the first SID the packet visits. */
  segments: string[];
}

const IPV6_SRCRT_TYPE_4 = 4;
const SRH_FIXED = 8;

/**
 * Builds struct ipv6_sr_hdr. The wire order is reversed (segments[0] is the last SID).
 * `reserveFirst` adds an empty slot 0 that the kernel fills with the packet's original
 * destination: inline mode and End.B6 (an SRH inserted into an existing packet).
 */
export function encodeSrh(sids: string[], field: string, reserveFirst: boolean): Buffer {
  const slots = sids.length + (reserveFirst ? 1 : 0);
  if (!Array.isArray(sids) || sids.length === 0) throw new InvalidArgumentError(field, 'SID list must not be empty');
  if (slots > MAX_SRH_SLOTS)
    throw new InvalidArgumentError(field, `SID list too long: ${sids.length} SIDs (at most ${MAX_SRH_SLOTS - (reserveFirst ? 1 : 0)})`);
  const b = Buffer.alloc(SRH_FIXED + 16 * slots);
  b.writeUInt8(0, 0); // nexthdr: set by the kernel
  b.writeUInt8(2 * slots, 1);
  b.writeUInt8(IPV6_SRCRT_TYPE_4, 2);
  b.writeUInt8(slots - 1, 3); // segments_left
  b.writeUInt8(slots - 1, 4); // first_segment (last_entry)
  sids.forEach((sid, i) => parseAddress(sid, `${field}[${i}]`, 6).copy(b, SRH_FIXED + 16 * (slots - 1 - i)));
  return b;
}

/** Returns the SIDs in travel order, without the reserved slot when `reserveFirst`. */
export function decodeSrh(b: Buffer, reserveFirst: boolean): string[] {
  if (b.length < SRH_FIXED) throw new NetlinkDecodeError(`SRH too short: ${b.length}`);
  const slots = b.readUInt8(1) / 2;
  if (!Number.isInteger(slots) || b.length < SRH_FIXED + 16 * slots)
    throw new NetlinkDecodeError(`SRH hdrlen ${b.readUInt8(1)} does not fit ${b.length} bytes`);
  const out: string[] = [];
  for (let i = slots - 1; i >= (reserveFirst ? 1 : 0); i--) out.push(formatAddress(b.subarray(SRH_FIXED + 16 * i, SRH_FIXED + 16 * (i + 1))));
  return out;
}

export function validateSeg6(e: Seg6Encap, field: string): void {
  if (!SEG6_MODES.includes(e.mode)) throw new InvalidArgumentError(`${field}.mode`, `must be one of ${SEG6_MODES.join(', ')}, got ${JSON.stringify(e.mode)}`);
  encodeSrh(e.segments, `${field}.segments`, e.mode === 'inline');
}

/** Writes the content of RTA_ENCAP / NHA_ENCAP. */
export function encodeSeg6(w: AttrWriter, e: Seg6Encap, field = 'encap'): void {
  const mode = SEG6_MODES.indexOf(e.mode);
  if (mode < 0) throw new InvalidArgumentError(`${field}.mode`, `must be one of ${SEG6_MODES.join(', ')}, got ${JSON.stringify(e.mode)}`);
  const srh = encodeSrh(e.segments, `${field}.segments`, e.mode === 'inline');
  const data = Buffer.alloc(4 + srh.length);
  data.writeInt32LE(mode, 0); // host endian, as the UAPI struct says
  srh.copy(data, 4);
  w.bytes(SEG6_IPTUNNEL_SRH, data);
}

export function decodeSeg6(encap: Buffer | Attrs): Seg6Encap {
  const a = encap instanceof Attrs ? encap : parseAttrs(encap);
  const d = a.raw(SEG6_IPTUNNEL_SRH);
  if (!d || d.length < 4) throw new NetlinkDecodeError('seg6 encap without SEG6_IPTUNNEL_SRH');
  const mode = SEG6_MODES[d.readInt32LE(0)];
  if (!mode) throw new NetlinkDecodeError(`unknown seg6 mode ${d.readInt32LE(0)}`);
  return { type: 'seg6', mode, segments: decodeSrh(d.subarray(4), mode === 'inline') };
}
