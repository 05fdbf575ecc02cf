// The tracer's event as user space sees it: the decoder of `struct ipft_event`
// (bpf/trace/ipft.h: keep the offsets below in step with the comments there) and the text forms
// of its fields, ipftrace2 style: `len: 5764 gso_type: tcpv4|ipxip6`.

export const EVENT_SIZE = 72;
export const FUNC_ID_MARKER = 0x1f7ace1d5eedf00dn;
export const F_ENCAPSULATION = 0x01;
export const F_PARTIAL = 0x02;
export const CNT_HIT = 0;
export const CNT_LOST = 1;

/** One hit, decoded. `skb` is the packet id before pointer-reuse splitting (see packets.ts). */
export interface TraceEvent {
  skb: bigint;
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC nanoseconds. */
  tstamp: bigint;
  retval: bigint;
  funcId: number;
  cpu: number;
  len: number;
  dataLen: number;
  mark: number;
  ifindex: number;
  netns: number;
  gsoType: number;
  gsoSize: number;
  gsoSegs: number;
  /** Ethertype, host order (the skb holds it big endian). */
  protocol: number;
  innerProtocol: number;
  isReturn: boolean;
  encapsulation: boolean;
  /** Only skb pointer, len, ifindex, netns are valid (net_dev_xmit: the skb may be freed). */
  partial: boolean;
}

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

const swap16 = (v: number) => ((v & 0xff) << 8) | (v >> 8);

export function decodeEvent(b: Buffer): TraceEvent {
  if (b.length < EVENT_SIZE) throw new EventDecodeError(`event of ${b.length} bytes, expected ${EVENT_SIZE}`);
  const flags = b[65];
  return {
    skb: b.readBigUInt64LE(0),
    tstamp: b.readBigUInt64LE(8),
    retval: b.readBigInt64LE(16),
    funcId: b.readUInt32LE(24),
    cpu: b.readUInt32LE(28),
    len: b.readUInt32LE(32),
    dataLen: b.readUInt32LE(36),
    mark: b.readUInt32LE(40),
    ifindex: b.readUInt32LE(44),
    netns: b.readUInt32LE(48),
    gsoType: b.readUInt32LE(52),
    gsoSize: b.readUInt16LE(56),
    gsoSegs: b.readUInt16LE(58),
    protocol: swap16(b.readUInt16LE(60)),
    innerProtocol: swap16(b.readUInt16LE(62)),
    isReturn: b[64] !== 0,
    encapsulation: (flags & F_ENCAPSULATION) !== 0,
    partial: (flags & F_PARTIAL) !== 0,
  };
}

/** The inverse of decodeEvent, for tests and replay. */
export function encodeEvent(e: TraceEvent): Buffer {
  const b = Buffer.alloc(EVENT_SIZE);
  b.writeBigUInt64LE(e.skb, 0);
  b.writeBigUInt64LE(e.tstamp, 8);
  b.writeBigInt64LE(e.retval, 16);
  b.writeUInt32LE(e.funcId, 24);
  b.writeUInt32LE(e.cpu, 28);
  b.writeUInt32LE(e.len, 32);
  b.writeUInt32LE(e.dataLen, 36);
  b.writeUInt32LE(e.mark >>> 0, 40);
  b.writeUInt32LE(e.ifindex, 44);
  b.writeUInt32LE(e.netns >>> 0, 48);
  b.writeUInt32LE(e.gsoType >>> 0, 52);
  b.writeUInt16LE(e.gsoSize, 56);
  b.writeUInt16LE(e.gsoSegs, 58);
  b.writeUInt16LE(swap16(e.protocol), 60);
  b.writeUInt16LE(swap16(e.innerProtocol), 62);
  b[64] = e.isReturn ? 1 : 0;
  b[65] = (e.encapsulation ? F_ENCAPSULATION : 0) | (e.partial ? F_PARTIAL : 0);
  return b;
}

/** Flag names of a gso_type, lowest bit first; unknown bits as `bitN`. */
export function gsoFlags(gsoType: number, names: ReadonlyMap<number, string>): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) if ((gsoType >>> bit) & 1) out.push(names.get(bit) ?? `bit${bit}`);
  return out;
}

export const hex = (n: number, width = 4) => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;
export const hexPtr = (p: bigint) => `0x${p.toString(16).padStart(16, '0')}`;

/** `len: 5764 gso_size: 1388 gso_segs: 5 gso_type: tcpv4|ipxip6 …`, the extension text. */
export function formatExtension(e: TraceEvent, gsoNames: ReadonlyMap<number, string>): string {
  if (e.partial) return `len: ${e.len} ifindex: ${e.ifindex} netns: ${e.netns} rc: ${e.retval}`;
  const gso = gsoFlags(e.gsoType, gsoNames);
  const parts = [
    `len: ${e.len}`,
    `gso_size: ${e.gsoSize}`,
    `gso_segs: ${e.gsoSegs}`,
    `gso_type: ${gso.length ? gso.join('|') : '0'}`,
    `protocol: ${hex(e.protocol)}`,
    `inner_protocol: ${hex(e.innerProtocol)}`,
    `encapsulation: ${e.encapsulation ? 1 : 0}`,
    `ifindex: ${e.ifindex}`,
    `netns: ${e.netns}`,
  ];
  if (e.isReturn) parts.push(`ret: ${e.retval}`);
  return parts.join(' ');
}
