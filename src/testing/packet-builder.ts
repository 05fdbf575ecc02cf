// A small packet builder for the XDP fixtures, equivalence tests and benchmarks: Ethernet, 802.1Q,
// IPv4 (header checksum), IPv6, SRH, extension headers, UDP/TCP/ICMP/ICMPv6 (checksums with the
// pseudo-header). Every checksum is computed from scratch (RFC 1071), never incrementally, so the
// tests' expected bytes are independent of the program's incremental TTL update.
import { formatAddress, parseAddress } from '../netlink/ip';

export const ETH_P = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, IPV6: 0x86dd } as const;
export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
} as const;

function mac(m: string): Buffer {
  const b = Buffer.from(m.replace(/:/g, ''), 'hex');
  if (b.length !== 6) throw new Error(`bad MAC ${m}`);
  return b;
}

function addr(a: string, family: 4 | 6): Buffer {
  return parseAddress(a, 'address', family);
}

/** RFC 1071 Internet checksum of the concatenation (odd lengths padded with a zero byte). */
export function checksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const p of parts) {
    let i = 0;
    if (odd !== undefined && p.length) {
      sum += (odd << 8) | p[0];
      odd = undefined;
      i = 1;
    }
    for (; i + 1 < p.length; i += 2) sum += (p[i] << 8) | p[i + 1];
    if (i < p.length) odd = p[i];
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// ---- L2 ----

export interface EthOptions {
  dst: string;
  src: string;
  type: number;
  /** 802.1Q tag (VLAN id); the frame then carries TPID 0x8100 before `type`. */
  vlan?: number;
}

export function ethernet(o: EthOptions, payload: Buffer): Buffer {
  const tag = o.vlan !== undefined;
  const h = Buffer.alloc(tag ? 18 : 14);
  mac(o.dst).copy(h, 0);
  mac(o.src).copy(h, 6);
  if (tag) {
    h.writeUInt16BE(ETH_P.VLAN, 12);
    h.writeUInt16BE(o.vlan! & 0xfff, 14);
    h.writeUInt16BE(o.type, 16);
  } else h.writeUInt16BE(o.type, 12);
  return Buffer.concat([h, payload]);
}

// ---- L3 ----

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** Don't fragment (default true). */
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Options, padded by the caller to a multiple of 4 bytes. */
  options?: Buffer;
  /** Override of the total length field (malformed packets). */
  totalLength?: number;
}

export function ipv4(o: Ipv4Options, payload: Buffer): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  if (opt.length % 4) throw new Error('IPv4 options must be padded to 4 bytes');
  const h = Buffer.alloc(20 + opt.length);
  h[0] = 0x40 | (h.length / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totalLength ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE(((o.df ?? true) ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.protocol;
  addr(o.src, 4).copy(h, 12);
  addr(o.dst, 4).copy(h, 16);
  opt.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Options {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Override of the payload length field (malformed packets, jumbograms). */
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((o.trafficClass ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE(o.payloadLength ?? payload.length, 4);
  h[6] = o.nextHeader;
  h[7] = o.hopLimit ?? 64;
  addr(o.src, 6).copy(h, 8);
  addr(o.dst, 6).copy(h, 24);
  return Buffer.concat([h, payload]);
}

export interface SrhOptions {
  nextHeader: number;
  /** The segment list in SRH order: segments[0] is the LAST segment of the path. */
  segments: string[];
  segmentsLeft: number;
  /** Default segments.length - 1. */
  lastEntry?: number;
  flags?: number;
  tag?: number;
  /** TLV bytes after the segment list (padded by the caller to 8 bytes). */
  tlvs?: Buffer;
  /** Routing type; 4 = SRH. */
  type?: number;
}

/** A Segment Routing Header (RFC 8754) followed by `payload`. */
export function srh(o: SrhOptions, payload: Buffer): Buffer {
  const tlvs = o.tlvs ?? Buffer.alloc(0);
  const len = 8 + 16 * o.segments.length + tlvs.length;
  if (len % 8) throw new Error('SRH length must be a multiple of 8');
  const h = Buffer.alloc(len);
  h[0] = o.nextHeader;
  h[1] = len / 8 - 1;
  h[2] = o.type ?? 4;
  h[3] = o.segmentsLeft;
  h[4] = o.lastEntry ?? o.segments.length - 1;
  h[5] = o.flags ?? 0;
  h.writeUInt16BE(o.tag ?? 0, 6);
  o.segments.forEach((s, i) => addr(s, 6).copy(h, 8 + 16 * i));
  tlvs.copy(h, 8 + 16 * o.segments.length);
  return Buffer.concat([h, payload]);
}

/** Hop-by-hop or destination options header with PadN filling 8 bytes. */
export function optionsHeader(nextHeader: number, payload: Buffer): Buffer {
  const h = Buffer.from([nextHeader, 0, 1, 4, 0, 0, 0, 0]); // PadN, 4 bytes of padding
  return Buffer.concat([h, payload]);
}

export function fragmentHeader(o: { nextHeader: number; offset: number; more: boolean; id: number }, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.nextHeader;
  h.writeUInt16BE(((o.offset & 0x1fff) << 3) | (o.more ? 1 : 0), 2);
  h.writeUInt32BE(o.id >>> 0, 4);
  return Buffer.concat([h, payload]);
}

// ---- L4 ----

function pseudo(family: 4 | 6, src: string, dst: string, proto: number, len: number): Buffer {
  if (family === 4) {
    const p = Buffer.alloc(12);
    addr(src, 4).copy(p, 0);
    addr(dst, 4).copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  addr(src, 6).copy(p, 0);
  addr(dst, 6).copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

export interface L4Addrs {
  src: string;
  dst: string;
}

function family(a: L4Addrs): 4 | 6 {
  return a.src.includes(':') ? 6 : 4;
}

export function udp(a: L4Addrs, sport: number, dport: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  const seg = Buffer.concat([h, data]);
  let c = checksum(pseudo(family(a), a.src, a.dst, IPPROTO.UDP, seg.length), seg);
  if (c === 0) c = 0xffff; // UDP: 0 means "no checksum"
  seg.writeUInt16BE(c, 6);
  return seg;
}

export function tcp(
  a: L4Addrs,
  o: { sport: number; dport: number; seq: number; ack?: number; flags: number; window?: number },
  data: Buffer = Buffer.alloc(0),
): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(o.seq >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = o.flags;
  h.writeUInt16BE(o.window ?? 65535, 14);
  const seg = Buffer.concat([h, data]);
  seg.writeUInt16BE(checksum(pseudo(family(a), a.src, a.dst, IPPROTO.TCP, seg.length), seg), 16);
  return seg;
}

export const TCP_FLAGS = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export interface EchoOptions {
  id: number;
  seq: number;
  data?: Buffer;
  reply?: boolean;
}

/** An echo request or reply of ICMP type `type`, its checksum still zero. */
function echo(type: number, o: EchoOptions): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt16BE(o.id, 4);
  h.writeUInt16BE(o.seq, 6);
  return Buffer.concat([h, o.data ?? Buffer.alloc(0)]);
}

export function icmp4Echo(o: EchoOptions): Buffer {
  const m = echo(o.reply ? 0 : 8, o);
  m.writeUInt16BE(checksum(m), 2);
  return m;
}

export function icmp6Echo(a: L4Addrs, o: EchoOptions): Buffer {
  const m = echo(o.reply ? 129 : 128, o);
  m.writeUInt16BE(checksum(pseudo(6, a.src, a.dst, IPPROTO.ICMPV6, m.length), m), 2);
  return m;
}

// ---- whole packets ----

/** An inner IPv4/UDP packet. */
export function udp4Packet(o: Omit<Ipv4Options, 'protocol'> & { sport?: number; dport?: number; data?: Buffer }): Buffer {
  return ipv4({ ...o, protocol: IPPROTO.UDP }, udp(o, o.sport ?? 40000, o.dport ?? 5000, o.data ?? Buffer.from('payload')));
}

/** An inner IPv6/UDP packet. */
export function udp6Packet(o: Omit<Ipv6Options, 'nextHeader'> & { sport?: number; dport?: number; data?: Buffer }): Buffer {
  return ipv6({ ...o, nextHeader: IPPROTO.UDP }, udp(o, o.sport ?? 40000, o.dport ?? 5000, o.data ?? Buffer.from('payload')));
}

export interface Srv6FrameOptions {
  ethDst: string;
  ethSrc: string;
  /** Outer source (the remote HV's encap source). */
  outerSrc: string;
  /** The SID: outer destination. */
  sid: string;
  /** Omitted: reduced encapsulation (no SRH). Given: an SRH holding these segments (SRH order). */
  srh?: { segments?: string[]; segmentsLeft?: number; flags?: number; tlvs?: Buffer };
  /** Inner packet (IPv4 or IPv6, by its version nibble). */
  inner: Buffer;
  hopLimit?: number;
  vlan?: number;
}

/** An H.Encaps frame as the remote HV sends it: Ethernet, outer IPv6, optional SRH, inner packet. */
export function srv6Frame(o: Srv6FrameOptions): Buffer {
  const innerProto = o.inner[0] >> 4 === 4 ? IPPROTO.IPIP : IPPROTO.IPV6;
  let l3: Buffer = o.inner;
  let nh: number = innerProto;
  if (o.srh) {
    l3 = srh(
      { nextHeader: innerProto, segments: o.srh.segments ?? [o.sid], segmentsLeft: o.srh.segmentsLeft ?? 0, flags: o.srh.flags, tlvs: o.srh.tlvs },
      o.inner,
    );
    nh = IPPROTO.ROUTING;
  }
  return ethernet(
    { dst: o.ethDst, src: o.ethSrc, type: ETH_P.IPV6, vlan: o.vlan },
    ipv6({ src: o.outerSrc, dst: o.sid, nextHeader: nh, hopLimit: o.hopLimit ?? 64 }, l3),
  );
}

/** A copy of an IP packet with TTL / hop limit lowered by one and the IPv4 checksum recomputed. */
export function forwarded(inner: Buffer): Buffer {
  const p = Buffer.from(inner);
  if (p[0] >> 4 === 4) {
    const ihl = (p[0] & 15) * 4;
    p[8] -= 1;
    p.writeUInt16BE(0, 10);
    p.writeUInt16BE(checksum(p.subarray(0, ihl)), 10);
  } else p[7] -= 1;
  return p;
}

// ---- reading ----

export interface FrameSummary {
  ethType: number;
  family?: 4 | 6;
  src?: string;
  dst?: string;
  protocol?: number;
  ttl?: number;
  sport?: number;
  dport?: number;
  /** ICMP/ICMPv6 type. */
  icmpType?: number;
  /** L4 payload (UDP data, TCP data, ICMP data after the 8-byte header). */
  data?: Buffer;
}

/** What an Ethernet frame carries (enough to filter and compare delivered packets). */
export function summarize(frame: Buffer): FrameSummary {
  const s: FrameSummary = { ethType: frame.length >= 14 ? frame.readUInt16BE(12) : 0 };
  let off = 14;
  let l4: Buffer | undefined;
  if (s.ethType === ETH_P.IPV4 && frame.length >= off + 20) {
    const ihl = (frame[off] & 15) * 4;
    s.family = 4;
    s.ttl = frame[off + 8];
    s.protocol = frame[off + 9];
    s.src = formatAddress(frame.subarray(off + 12, off + 16));
    s.dst = formatAddress(frame.subarray(off + 16, off + 20));
    l4 = frame.subarray(off + ihl, off + frame.readUInt16BE(off + 2));
  } else if (s.ethType === ETH_P.IPV6 && frame.length >= off + 40) {
    s.family = 6;
    s.ttl = frame[off + 7];
    s.protocol = frame[off + 6];
    s.src = formatAddress(frame.subarray(off + 8, off + 24));
    s.dst = formatAddress(frame.subarray(off + 24, off + 40));
    off += 40;
    l4 = frame.subarray(off, off + frame.readUInt16BE(14 + 4));
  }
  if (l4 && (s.protocol === IPPROTO.UDP || s.protocol === IPPROTO.TCP) && l4.length >= 8) {
    s.sport = l4.readUInt16BE(0);
    s.dport = l4.readUInt16BE(2);
    s.data = s.protocol === IPPROTO.UDP ? l4.subarray(8) : l4.subarray(Math.min(l4.length, (l4[12] >> 4) * 4));
  } else if (l4 && (s.protocol === IPPROTO.ICMP || s.protocol === IPPROTO.ICMPV6) && l4.length >= 8) {
    s.icmpType = l4[0];
    s.data = l4.subarray(8);
  }
  return s;
}
