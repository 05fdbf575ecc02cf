// Unit: the packet builder the XDP fixtures trust for their expected bytes. Checked against
// published examples and by verifying checksums the way a receiver does (sum including the
// checksum field = 0), never with the builder's own helpers alone.
import { checksum, ETH_P, ethernet, forwarded, IPPROTO, ipv4, ipv6, srh, srv6Frame, summarize, udp, udp4Packet, udp6Packet } from './packet-builder';

describe('checksum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 section 3', () => {
    // 00 01 f2 03 f4 f5 f6 f7: one's complement sum ddf2, checksum 220d.
    expect(checksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0x220d);
  });

  it('matches a real IPv4 header (the classic Wikipedia example, checksum b861)', () => {
    const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
    expect(checksum(h)).toBe(0xb861);
  });

  it('is the same whatever the split, odd lengths included', () => {
    const b = Buffer.from('0102030405060708090a0b', 'hex');
    expect(checksum(b.subarray(0, 3), b.subarray(3, 8), b.subarray(8))).toBe(checksum(b));
  });
});

describe('headers', () => {
  it('IPv4: the Wikipedia example header, byte for byte', () => {
    const p = ipv4({ src: '192.168.0.1', dst: '192.168.0.199', protocol: IPPROTO.UDP, ttl: 64, id: 0, df: true }, Buffer.alloc(0x73 - 20));
    expect(p.subarray(0, 20).toString('hex')).toBe('450000730000400040110000c0a80001c0a800c7'.replace('0000c0a8', 'b861c0a8'));
  });

  it('IPv6: version, traffic class, flow label, payload length, next header, hop limit', () => {
    const p = ipv6({ src: 'fc00::1', dst: 'fc00::2', nextHeader: IPPROTO.IPIP, hopLimit: 9, trafficClass: 0xab, flowLabel: 0x12345 }, Buffer.alloc(3));
    expect(p.subarray(0, 8).toString('hex')).toBe('6ab12345' + '0003' + '04' + '09');
    expect(p.length).toBe(43);
  });

  it('SRH: hdrlen in 8-byte units after the first 8, segments as given', () => {
    const h = srh({ nextHeader: IPPROTO.IPIP, segments: ['fc00::a', 'fc00::b'], segmentsLeft: 1 }, Buffer.alloc(0));
    expect(h.length).toBe(40);
    expect(h.subarray(0, 8).toString('hex')).toBe('04' + '04' + '04' + '01' + '01' + '00' + '0000');
    expect(h.subarray(8, 24).toString('hex')).toBe('fc00000000000000000000000000000a');
  });

  it('UDP over IPv4 and IPv6: the receiver-side check sums to zero', () => {
    const v4 = udp4Packet({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 5678, data: Buffer.from('hello') });
    const seg4 = v4.subarray(20);
    const ph4 = Buffer.from([10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, seg4.length]);
    expect(checksum(ph4, seg4)).toBe(0);
    expect(checksum(v4.subarray(0, 20))).toBe(0);

    const v6 = udp6Packet({ src: 'fd00::1', dst: 'fd00::2', data: Buffer.from('hello6') });
    const seg6 = v6.subarray(40);
    const ph6 = Buffer.concat([v6.subarray(8, 40), Buffer.from([0, 0, 0, seg6.length, 0, 0, 0, 17])]);
    expect(checksum(ph6, seg6)).toBe(0);
  });

  it('UDP never writes checksum 0 (it means "none")', () => {
    // Find a payload whose checksum comes out 0 before the substitution.
    for (let i = 0; i < 65536; i++) {
      const d = Buffer.alloc(2);
      d.writeUInt16BE(i);
      const u = udp({ src: '10.0.0.1', dst: '10.0.0.2' }, 1, 2, d);
      expect(u.readUInt16BE(6)).not.toBe(0);
    }
  });
});

describe('frames', () => {
  it('H.Encaps with and without SRH', () => {
    const inner = udp4Packet({ src: '10.0.0.1', dst: '10.0.0.2' });
    const red = srv6Frame({ ethDst: '02:00:00:00:00:01', ethSrc: '02:00:00:00:00:02', outerSrc: 'fc00::1', sid: 'fc00::a4', inner });
    expect(red.readUInt16BE(12)).toBe(ETH_P.IPV6);
    expect(red[14 + 6]).toBe(IPPROTO.IPIP);
    expect(red.subarray(54).equals(inner)).toBe(true);
    const full = srv6Frame({ ethDst: '02:00:00:00:00:01', ethSrc: '02:00:00:00:00:02', outerSrc: 'fc00::1', sid: 'fc00::a4', inner, srh: {} });
    expect(full[14 + 6]).toBe(IPPROTO.ROUTING);
    expect(full.readUInt16BE(14 + 4)).toBe(24 + inner.length);
    expect(full.subarray(54, 62).toString('hex')).toBe('04020400' + '0000' + '0000');
    expect(full.subarray(78).equals(inner)).toBe(true);
  });

  it('forwarded(): TTL - 1 with a valid checksum; hop limit - 1', () => {
    const p = forwarded(udp4Packet({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 64 }));
    expect(p[8]).toBe(63);
    expect(checksum(p.subarray(0, 20))).toBe(0);
    expect(forwarded(udp6Packet({ src: 'fd00::1', dst: 'fd00::2', hopLimit: 5 }))[7]).toBe(4);
  });

  it('802.1Q tag, and summarize() of what a VM receives', () => {
    const f = ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', type: ETH_P.IPV4, vlan: 42 }, Buffer.alloc(0));
    expect(f.subarray(12).toString('hex')).toBe('8100002a0800');
    const s = summarize(
      ethernet(
        { dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', type: ETH_P.IPV6 },
        udp6Packet({ src: 'fd00::1', dst: 'fd00::2', dport: 7001, data: Buffer.from('x') }),
      ),
    );
    expect(s).toMatchObject({ family: 6, src: 'fd00::1', dst: 'fd00::2', protocol: IPPROTO.UDP, dport: 7001, ttl: 64 });
    expect(s.data!.toString()).toBe('x');
  });
});
