// Unit: the egress allow-list's open-addressing table (the probing srv6_egress_slot() and the
// program's lookup in bpf/xdp/srv6_xdp.h expect).
import { InvalidArgumentError } from '../netlink/errors';
import { EgressTable } from './egress-table';
import { EGRESS_DELETED, EGRESS_PROBES, EGRESS_SLOTS, egressSlot } from './layout';

describe('egress table', () => {
  function table() {
    const slots = new Uint32Array(EGRESS_SLOTS);
    const writes: Array<[number, number]> = [];
    return { slots, writes, t: new EgressTable(slots, (k, v) => writes.push([k, v])) };
  }

  it('hashes like srv6_egress_slot() in the C header', () => {
    // (ifindex * 2654435761) mod 2^32 >> 20, computed by hand.
    expect(egressSlot(1)).toBe(2654435761 >>> 20);
    expect(egressSlot(20)).toBe(Number((20n * 2654435761n) % 2n ** 32n) >>> 20);
    expect(egressSlot(0x7fffffff)).toBe(Number((0x7fffffffn * 2654435761n) % 2n ** 32n) >>> 20);
  });

  it('adds, finds, lists and deletes with one write per change', () => {
    const { t, writes } = table();
    expect(t.add(20)).toBe(true);
    expect(t.add(20)).toBe(false);
    expect(t.add(30)).toBe(true);
    expect(t.list()).toEqual([20, 30]);
    expect(writes).toEqual([
      [egressSlot(20), 20],
      [egressSlot(30), 30],
    ]);
    expect(t.delete(20)).toBe(true);
    expect(t.delete(20)).toBe(false);
    expect(t.find(20)).toBe(-1);
    expect(t.list()).toEqual([30]);
  });

  it('chains collisions, keeps later entries reachable across a tombstone, and reuses it', () => {
    const { t, slots } = table();
    // Three ifindexes with the same first slot.
    const same: number[] = [];
    for (let i = 1; same.length < 3; i++) if (egressSlot(i) === egressSlot(1)) same.push(i);
    const [a, b, c] = same;
    const s0 = egressSlot(a);
    for (const x of same) t.add(x);
    expect([slots[s0], slots[(s0 + 1) % EGRESS_SLOTS], slots[(s0 + 2) % EGRESS_SLOTS]]).toEqual([a, b, c]);
    t.delete(b); // in the middle: a tombstone, c still found behind it
    expect(slots[(s0 + 1) % EGRESS_SLOTS]).toBe(EGRESS_DELETED);
    expect(t.find(c)).toBe((s0 + 2) % EGRESS_SLOTS);
    t.add(b); // goes back into the tombstone
    expect(slots[(s0 + 1) % EGRESS_SLOTS]).toBe(b);
    t.delete(c); // at the end of the chain: emptied, and the chain shrinks
    expect(slots[(s0 + 2) % EGRESS_SLOTS]).toBe(0);
  });

  it('empties tombstones backwards once the chain behind them ends', () => {
    const { t, slots } = table();
    const same: number[] = [];
    for (let i = 1; same.length < 3; i++) if (egressSlot(i) === egressSlot(5)) same.push(i);
    for (const x of same) t.add(x);
    const s0 = egressSlot(same[0]);
    t.delete(same[1]);
    t.delete(same[2]);
    expect([slots[(s0 + 1) % EGRESS_SLOTS], slots[(s0 + 2) % EGRESS_SLOTS]]).toEqual([0, 0]);
    expect(t.list()).toEqual([same[0]]);
  });

  it('refuses a chain longer than the program probes, and non-ifindexes', () => {
    const { t } = table();
    const same: number[] = [];
    for (let i = 1; same.length < EGRESS_PROBES + 1; i++) if (egressSlot(i) === egressSlot(7)) same.push(i);
    for (const x of same.slice(0, EGRESS_PROBES)) t.add(x);
    expect(() => t.add(same[EGRESS_PROBES])).toThrow(/no free slot/);
    expect(() => t.add(0)).toThrow(InvalidArgumentError);
    expect(() => t.add(EGRESS_DELETED)).toThrow(InvalidArgumentError);
  });

  it('holds 1024 consecutive ifindexes (the maximum) without a full chain', () => {
    const { t } = table();
    for (let i = 1; i <= 1024; i++) t.add(100_000 + i);
    expect(t.list()).toHaveLength(1024);
  });
});
