// Unit: the user-space mirror of bpf/xdp/srv6_xdp.h (golden bytes written out by hand from the C
// structs), and the egress allow-list's open-addressing table.
import { InvalidArgumentError } from '../netlink/errors';
import {
  addStats,
  decodeSidValue,
  EGRESS_DELETED,
  EGRESS_PROBES,
  EGRESS_SLOTS,
  egressSlot,
  EgressTable,
  emptyStats,
  encodeSidKey,
  encodeSidValue,
  REASON_CODE,
  REASON_MAX,
  REASONS,
  SID_STATS_SIZE,
} from './layout';

describe('struct srv6_sid', () => {
  it('encodes field by field, little-endian integers, network-order addresses', () => {
    const b = encodeSidValue({ action: 'End.DX4', table: 0, oif: 0x1234, flags: 3, statsIdx: 7, nh4: '10.1.0.5', nh6: '::' });
    expect(b.toString('hex')).toBe(
      [
        '04000000', // action End.DX4 = 4
        '00000000', // table
        '34120000', // oif
        '03000000', // flags
        '07000000', // stats_idx
        '0a010005', // nh4
        '00000000000000000000000000000000', // nh6
      ].join(''),
    );
    expect(decodeSidValue(b)).toEqual({ action: 'End.DX4', table: 0, oif: 0x1234, flags: 3, statsIdx: 7, nh4: '10.1.0.5', nh6: '::' });
  });

  it('End.DT46 with a 32-bit table id', () => {
    const b = encodeSidValue({ action: 'End.DT46', table: 0xfffffffe, oif: 0, flags: 0, statsIdx: 0, nh4: '0.0.0.0', nh6: 'fd00::1' });
    expect(b.subarray(0, 8).toString('hex')).toBe('03000000feffffff');
    expect(b.subarray(24).toString('hex')).toBe('fd000000000000000000000000000001');
  });

  it('refuses what does not fit', () => {
    const v = { action: 'End.DT4' as const, table: 1, oif: 0, flags: 0, statsIdx: 0, nh4: '0.0.0.0', nh6: '::' };
    expect(() => encodeSidValue({ ...v, table: -1 })).toThrow(InvalidArgumentError);
    expect(() => encodeSidValue({ ...v, table: 2 ** 32 })).toThrow(InvalidArgumentError);
    expect(() => encodeSidValue({ ...v, nh4: 'fd00::1' })).toThrow(InvalidArgumentError);
    expect(() => encodeSidKey('10.0.0.1')).toThrow(InvalidArgumentError);
  });

  it('keys are the 16 address bytes, and a copy', () => {
    const k = encodeSidKey('fc00:0:2::a4');
    expect(k.toString('hex')).toBe('fc00' + '0000' + '0002' + '0000' + '0000' + '0000' + '0000' + '00a4');
    k[0] = 0;
    expect(encodeSidKey('fc00:0:2::a4')[0]).toBe(0xfc);
  });
});

describe('struct srv6_sid_stats', () => {
  it('has packets, bytes and one counter per reason; redirect (0) has no pass slot in use', () => {
    expect(SID_STATS_SIZE).toBe(8 * (2 + REASON_MAX));
    expect(REASONS[0]).toBe('redirect');
    expect(REASON_CODE.ttl).toBe(12);
    expect(REASON_CODE.error).toBe(REASON_MAX - 1);
  });

  it('sums CPUs and reports only the reasons that moved', () => {
    const cpu = (packets: number, bytes: number, ttl: number) => {
      const b = Buffer.alloc(SID_STATS_SIZE);
      b.writeBigUInt64LE(BigInt(packets), 0);
      b.writeBigUInt64LE(BigInt(bytes), 8);
      b.writeBigUInt64LE(BigInt(ttl), 16 + 8 * REASON_CODE.ttl);
      return b;
    };
    const s = addStats(addStats(emptyStats(), cpu(2, 200, 1)), cpu(3, 300, 0));
    expect(s).toEqual({ packets: 5, bytes: 500, passed: { ttl: 1 } });
  });
});

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
