// Per-packet grouping. The packet id of an event is its skb's address, and the slab allocator
// hands a freed address to the next skb: one address is one packet only between a free and the
// next reuse. A new packet starts for the same address
//   - after a free (kfree_skb, consume_skb, __kfree_skb, kfree_skbmem, …), at the first later event
//     that is not part of freeing it (skb_release_data, sock_wfree, … on the CPU that freed it,
//     in the same namespace);
//   - when it shows up again in a network namespace it had left (a packet moves forward through
//     namespaces: vm1 → hv1 → hv2 → vm2; the same address back in vm1 is the next packet — the
//     frees in between are often invisible in tracepoint mode, e.g. TCP's __kfree_skb);
//   - after a gap longer than `gapNs` without events for that address (frees nobody saw: in
//     tracepoint mode only skb:kfree_skb and skb:consume_skb show frees).
// PacketSplitter does this online, in arrival order (the JSON stream); groupPackets does it per
// address after sorting by timestamp (the aggregate output).
import type { TraceEvent } from './event';

/** Functions (and the skb:* tracepoints) after which the skb's memory is free. */
export const FREE_FUNCTIONS: ReadonlySet<string> = new Set([
  'kfree_skb',
  'kfree_skb_reason',
  'sk_skb_reason_drop',
  'consume_skb',
  '__kfree_skb',
  'kfree_skbmem',
  'napi_consume_skb',
  '__napi_kfree_skb',
  'kfree_skb_partial',
  '__consume_stateless_skb',
  'kfree_skb_list_reason',
  'dev_kfree_skb_any_reason',
  'dev_kfree_skb_irq_reason',
  'skb_attempt_defer_free',
  'napi_skb_free_stolen_head',
]);

/** Functions that run while an skb is being freed (after one of FREE_FUNCTIONS). */
export const FREE_PATH = /(free|release|destruct|wfree|rfree|efree|consume|drop|orphan|defer|zcopy|ext_put|frag_list)/;

export const DEFAULT_SPLIT_GAP_NS = 500_000_000n;

export interface SplitOptions {
  /** Function/tracepoint names by event funcId. */
  names: readonly string[];
  /** New packet after this long without events for an address; 0n: never split by time. */
  gapNs?: bigint;
}

interface AddrState {
  seq: number;
  last: bigint;
  freedOnCpu: number; // -1: not freed
  netns: number; // namespace of the latest event that had one (0: none yet)
  left: number[]; // namespaces the packet was in before `netns`
}

/** Assigns packet numbers (1, 2, …) to events of one address as they arrive. */
export class PacketSplitter {
  private next = 1;
  private readonly state = new Map<bigint, AddrState>();
  private readonly gap: bigint;
  private readonly free: boolean[];
  private readonly freePath: boolean[];

  constructor(opts: SplitOptions) {
    this.gap = opts.gapNs ?? DEFAULT_SPLIT_GAP_NS;
    this.free = opts.names.map((n) => FREE_FUNCTIONS.has(n));
    this.freePath = opts.names.map((n) => FREE_FUNCTIONS.has(n) || FREE_PATH.test(n));
  }

  /** The packet number of `e`; call in timestamp order per address. */
  packetOf(e: TraceEvent): number {
    let s = this.state.get(e.skb);
    const fresh =
      !s ||
      (this.gap > 0n && e.tstamp - s.last > this.gap) ||
      (s.freedOnCpu >= 0 && !(this.freePath[e.funcId] && e.cpu === s.freedOnCpu && (e.netns === 0 || e.netns === s.netns))) ||
      (e.netns !== 0 && e.netns !== s.netns && s.left.includes(e.netns));
    if (fresh) {
      s = { seq: this.next++, last: e.tstamp, freedOnCpu: -1, netns: 0, left: [] };
      this.state.set(e.skb, s);
    }
    const st = s!;
    st.last = e.tstamp > st.last ? e.tstamp : st.last;
    if (e.netns !== 0 && e.netns !== st.netns) {
      if (st.netns !== 0 && st.left.length < 16) st.left.push(st.netns);
      st.netns = e.netns;
    }
    if (this.free[e.funcId] && !e.isReturn) st.freedOnCpu = e.cpu;
    return st.seq;
  }

  /** Forgets addresses idle for longer than the gap (bounded memory in long streams). */
  prune(now: bigint): void {
    if (this.gap <= 0n) return;
    for (const [k, s] of this.state) if (now - s.last > this.gap) this.state.delete(k);
  }

  get tracked(): number {
    return this.state.size;
  }
}

export interface Packet {
  /** 1, 2, … in order of the packet's first event. */
  id: number;
  skb: bigint;
  events: TraceEvent[];
}

const byTime = (a: TraceEvent, b: TraceEvent) => (a.tstamp < b.tstamp ? -1 : a.tstamp > b.tstamp ? 1 : a.cpu - b.cpu);

/** Groups events per packet, each packet's events in timestamp order, packets by first event. */
export function groupPackets(events: readonly TraceEvent[], opts: SplitOptions): Packet[] {
  const byAddr = new Map<bigint, TraceEvent[]>();
  for (const e of events) {
    const l = byAddr.get(e.skb);
    if (l) l.push(e);
    else byAddr.set(e.skb, [e]);
  }
  const splitter = new PacketSplitter(opts);
  const packets = new Map<number, Packet>();
  for (const [skb, list] of byAddr) {
    list.sort(byTime);
    for (const e of list) {
      const seq = splitter.packetOf(e);
      const p = packets.get(seq);
      if (p) p.events.push(e);
      else packets.set(seq, { id: 0, skb, events: [e] });
    }
  }
  const out = [...packets.values()].sort((a, b) => byTime(a.events[0], b.events[0]));
  out.forEach((p, i) => (p.id = i + 1));
  return out;
}
