// Unit: the user-space mirror of bpf/xdp/srv6_xdp.h (golden bytes written out by hand from the C
// structs). layout-btf.spec.ts checks the same layouts against the compiled object's BTF.
import { InvalidArgumentError } from '../netlink/errors';
import { addStats, decodeSidValue, emptyStats, encodeSidKey, encodeSidValue, REASON_CODE, REASON_MAX, REASONS, SID_STATS_SIZE } from './layout';

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
