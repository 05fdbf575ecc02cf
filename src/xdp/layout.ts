// The byte layouts of bpf/xdp/srv6_xdp.h, field by field, and their encoders/decoders. Pure: unit
// tested with golden bytes (layout.spec.ts); the kernel tier checks the sizes against the
// object's own map definitions (XdpOffload refuses an object whose maps disagree).
import { InvalidArgumentError } from '../netlink/errors';
import { formatAddress, parseAddress } from '../netlink/ip';

/** Decapsulation behaviours the offload implements (RFC 8986 names, as the dataplane uses them). */
export const XDP_BEHAVIOURS = ['End.DT4', 'End.DT6', 'End.DT46', 'End.DX4', 'End.DX6'] as const;
export type XdpBehaviour = (typeof XDP_BEHAVIOURS)[number];

/** enum srv6_xdp_action */
export const ACTION_CODE: Record<XdpBehaviour, number> = {
  'End.DT4': 1,
  'End.DT6': 2,
  'End.DT46': 3,
  'End.DX4': 4,
  'End.DX6': 5,
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

export const SID_KEY_SIZE = 16;
/** struct srv6_sid */
export const SID_VALUE_SIZE = 40;
/** struct srv6_sid_stats: packets, bytes, pass[REASON_MAX] */
export const SID_STATS_SIZE = 8 * (2 + REASON_MAX);
/** struct srv6_egress: ifindex, flags */
export const EGRESS_VALUE_SIZE = 8;
/** struct srv6_meta: identity[32], loaded_ns */
export const META_SIZE = 40;
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

export function encodeSidValue(v: SidValue): Buffer {
  const b = Buffer.alloc(SID_VALUE_SIZE);
  const code = ACTION_CODE[v.action];
  if (!code) throw new InvalidArgumentError('action', `unknown behaviour ${v.action}`);
  b.writeUInt32LE(code, 0);
  b.writeUInt32LE(u32(v.table, 'table'), 4);
  b.writeUInt32LE(u32(v.oif, 'oif'), 8);
  b.writeUInt32LE(u32(v.flags, 'flags'), 12);
  b.writeUInt32LE(u32(v.statsIdx, 'statsIdx'), 16);
  parseAddress(v.nh4, 'nh4', 4).copy(b, 20);
  parseAddress(v.nh6, 'nh6', 6).copy(b, 24);
  return b;
}

export function decodeSidValue(b: Buffer): SidValue {
  if (b.length < SID_VALUE_SIZE) throw new InvalidArgumentError('value', `srv6_sid is ${SID_VALUE_SIZE} bytes, got ${b.length}`);
  const code = b.readUInt32LE(0);
  return {
    action: ACTION_NAME.get(code) ?? ('unknown' as XdpBehaviour),
    table: b.readUInt32LE(4),
    oif: b.readUInt32LE(8),
    flags: b.readUInt32LE(12),
    statsIdx: b.readUInt32LE(16),
    nh4: formatAddress(b.subarray(20, 24)),
    nh6: formatAddress(b.subarray(24, 40)),
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
  into.packets += Number(b.readBigUInt64LE(0));
  into.bytes += Number(b.readBigUInt64LE(8));
  for (let i = 1; i < REASON_MAX; i++) {
    const n = Number(b.readBigUInt64LE(16 + 8 * i));
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

/**
 * The egress allow-list as the program reads it (struct srv6_egress): an open-addressing table
 * whose writes keep every concurrent lookup right. An entry is never moved; a new one goes into
 * the first empty or deleted slot of its chain; a deleted one becomes a tombstone, and
 * tombstones followed by an empty slot become empty again (no chain can go on past them).
 * `slots` mirrors the map; `write` puts one slot into it.
 */
export class EgressTable {
  constructor(
    private readonly slots: Uint32Array,
    private readonly write: (slot: number, ifindex: number) => void,
  ) {
    if (slots.length !== EGRESS_SLOTS) throw new InvalidArgumentError('slots', `expected ${EGRESS_SLOTS} slots`);
  }

  /** The slot holding `ifindex`, or -1. */
  find(ifindex: number): number {
    const start = egressSlot(ifindex);
    for (let i = 0; i < EGRESS_PROBES; i++) {
      const k = (start + i) & (EGRESS_SLOTS - 1);
      if (this.slots[k] === 0) return -1;
      if (this.slots[k] === ifindex) return k;
    }
    return -1;
  }

  /** Adds `ifindex`; false if it was there. Throws when its chain has no free slot. */
  add(ifindex: number): boolean {
    if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex >= EGRESS_DELETED) throw new InvalidArgumentError('egress', `not an ifindex: ${ifindex}`);
    if (this.find(ifindex) >= 0) return false;
    const start = egressSlot(ifindex);
    for (let i = 0; i < EGRESS_PROBES; i++) {
      const k = (start + i) & (EGRESS_SLOTS - 1);
      if (this.slots[k] === 0 || this.slots[k] === EGRESS_DELETED) {
        this.set(k, ifindex);
        return true;
      }
    }
    throw new InvalidArgumentError('egress', `no free slot for ifindex ${ifindex} within ${EGRESS_PROBES} probes`);
  }

  /** Removes `ifindex`; false if it was not there. */
  delete(ifindex: number): boolean {
    let k = this.find(ifindex);
    if (k < 0) return false;
    this.set(k, EGRESS_DELETED);
    // Tombstones right before an empty slot end no chain that goes on: empty them, backwards.
    while (this.slots[k] === EGRESS_DELETED && this.slots[(k + 1) & (EGRESS_SLOTS - 1)] === 0) {
      this.set(k, 0);
      k = (k - 1) & (EGRESS_SLOTS - 1);
    }
    return true;
  }

  /** The ifindexes in the table, ascending. */
  list(): number[] {
    return [...this.slots].filter((v) => v !== 0 && v !== EGRESS_DELETED).sort((a, b) => a - b);
  }

  private set(k: number, v: number): void {
    this.write(k, v);
    this.slots[k] = v;
  }
}

export function encodeEgress(ifindex: number): Buffer {
  const b = Buffer.alloc(EGRESS_VALUE_SIZE);
  b.writeUInt32LE(ifindex >>> 0, 0);
  return b;
}
