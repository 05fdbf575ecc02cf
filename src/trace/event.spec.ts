// The event layout shared with BPF (bpf/trace/ipft.h), its decoding and text forms.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { decodeEvent, encodeEvent, EVENT_SIZE, EventDecodeError, formatExtension, FUNC_ID_MARKER, gsoFlags } from './event';
import { eventRecord, formatEventLine, jsonEvent } from './format';
import { FALLBACK_GSO_NAMES } from './targets';
import { ev } from '../testing/trace-events';

const HEADER = readFileSync(join(__dirname, '..', '..', 'bpf', 'trace', 'ipft.h'), 'utf8');

describe('event layout', () => {
  it('matches the offsets documented in bpf/trace/ipft.h', () => {
    // "  __u64 skb;             //  0 ..." → field name and offset
    const fields = [...HEADER.matchAll(/^\s+__[us](8|16|32|64) (\w+)(\[\d+\])?;\s+\/\/\s*(\d+)/gm)].map((m) => [m[2], Number(m[4])]);
    expect(Object.fromEntries(fields)).toEqual({
      skb: 0,
      tstamp: 8,
      retval: 16,
      func_id: 24,
      cpu: 28,
      len: 32,
      data_len: 36,
      mark: 40,
      ifindex: 44,
      netns: 48,
      gso_type: 52,
      gso_size: 56,
      gso_segs: 58,
      protocol: 60,
      inner_protocol: 62,
      is_return: 64,
      flags: 65,
      pad: 66,
    });
    expect(HEADER).toContain(`#define IPFT_EVENT_SIZE ${EVENT_SIZE}`);
    expect(HEADER).toContain(`#define IPFT_FUNC_ID_MARKER 0x${FUNC_ID_MARKER.toString(16)}ULL`);
    expect(HEADER).toContain(`#define IPFT_FUNC_ID_MARKER_ASM "0x${FUNC_ID_MARKER.toString(16)}"`);
  });

  it('decodes golden bytes (little endian, protocols big endian as in the skb)', () => {
    const b = Buffer.alloc(EVENT_SIZE);
    b.writeBigUInt64LE(0xffff888012345600n, 0);
    b.writeBigUInt64LE(123456789n, 8);
    b.writeBigInt64LE(-22n, 16);
    b.writeUInt32LE(7, 24);
    b.writeUInt32LE(1, 28);
    b.writeUInt32LE(65290, 32);
    b.writeUInt32LE(65000, 36);
    b.writeUInt32LE(0xdeadbeef, 40);
    b.writeUInt32LE(3, 44);
    b.writeUInt32LE(4026532317, 48);
    b.writeUInt32LE(0x201, 52);
    b.writeUInt16LE(1448, 56);
    b.writeUInt16LE(45, 58);
    b.writeUInt16BE(0x86dd, 60);
    b.writeUInt16BE(0x0800, 62);
    b[64] = 1;
    b[65] = 0x01;
    expect(decodeEvent(b)).toEqual({
      skb: 0xffff888012345600n,
      tstamp: 123456789n,
      retval: -22n,
      funcId: 7,
      cpu: 1,
      len: 65290,
      dataLen: 65000,
      mark: 0xdeadbeef,
      ifindex: 3,
      netns: 4026532317,
      gsoType: 0x201,
      gsoSize: 1448,
      gsoSegs: 45,
      protocol: 0x86dd,
      innerProtocol: 0x0800,
      isReturn: true,
      encapsulation: true,
      partial: false,
    });
  });

  it('round-trips through encodeEvent', () => {
    const e = ev({ partial: true, encapsulation: true, retval: 5n, protocol: 0x86dd, innerProtocol: 0x0800 });
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it('refuses short samples', () => {
    expect(() => decodeEvent(Buffer.alloc(EVENT_SIZE - 1))).toThrow(EventDecodeError);
  });
});

describe('text and JSON forms', () => {
  const names = new Map(FALLBACK_GSO_NAMES);
  names.set(30, 'tcp_fixedid');

  it('names gso_type bits with the kernel names, unknown bits by number', () => {
    expect(gsoFlags(0x201, names)).toEqual(['tcpv4', 'ipxip6']);
    expect(gsoFlags((1 << 30) | (1 << 25), names)).toEqual(['bit25', 'tcp_fixedid']);
    expect(gsoFlags(0, names)).toEqual([]);
  });

  it('prints an ipftrace-style line', () => {
    const line = formatEventLine(ev({ gsoType: 0x201, protocol: 0x86dd, innerProtocol: 0x0800, encapsulation: true, len: 5828 }), {
      labels: ['ip6_finish_output2'],
      gsoNames: names,
    });
    expect(line).toBe(
      '3347634373462 0000 ip6_finish_output2 (len: 5828 gso_size: 1388 gso_segs: 5 gso_type: tcpv4|ipxip6 protocol: 0x86dd inner_protocol: 0x0800 encapsulation: 1 ifindex: 3 netns: 4026531840)',
    );
  });

  it('prints only the valid fields of a partial (net_dev_xmit) event and the return value of exits', () => {
    expect(formatExtension(ev({ partial: true, len: 98, retval: 0n }), names)).toBe('len: 98 ifindex: 3 netns: 4026531840 rc: 0');
    expect(formatEventLine(ev({ isReturn: true, retval: -1n }), { labels: ['f'], gsoNames: names })).toMatch(/^\d+ 0000 f \(return\) \(.* ret: -1\)$/);
  });

  it('writes JSON lines with ipftrace2 field names and an exact 64-bit timestamp', () => {
    const e = ev({ tstamp: 18446744073709551615n });
    const line = jsonEvent(e, 4, { labels: ['ip_output'], modules: [undefined], gsoNames: names });
    expect(line).toContain('"timestamp":18446744073709551615,');
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({
      packet_id: '0xffff888012345600',
      packet: 4,
      processor_id: 0,
      module: 'vmlinux',
      function: 'ip_output',
      is_return: false,
      len: 5764,
      gso_type: ['tcpv4'],
      mark: '0xdeadbeef',
    });
    expect(eventRecord(e, 4, { labels: ['ip_output'], gsoNames: names }).timestamp).toBe('18446744073709551615');
  });
});
