// The byte layouts of bpf/xdp/srv6_xdp.h, field by field, and their encoders/decoders. Pure: unit
// tested with golden bytes (layout.spec.ts); every struct, enum and map described here is checked
// against the compiled object's BTF (layout-btf.spec.ts: offsets, sizes, values), and at load
// XdpOffload refuses an object whose map sizes disagree.
import { InvalidArgumentError } from '../netlink/errors';
import { formatAddress, parseAddress } from '../netlink/ip';

/** Decapsulation behaviours the offload implements (RFC 8986 names, as the dataplane uses them). */
export const XDP_BEHAVIOURS = ['End.DT4', 'End.DT6', 'End.DT46', 'End.DX4', 'End.DX6'] as const;
export type XdpBehaviour = (typeof XDP_BEHAVIOURS)[number];

/** enum srv6_xdp_action, enumerator by enumerator (NONE: no behaviour, never in the map). */
export const ACTION_ENUM = {
  SRV6_XDP_ACT_NONE: 0,
  SRV6_XDP_ACT_DT4: 1,
  SRV6_XDP_ACT_DT6: 2,
  SRV6_XDP_ACT_DT46: 3,
  SRV6_XDP_ACT_DX4: 4,
  SRV6_XDP_ACT_DX6: 5,
} as const;

/** Each behaviour's value of enum srv6_xdp_action. */
export const ACTION_CODE: Record<XdpBehaviour, number> = {
  'End.DT4': ACTION_ENUM.SRV6_XDP_ACT_DT4,
  'End.DT6': ACTION_ENUM.SRV6_XDP_ACT_DT6,
  'End.DT46': ACTION_ENUM.SRV6_XDP_ACT_DT46,
  'End.DX4': ACTION_ENUM.SRV6_XDP_ACT_DX4,
  'End.DX6': ACTION_ENUM.SRV6_XDP_ACT_DX6,
};
const ACTION_NAME = new Map(Object.entries(ACTION_CODE).map(([k, v]) => [v, k as XdpBehaviour]));

/** srv6_sid.flags */
export const SID_FLAG_SHADOW = 1;
export const SID_FLAG_DX_MAIN = 2;

/** enum srv6_xdp_reason, in order: index = value. 'redirect' = handled by XDP. */
export const REASONS = [
  'redirect',
  'not_ipv6',
  'vlan',
  'truncated',
  'no_sid',
  'bad_outer',
  'segments_left',
  'srh',
  'fragment',
  'ext_header',
  'inner_proto',
  'bad_inner',
  'ttl',
  'no_neigh',
  'frag_needed',
  'no_route',
  'fib_lwt',
  'fwd_disabled',
  'egress',
  'shadow',
  'error',
] as const;
export type Reason = (typeof REASONS)[number];
export type PassReason = Exclude<Reason, 'redirect'>;
export const REASON_MAX = REASONS.length;
export const REASON_CODE = Object.fromEntries(REASONS.map((r, i) => [r, i])) as Record<Reason, number>;

/** enum srv6_xdp_reason, enumerator by enumerator: SRV6_XDP_REDIRECT, SRV6_XDP_PASS_<REASON>, ..., _MAX. */
export const REASON_ENUM: Readonly<Record<string, number>> = {
  ...Object.fromEntries(REASONS.map((r, i) => [r === 'redirect' ? 'SRV6_XDP_REDIRECT' : `SRV6_XDP_PASS_${r.toUpperCase()}`, i])),
  SRV6_XDP_REASON_MAX: REASON_MAX,
};

/** A C struct as user space reads and writes it: its size and each field's byte offset and size. */
export interface StructLayout {
  name: string;
  size: number;
  fields: Readonly<Record<string, { offset: number; size: number }>>;
}

const field = (offset: number, size: number) => ({ offset, size });

/** struct srv6_sid_key: the SID, network order. */
export const SID_KEY_LAYOUT = { name: 'srv6_sid_key', size: 16, fields: { addr: field(0, 16) } } as const satisfies StructLayout;

/** struct srv6_sid */
export const SID_LAYOUT = {
  name: 'srv6_sid',
  size: 40,
  fields: { action: field(0, 4), table: field(4, 4), oif: field(8, 4), flags: field(12, 4), stats_idx: field(16, 4), nh4: field(20, 4), nh6: field(24, 16) },
} as const satisfies StructLayout;

/** struct srv6_sid_stats: packets, bytes, pass[REASON_MAX] */
export const SID_STATS_LAYOUT = {
  name: 'srv6_sid_stats',
  size: 8 * (2 + REASON_MAX),
  fields: { packets: field(0, 8), bytes: field(8, 8), pass: field(16, 8 * REASON_MAX) },
} as const satisfies StructLayout;

/** struct srv6_egress: ifindex, flags */
export const EGRESS_LAYOUT = { name: 'srv6_egress', size: 8, fields: { ifindex: field(0, 4), flags: field(4, 4) } } as const satisfies StructLayout;

/** struct srv6_meta: identity[32], loaded_ns */
export const META_LAYOUT = { name: 'srv6_meta', size: 40, fields: { identity: field(0, 32), loaded_ns: field(32, 8) } } as const satisfies StructLayout;

export const STRUCT_LAYOUTS: readonly StructLayout[] = [SID_KEY_LAYOUT, SID_LAYOUT, SID_STATS_LAYOUT, EGRESS_LAYOUT, META_LAYOUT];

export const SID_KEY_SIZE = SID_KEY_LAYOUT.size;
export const SID_VALUE_SIZE = SID_LAYOUT.size;
export const SID_STATS_SIZE = SID_STATS_LAYOUT.size;
export const EGRESS_VALUE_SIZE = EGRESS_LAYOUT.size;
export const META_SIZE = META_LAYOUT.size;

// #defines leave nothing in BTF: MAX_SIDS, EGRESS_SLOTS (and REASON_MAX) are checked through the
// maps' max_entries; the flags above, MAX_EGRESS, EGRESS_BITS, _PROBES and _DELETED only by hand.
/** SRV6_XDP_MAX_SIDS / SRV6_XDP_MAX_EGRESS */
export const MAX_SIDS = 4096;
export const MAX_EGRESS = 1024;
/** SRV6_EGRESS_BITS / _SLOTS / _PROBES / _DELETED */
export const EGRESS_BITS = 12;
export const EGRESS_SLOTS = 1 << EGRESS_BITS;
export const EGRESS_PROBES = 8;
export const EGRESS_DELETED = 0xffffffff;

/** Map names in the object (also the file names of their pins). */
export const MAPS = {
  sids: 'srv6_sids',
  stats: 'srv6_sid_stats',
  reasons: 'srv6_reasons',
  egress: 'srv6_egress',
  meta: 'srv6_meta',
} as const;

/** What a map holds: key and value (a struct, or the byte size of an integer) and its entries. */
export interface MapLayout {
  key: StructLayout | number;
  value: StructLayout | number;
  maxEntries: number;
}

export const MAP_LAYOUTS: Readonly<Record<(typeof MAPS)[keyof typeof MAPS], MapLayout>> = {
  [MAPS.sids]: { key: SID_KEY_LAYOUT, value: SID_LAYOUT, maxEntries: MAX_SIDS },
  [MAPS.stats]: { key: 4, value: SID_STATS_LAYOUT, maxEntries: MAX_SIDS },
  [MAPS.reasons]: { key: 4, value: 8, maxEntries: REASON_MAX },
  [MAPS.egress]: { key: 4, value: EGRESS_LAYOUT, maxEntries: EGRESS_SLOTS },
  [MAPS.meta]: { key: 4, value: META_LAYOUT, maxEntries: 1 },
};

/** Byte size of a map's key or value. */
export function layoutSize(l: StructLayout | number): number {
  return typeof l === 'number' ? l : l.size;
}

/** What a SID's packets become; addresses as text, interfaces as ifindex. */
export interface SidValue {
  action: XdpBehaviour;
  /** End.DT*: the tenant's routing table. */
  table: number;
  /** End.DX*: the interface towards the VM; 0 = whatever the fib says. */
  oif: number;
  flags: number;
  statsIdx: number;
  /** End.DX4 next hop; '0.0.0.0' = the inner destination. */
  nh4: string;
  /** End.DX6 next hop; '::' = the inner destination. */
  nh6: string;
}

export function encodeSidKey(sid: string): Buffer {
  return Buffer.from(parseAddress(sid, 'sid', 6));
}

export function decodeSidKey(b: Buffer): string {
  return formatAddress(b);
}

function u32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(field, `must be a 32-bit unsigned integer, got ${v}`);
  return v;
}

const SID = SID_LAYOUT.fields;

export function encodeSidValue(v: SidValue): Buffer {
  const b = Buffer.alloc(SID_VALUE_SIZE);
  const code = ACTION_CODE[v.action];
  if (!code) throw new InvalidArgumentError('action', `unknown behaviour ${v.action}`);
  b.writeUInt32LE(code, SID.action.offset);
  b.writeUInt32LE(u32(v.table, 'table'), SID.table.offset);
  b.writeUInt32LE(u32(v.oif, 'oif'), SID.oif.offset);
  b.writeUInt32LE(u32(v.flags, 'flags'), SID.flags.offset);
  b.writeUInt32LE(u32(v.statsIdx, 'statsIdx'), SID.stats_idx.offset);
  parseAddress(v.nh4, 'nh4', 4).copy(b, SID.nh4.offset);
  parseAddress(v.nh6, 'nh6', 6).copy(b, SID.nh6.offset);
  return b;
}

export function decodeSidValue(b: Buffer): SidValue {
  if (b.length < SID_VALUE_SIZE) throw new InvalidArgumentError('value', `srv6_sid is ${SID_VALUE_SIZE} bytes, got ${b.length}`);
  const code = b.readUInt32LE(SID.action.offset);
  return {
    action: ACTION_NAME.get(code) ?? ('unknown' as XdpBehaviour),
    table: b.readUInt32LE(SID.table.offset),
    oif: b.readUInt32LE(SID.oif.offset),
    flags: b.readUInt32LE(SID.flags.offset),
    statsIdx: b.readUInt32LE(SID.stats_idx.offset),
    nh4: formatAddress(b.subarray(SID.nh4.offset, SID.nh4.offset + SID.nh4.size)),
    nh6: formatAddress(b.subarray(SID.nh6.offset, SID.nh6.offset + SID.nh6.size)),
  };
}

export interface SidStats {
  /** Packets decapsulated and redirected by XDP. */
  packets: number;
  /** Their outer IPv6 (L3) bytes, as the kernel's seg6local counters count. */
  bytes: number;
  /** Packets for this SID left to the kernel, by reason (only non-zero reasons). */
  passed: Partial<Record<PassReason, number>>;
}

export function emptyStats(): SidStats {
  return { packets: 0, bytes: 0, passed: {} };
}

/** Adds one CPU's struct srv6_sid_stats into `into`. */
export function addStats(into: SidStats, b: Buffer): SidStats {
  const f = SID_STATS_LAYOUT.fields;
  into.packets += Number(b.readBigUInt64LE(f.packets.offset));
  into.bytes += Number(b.readBigUInt64LE(f.bytes.offset));
  for (let i = 1; i < REASON_MAX; i++) {
    const n = Number(b.readBigUInt64LE(f.pass.offset + 8 * i));
    if (n) {
      const r = REASONS[i] as PassReason;
      into.passed[r] = (into.passed[r] ?? 0) + n;
    }
  }
  return into;
}

export function u32Key(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** srv6_egress_slot(): Fibonacci hashing of an ifindex to its first slot. */
export function egressSlot(ifindex: number): number {
  return Math.imul(ifindex >>> 0, 2654435761) >>> (32 - EGRESS_BITS);
}

export function encodeEgress(ifindex: number): Buffer {
  const b = Buffer.alloc(EGRESS_VALUE_SIZE);
  b.writeUInt32LE(ifindex >>> 0, EGRESS_LAYOUT.fields.ifindex.offset);
  return b;
}
