// Two hypervisors and four tenant VMs in network namespaces, for the XDP offload's equivalence
// tests (xdp-equivalence.kernel.ts). HV1 encapsulates (H.Encaps, kernel), HV2 decapsulates with
// the kernel's seg6local routes, or with the XDP offload on its underlay u2 in front of them.
//
//   VM A1 eth0 ══ vA ┐                                        ┌ vA ══ eth0 VM A2   [vm_nic XDP]
//   VM B1 eth0 ══ vB ┴ HV1 ─ u1 ════ underlay veth ════ u2 ─ HV2 ┴ vB ══ eth0 VM B2   [vm_nic XDP]
//                                              [XDP offload, native]
//
// |             | HV1 (tables, kernel decap)        | HV2 'table' mode (host)          | HV2 'vrf' mode (lab)        |
// |-------------|-----------------------------------|----------------------------------|-----------------------------|
// | underlay    | u1 fc00:12::1/64                  | u2 fc00:12::2/64                 | same                        |
// | tenant A    | table 100, rule iif vA            | table 100, rule iif vA           | vrf-a (table 100) over vA   |
// | tenant B    | table 200, rule iif vB            | table 200, rule iif vB           | vrf-b (table 200) over vB   |
// | A v4 SID    | fc00:0:1::a4 End.DX4 nh4 10.0.1.1 | fc00:0:2::a4 End.DX4 nh4 10.0.2.1 | fc00:0:2::a4 End.DT4 vrftable 100 |
// | A v6 SID    | fc00:0:1::a6 End.DT6 table 100    | fc00:0:2::a6 End.DT6 table 100   | fc00:0:2::a6 End.DT6 vrftable 100 |
// | B v4 SID    | fc00:0:1::b4 End.DX4 nh4 100.64.1.1 | fc00:0:2::b4 End.DX4 nh4 100.64.2.1 | fc00:0:2::b46 End.DT46 vrftable 200 |
// | B v6 SID    | fc00:0:1::b6 End.DT6 table 200    | fc00:0:2::b6 End.DT6 table 200   | fc00:0:2::b46 (same)        |
//
// Both tenants use the SAME addresses: VMs on HV1 are 10.0.1.1 / fd00:1::1, on HV2 10.0.2.1 /
// fd00:2::1, gateways .254 / ::ff on the HV side. A is encapsulated with an SRH (encap), B without
// (encap.red). B's End.DX4 next hop cannot be its VM's address (A's host route holds it in main):
// it is 100.64.x.1, routed via the VM (`via 10.0.x.1 dev vB onlink`), the way a DX4 next hop of an
// overlapping tenant has to be.
import { execFileSync } from 'node:child_process';

import { TestNetns } from '../../testing/netns';
import type { XdpSidEntry } from '../xdp-offload';

export type Hv2Mode = 'table' | 'vrf';
export type Tenant = 'A' | 'B';

export const MTU = { underlay: 1500, tenant: 1400 } as const;

export const MACS = {
  hv1: { u: '02:00:00:00:01:01', A: '02:00:00:00:01:0a', B: '02:00:00:00:01:0b' },
  hv2: { u: '02:00:00:00:02:01', A: '02:00:00:00:02:0a', B: '02:00:00:00:02:0b' },
  vm: { A1: '02:aa:00:00:01:01', A2: '02:aa:00:00:02:01', B1: '02:bb:00:00:01:01', B2: '02:bb:00:00:02:01' },
} as const;

/** VM addresses: identical for both tenants. */
export const ADDR = {
  vm1: { v4: '10.0.1.1', v6: 'fd00:1::1' },
  vm2: { v4: '10.0.2.1', v6: 'fd00:2::1' },
} as const;

export const TABLE: Record<Tenant, number> = { A: 100, B: 200 };

interface Sids {
  v4: string;
  v6: string;
}

function batch(ns: TestNetns, lines: string[], family?: '-6'): void {
  execFileSync('ip', [...(family ? [family] : []), '-n', ns.name, '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'pipe', 'pipe'] });
}

function sysctl(ns: TestNetns, kv: string[]): void {
  ns.exec('sysctl', ['-q', '-w', ...kv]);
}

export class TwoHv {
  readonly hv1: TestNetns;
  readonly hv2: TestNetns;
  readonly vm: Record<'A1' | 'A2' | 'B1' | 'B2', TestNetns>;
  /** SIDs on HV2 that HV1's encap routes target, per tenant. */
  readonly hv2Sids: Record<Tenant, Sids>;
  readonly ifindex: { hv1: Record<Tenant, number>; hv2: Record<Tenant | 'u', number> } = { hv1: { A: 0, B: 0 }, hv2: { u: 0, A: 0, B: 0 } };

  private constructor(readonly mode: Hv2Mode) {
    const t = `xeq${mode === 'vrf' ? 'v' : ''}`;
    this.hv1 = TestNetns.create(`${t}-hv1`);
    this.hv2 = TestNetns.create(`${t}-hv2`);
    this.vm = {
      A1: TestNetns.create(`${t}-a1`),
      A2: TestNetns.create(`${t}-a2`),
      B1: TestNetns.create(`${t}-b1`),
      B2: TestNetns.create(`${t}-b2`),
    };
    this.hv2Sids =
      mode === 'vrf'
        ? { A: { v4: 'fc00:0:2::a4', v6: 'fc00:0:2::a6' }, B: { v4: 'fc00:0:2::b46', v6: 'fc00:0:2::b46' } }
        : { A: { v4: 'fc00:0:2::a4', v6: 'fc00:0:2::a6' }, B: { v4: 'fc00:0:2::b4', v6: 'fc00:0:2::b6' } };
  }

  static create(mode: Hv2Mode): TwoHv {
    const topo = new TwoHv(mode);
    topo.build();
    return topo;
  }

  private build(): void {
    const { hv1, hv2, vm } = this;
    // No reverse-path filter (tenant prefixes overlap; DX4's source check would run on the
    // underlay), no DAD delays, no automatic flow labels (the VMs' packets are the same bytes in
    // every run).
    for (const ns of [hv1, hv2, ...Object.values(vm)])
      sysctl(ns, ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.auto_flowlabels=0']);
    // Underlay.
    batch(hv1, [
      `link add name u1 address ${MACS.hv1.u} mtu ${MTU.underlay} type veth peer name u2 address ${MACS.hv2.u} mtu ${MTU.underlay} netns ${hv2.name}`,
      'link set dev u1 up',
      'addr add fc00:12::1/64 dev u1 nodad',
      'route add fc00:0:2::/48 via fc00:12::2 dev u1',
      'sr tunsrc set fc00:12::1',
    ]);
    batch(hv2, ['link set dev u2 up', 'addr add fc00:12::2/64 dev u2 nodad', 'route add fc00:0:1::/48 via fc00:12::1 dev u2', 'sr tunsrc set fc00:12::2']);
    // The underlay veth stands for a wire: complete every checksum at transmit, as a NIC does.
    // Left on, skbs cross the veth with CHECKSUM_PARTIAL (the L4 checksum field holds only the
    // pseudo-header sum and the skb says so); an XDP frame has no such metadata, so a redirected
    // frame would reach the VM with an unfinished checksum, which a real underlay never carries.
    hv1.exec('ethtool', ['-K', 'u1', 'tx', 'off']);
    hv2.exec('ethtool', ['-K', 'u2', 'tx', 'off']);

    // Tenant links: HV side vA/vB, VM side eth0.
    const link = (hv: TestNetns, macs: { A: string; B: string }, t: Tenant, v: TestNetns, vmMac: string) =>
      batch(hv, [`link add name v${t} address ${macs[t]} mtu ${MTU.tenant} type veth peer name eth0 address ${vmMac} mtu ${MTU.tenant} netns ${v.name}`, `link set dev v${t} up`]);
    link(hv1, MACS.hv1, 'A', vm.A1, MACS.vm.A1);
    link(hv1, MACS.hv1, 'B', vm.B1, MACS.vm.B1);
    link(hv2, MACS.hv2, 'A', vm.A2, MACS.vm.A2);
    link(hv2, MACS.hv2, 'B', vm.B2, MACS.vm.B2);
    for (const [name, side] of [['A1', 1], ['B1', 1], ['A2', 2], ['B2', 2]] as const) {
      const v = vm[name];
      const a = side === 1 ? ADDR.vm1 : ADDR.vm2;
      batch(v, ['link set dev eth0 up', `addr add ${a.v4}/24 dev eth0`, `addr add ${a.v6}/64 dev eth0 nodad`, `route add default via 10.0.${side}.254`]);
      batch(v, [`route add default via fd00:${side}::ff`], '-6');
    }

    for (const hv of [hv1, hv2]) {
      sysctl(hv, ['net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.all.seg6_enabled=1']);
      sysctl(hv, [`net.ipv6.conf.${hv === hv1 ? 'u1' : 'u2'}.seg6_enabled=1`]);
    }
    this.tenantSide(hv1, 1, 'table');
    this.tenantSide(hv2, 2, this.mode);

    // Encapsulation towards the other HV (A with an SRH, B reduced) and decapsulation.
    const encap = (hv: TestNetns, side: 1 | 2, sids: Record<Tenant, Sids>) => {
      const other = side === 1 ? 2 : 1;
      const dev = side === 1 ? 'u1' : 'u2';
      const lines: string[] = [];
      for (const t of ['A', 'B'] as const) {
        const mode = t === 'A' ? 'encap' : 'encap.red';
        // After H.Encaps the outer packet is routed (ip6_route_input) as coming in on the tenant
        // interface: through the tenant's rule/VRF, so its table needs the remote locator.
        lines.push(`route add fc00:0:${other}::/48 via fc00:12::${other} dev ${dev} table ${TABLE[t]}`);
        lines.push(`route add 10.0.${other}.0/24 encap seg6 mode ${mode} segs ${sids[t].v4} dev ${dev} table ${TABLE[t]}`);
        lines.push(`route add fd00:${other}::/64 encap seg6 mode ${mode} segs ${sids[t].v6} dev ${dev} table ${TABLE[t]}`);
      }
      batch(hv, lines);
    };
    encap(hv1, 1, this.hv2Sids);
    encap(hv2, 2, { A: { v4: 'fc00:0:1::a4', v6: 'fc00:0:1::a6' }, B: { v4: 'fc00:0:1::b4', v6: 'fc00:0:1::b6' } });

    batch(hv1, [
      'route add 10.0.1.1/32 dev vA scope link',
      'route add 100.64.1.1/32 via 10.0.1.1 dev vB onlink',
      'route add fc00:0:1::a4/128 encap seg6local action End.DX4 nh4 10.0.1.1 count dev u1',
      'route add fc00:0:1::b4/128 encap seg6local action End.DX4 nh4 100.64.1.1 count dev u1',
      'route add fc00:0:1::a6/128 encap seg6local action End.DT6 table 100 count dev u1',
      'route add fc00:0:1::b6/128 encap seg6local action End.DT6 table 200 count dev u1',
    ]);
    if (this.mode === 'table')
      batch(hv2, [
        'route add 10.0.2.1/32 dev vA scope link',
        'route add 100.64.2.1/32 via 10.0.2.1 dev vB onlink',
        'route add fc00:0:2::a4/128 encap seg6local action End.DX4 nh4 10.0.2.1 count dev u2',
        'route add fc00:0:2::b4/128 encap seg6local action End.DX4 nh4 100.64.2.1 count dev u2',
        'route add fc00:0:2::a6/128 encap seg6local action End.DT6 table 100 count dev u2',
        'route add fc00:0:2::b6/128 encap seg6local action End.DT6 table 200 count dev u2',
      ]);
    else
      batch(hv2, [
        'route add fc00:0:2::a4/128 encap seg6local action End.DT4 vrftable 100 count dev vrf-a',
        'route add fc00:0:2::a6/128 encap seg6local action End.DT6 vrftable 100 count dev vrf-a',
        'route add fc00:0:2::b46/128 encap seg6local action End.DT46 vrftable 200 count dev vrf-b',
      ]);

    const idx = (ns: TestNetns, dev: string) => ns.ipJson<Array<{ ifindex: number }>>(['link', 'show', 'dev', dev])[0].ifindex;
    this.ifindex.hv1 = { A: idx(hv1, 'vA'), B: idx(hv1, 'vB') };
    this.ifindex.hv2 = { u: idx(hv2, 'u2'), A: idx(hv2, 'vA'), B: idx(hv2, 'vB') };
  }

  // Gateways, per-tenant tables (connected routes), and how packets from a VM find their table.
  private tenantSide(hv: TestNetns, side: 1 | 2, mode: Hv2Mode): void {
    const lines: string[] = [];
    const lines6: string[] = [];
    for (const t of ['A', 'B'] as const) {
      const dev = `v${t}`;
      if (mode === 'vrf') {
        const vrf = `vrf-${t.toLowerCase()}`;
        lines.push(`link add name ${vrf} type vrf table ${TABLE[t]}`, `link set dev ${vrf} up`, `link set dev ${dev} master ${vrf}`);
        lines.push(`addr add 10.0.${side}.254/24 dev ${dev}`, `addr add fd00:${side}::ff/64 dev ${dev} nodad`);
      } else {
        lines.push(`addr add 10.0.${side}.254/24 dev ${dev} noprefixroute`, `addr add fd00:${side}::ff/64 dev ${dev} noprefixroute nodad`);
        lines.push(`route add 10.0.${side}.0/24 dev ${dev} table ${TABLE[t]}`, `route add fd00:${side}::/64 dev ${dev} table ${TABLE[t]}`);
        lines.push(`rule add iif ${dev} lookup ${TABLE[t]} pref 1000`);
        lines6.push(`rule add iif ${dev} lookup ${TABLE[t]} pref 1000`);
      }
      // Fail closed, as the dataplane does.
      lines.push(`route replace unreachable default table ${TABLE[t]} metric 4278198272`, `route replace unreachable ::/0 table ${TABLE[t]} metric 4278198272`);
    }
    if (mode === 'vrf') sysctl(hv, ['net.vrf.strict_mode=1']);
    batch(hv, lines);
    if (lines6.length) batch(hv, lines6, '-6');
  }

  destroy(): void {
    for (const ns of [this.hv1, this.hv2, ...Object.values(this.vm)]) ns.destroy();
  }

  /** The offload's SID map on HV2, equivalent to HV2's seg6local routes. */
  xdpEntries(): XdpSidEntry[] {
    const i = this.ifindex.hv2;
    if (this.mode === 'vrf')
      return [
        { sid: 'fc00:0:2::a4', action: 'End.DT4', table: TABLE.A, egress: [i.A] },
        { sid: 'fc00:0:2::a6', action: 'End.DT6', table: TABLE.A, egress: [i.A] },
        { sid: 'fc00:0:2::b46', action: 'End.DT46', table: TABLE.B, egress: [i.B] },
      ];
    return [
      { sid: 'fc00:0:2::a4', action: 'End.DX4', nh4: ADDR.vm2.v4, oif: i.A },
      { sid: 'fc00:0:2::b4', action: 'End.DX4', nh4: '100.64.2.1', oif: i.B },
      { sid: 'fc00:0:2::a6', action: 'End.DT6', table: TABLE.A, egress: [i.A] },
      { sid: 'fc00:0:2::b6', action: 'End.DT6', table: TABLE.B, egress: [i.B] },
    ];
  }

  /**
   * Packets the kernel's seg6local routes on HV2 handled, by SID (`count` counters: packets +
   * errors; a packet whose forwarding fails after decapsulation, TTL expired, is an error).
   */
  hv2KernelCounters(): Record<string, number> {
    const out: Record<string, number> = {};
    const routes = execFileSync('ip', ['-s', '-j', '-6', '-n', this.hv2.name, 'route', 'show', 'table', 'main'], { encoding: 'utf8' });
    for (const r of JSON.parse(routes) as Array<{ dst: string; encap?: string; stats64?: { packets: number; errors: number } }>)
      if (r.encap === 'seg6local' && r.stats64) out[r.dst] = r.stats64.packets + r.stats64.errors;
    return out;
  }
}
