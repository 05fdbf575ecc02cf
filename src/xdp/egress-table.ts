// The egress allow-list (srv6_egress): the interfaces an offloaded SID may redirect to, kept in
// the open-addressing table the program probes (srv6_egress_slot() in bpf/xdp/srv6_xdp.h).
import type { BpfMap } from '../bpf/libbpf';
import { InvalidArgumentError } from '../netlink/errors';
import { EGRESS_DELETED, EGRESS_PROBES, EGRESS_SLOTS, egressSlot, encodeEgress, u32Key } from './layout';

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

  /** The table in `map` (srv6_egress), read once: its writer keeps the mirror from then on. */
  static fromMap(map: BpfMap): EgressTable {
    const slots = new Uint32Array(EGRESS_SLOTS);
    for (let k = 0; k < EGRESS_SLOTS; k++) slots[k] = map.lookup(u32Key(k))?.readUInt32LE(0) ?? 0;
    return new EgressTable(slots, (k, v) => map.update(u32Key(k), encodeEgress(v)));
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
