// The offload's counters, summed over CPUs: per SID (srv6_sid_stats, in the slot its srv6_sid
// names) and per verdict reason for every packet the program saw (srv6_reasons).
import { BpfObject } from '../bpf/libbpf';
import { addStats, emptyStats, MAPS, MAX_SIDS, Reason, REASONS, SidStats, SidValue, u32Key, XdpBehaviour } from './layout';

export interface XdpSidCounters extends SidStats {
  sid: string;
  action: XdpBehaviour;
}

/** Per-SID counters of the SIDs `sids` (as the SID map holds them), sorted by SID. */
export function sidCounters(obj: BpfObject, sids: (SidValue & { sid: string })[]): XdpSidCounters[] {
  const stats = obj.map(MAPS.stats);
  return sids
    .map((e) => {
      const s = emptyStats();
      if (e.statsIdx < MAX_SIDS) for (const cpu of stats.lookupPerCpu(u32Key(e.statsIdx)) ?? []) addStats(s, cpu);
      return { sid: e.sid, action: e.action, ...s };
    })
    .sort((a, b) => a.sid.localeCompare(b.sid));
}

/** Every packet the program saw, by verdict reason. */
export function reasonCounts(obj: BpfObject): Record<Reason, number> {
  const m = obj.map(MAPS.reasons);
  const out = {} as Record<Reason, number>;
  REASONS.forEach((r, i) => {
    out[r] = (m.lookupPerCpu(u32Key(i)) ?? []).reduce((a, b) => a + Number(b.readBigUInt64LE(0)), 0);
  });
  return out;
}
