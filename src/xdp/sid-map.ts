// The SID map (srv6_sids) with its counter slots (srv6_sid_stats) and the egress allow-list its
// SIDs need: the offloaded SIDs validated, then written so that the maps hold exactly them.
import { BpfObject, MapUpdate } from '../bpf/libbpf';
import { InvalidArgumentError } from '../netlink/errors';
import { formatAddress, parseAddress } from '../netlink/ip';
import { EgressTable } from './egress-table';
import {
  decodeSidKey,
  decodeSidValue,
  encodeSidKey,
  encodeSidValue,
  MAPS,
  MAX_EGRESS,
  MAX_SIDS,
  SID_FLAG_DX_MAIN,
  SID_FLAG_SHADOW,
  SID_STATS_SIZE,
  SidValue,
  u32Key,
  XDP_BEHAVIOURS,
  XdpBehaviour,
} from './layout';

/** One offloaded SID, as the reconciler derives it from a tenant with `xdpOffload: true`. */
export interface XdpSidEntry {
  sid: string;
  action: XdpBehaviour;
  /** End.DT4/DT6/DT46: the tenant's routing table. */
  table?: number;
  /** End.DX4: next hop (default: the inner destination, as the kernel does). */
  nh4?: string;
  /** End.DX6: next hop (default: the inner destination). */
  nh6?: string;
  /** End.DX4/DX6: ifindex of the VM's interface; a fib result on another device is passed. Also allowed as egress. */
  oif?: number;
  /**
   * Interfaces (ifindex) packets may be redirected to: the tenant's interfaces. They must take
   * XDP frames (tap; veth whose peer has an XDP program or GRO enabled). A fib result on any
   * other device is left to the kernel.
   */
  egress?: number[];
  /** Count what would be redirected, pass everything (canary before enabling). */
  shadow?: boolean;
  /**
   * End.DX*: look the next hop up in table main directly instead of through the policy rules
   * and the local table as the kernel does (about 30 ns less per IPv6 packet). Only equivalent
   * when no rule above main matches packets from the underlay (the agent's own rules,
   * iif <tenant interface> and l3mdev, never do) and no local-table route covers the next hop
   * (the kernel drops what resolves to a local or anycast address): the caller's statement,
   * hence opt-in (ADR 0004).
   */
  dxMainTable?: boolean;
}

export interface XdpSyncResult {
  added: number;
  updated: number;
  deleted: number;
  unchanged: number;
  egressAdded: number;
  egressDeleted: number;
}

function validateEntries(entries: XdpSidEntry[]): Map<string, { entry: XdpSidEntry; value: Omit<SidValue, 'statsIdx'> }> {
  if (entries.length > MAX_SIDS) throw new InvalidArgumentError('entries', `at most ${MAX_SIDS} SIDs can be offloaded, got ${entries.length}`);
  const out = new Map<string, { entry: XdpSidEntry; value: Omit<SidValue, 'statsIdx'> }>();
  entries.forEach((e, i) => {
    const f = `entries[${i}]`;
    const sid = formatAddress(parseAddress(e.sid, `${f}.sid`, 6));
    if (out.has(sid)) throw new InvalidArgumentError(`${f}.sid`, `SID ${sid} appears twice`);
    if (!XDP_BEHAVIOURS.includes(e.action)) throw new InvalidArgumentError(`${f}.action`, `not an offloadable behaviour: ${e.action}`);
    const dt = e.action.startsWith('End.DT');
    if (dt && !(Number.isInteger(e.table) && e.table! >= 1 && e.table! <= 0xffffffff))
      throw new InvalidArgumentError(`${f}.table`, `${e.action} needs a routing table id 1..2^32-1`);
    if (e.nh4 !== undefined && e.action !== 'End.DX4') throw new InvalidArgumentError(`${f}.nh4`, 'only End.DX4 has an IPv4 next hop');
    if (e.nh6 !== undefined && e.action !== 'End.DX6') throw new InvalidArgumentError(`${f}.nh6`, 'only End.DX6 has an IPv6 next hop');
    if (e.dxMainTable && dt) throw new InvalidArgumentError(`${f}.dxMainTable`, 'only End.DX4/End.DX6 look a next hop up');
    for (const [k, v] of [['oif', e.oif], ...(e.egress ?? []).map((x, j) => [`egress[${j}]`, x] as const)] as const)
      if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x7fffffff))
        throw new InvalidArgumentError(`${f}.${k}`, `not an ifindex: ${v}`);
    out.set(sid, {
      entry: e,
      value: {
        action: e.action,
        table: dt ? e.table! : 0,
        oif: e.oif ?? 0,
        flags: (e.shadow ? SID_FLAG_SHADOW : 0) | (e.dxMainTable ? SID_FLAG_DX_MAIN : 0),
        nh4: formatAddress(parseAddress(e.nh4 ?? '0.0.0.0', `${f}.nh4`, 4)),
        nh6: formatAddress(parseAddress(e.nh6 ?? '::', `${f}.nh6`, 6)),
      },
    });
  });
  return out;
}

function sameValue(a: Omit<SidValue, 'statsIdx'>, b: Omit<SidValue, 'statsIdx'>): boolean {
  return a.action === b.action && a.table === b.table && a.oif === b.oif && a.flags === b.flags && a.nh4 === b.nh4 && a.nh6 === b.nh6;
}

export class SidMap {
  private egressTable?: EgressTable;

  constructor(private readonly obj: BpfObject) {}

  /**
   * Makes the SID map exactly `entries` (adds, updates in place, deletes) and the egress set the
   * union of their `egress`/`oif`. Order: egress added, SIDs added/updated, SIDs deleted, egress
   * deleted: a packet never meets a SID whose egress is not yet allowed.
   */
  sync(entries: XdpSidEntry[]): XdpSyncResult {
    const want = validateEntries(entries);
    const sids = this.obj.map(MAPS.sids);
    const stats = this.obj.map(MAPS.stats);
    const egress = this.egressAllowList();
    const res: XdpSyncResult = { added: 0, updated: 0, deleted: 0, unchanged: 0, egressAdded: 0, egressDeleted: 0 };

    const current = new Map<string, SidValue>();
    for (const [k, v] of sids.entries()) current.set(decodeSidKey(k), decodeSidValue(v));

    const wantEgress = new Set<number>();
    for (const { entry } of want.values()) {
      for (const i of entry.egress ?? []) if (i) wantEgress.add(i);
      if (entry.oif) wantEgress.add(entry.oif);
    }
    if (wantEgress.size > MAX_EGRESS) throw new InvalidArgumentError('entries', `at most ${MAX_EGRESS} egress interfaces, got ${wantEgress.size}`);
    const haveEgress = new Set(egress.list());
    for (const i of wantEgress) if (egress.add(i)) res.egressAdded++;

    // Counter slots: kept by surviving SIDs, the rest free (lowest first, deterministic).
    const used = new Set<number>();
    for (const [sid, v] of current) if (want.has(sid)) used.add(v.statsIdx);
    let next = 0;
    const allocate = (): number => {
      while (used.has(next)) next++;
      if (next >= MAX_SIDS) throw new InvalidArgumentError('entries', 'no free counter slot');
      used.add(next);
      return next;
    };

    for (const [sid, { value }] of want) {
      const cur = current.get(sid);
      if (cur && sameValue(cur, value) && cur.statsIdx < MAX_SIDS) {
        res.unchanged++;
        continue;
      }
      let statsIdx: number;
      if (cur && cur.statsIdx < MAX_SIDS) {
        statsIdx = cur.statsIdx;
        res.updated++;
      } else {
        statsIdx = allocate();
        // Zero the slot before the SID can count into it.
        stats.updatePerCpu(u32Key(statsIdx), Buffer.alloc(SID_STATS_SIZE));
        if (cur) res.updated++;
        else res.added++;
      }
      sids.update(encodeSidKey(sid), encodeSidValue({ ...value, statsIdx }), MapUpdate.Any);
    }
    for (const sid of current.keys())
      if (!want.has(sid)) {
        sids.delete(encodeSidKey(sid));
        res.deleted++;
      }
    for (const i of haveEgress) if (!wantEgress.has(i) && egress.delete(i)) res.egressDeleted++;
    return res;
  }

  /** The SIDs in the map now, decoded. */
  entries(): (SidValue & { sid: string })[] {
    return [...this.obj.map(MAPS.sids).entries()].map(([k, v]) => ({ sid: decodeSidKey(k), ...decodeSidValue(v) }));
  }

  /** Egress ifindexes currently allowed. */
  egress(): number[] {
    return this.egressAllowList().list();
  }

  // Read from the map once (this object is its only writer), then mirrored.
  private egressAllowList(): EgressTable {
    this.egressTable ??= EgressTable.fromMap(this.obj.map(MAPS.egress));
    return this.egressTable;
  }
}
