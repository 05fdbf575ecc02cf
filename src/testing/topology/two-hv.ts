// Two hypervisors in network namespaces, joined by an IPv6 underlay, with tenant VMs behind veth
// pairs: the shape of every two-HV test and benchmark (TwoHv). What runs on the HVs is the
// caller's: iproute2 as the reference datapath (Srv6Pair, the XDP offload's equivalence tests;
// buildSrv6GsoTopology, the tracer's), or the agent under test (xdp/xdp-agent.kernel.ts,
// dataplane/traffic.kernel.ts), which finds its underlay addressed and its taps down.
//
//   VM nic ══ tap ┐                                            ┌ tap ══ nic VM
//   VM nic ══ tap ┴ HV1 ─ dev ══════════ underlay ══════════ dev ─ HV2 ┴ tap ══ nic VM
//                       one veth, or a veth from each into a bridge (a namespace of its own)
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

import type { XdpSidEntry } from '../../xdp/xdp-offload';
import { KernelFeature, kernelLacks } from '../kernel-features';
import { TestNetns } from '../netns';
import { tcpTransferBetween } from '../traffic/sockets';
import { tcMark } from '../traffic/tc-mark';

export interface TwoHvVm<V extends string = string> {
  /** Its key in TwoHv.vm. */
  name: V;
  hv: 1 | 2;
  /** The HV's end of its veth, left down: it belongs to whoever configures the HV. */
  tap: string;
  /** The VM's end: eth0 unless given. */
  nic?: string;
  tapMac?: string;
  nicMac?: string;
  /** Of both ends. */
  mtu?: number;
  /** The VM's addresses with prefix length (IPv6 ones without DAD). */
  addresses: string[];
  /** Its default routes, one per family. */
  gateways: string[];
}

export interface TwoHvOptions<V extends string = string> {
  /** In every namespace's name: srv6t-<tag>-hv1-… */
  tag: string;
  /** `key=value` sysctls set in every namespace before any link exists. */
  sysctls?: string[];
  underlay: {
    /** Each HV's underlay device. */
    devs: [string, string];
    /** Each HV's addresses on it, with prefix length (IPv6 ones without DAD). */
    addresses: [string[], string[]];
    macs?: [string, string];
    mtu?: number;
    /** A bridge joins the HVs (its namespace holds the peers, hv1 and hv2); otherwise one veth does. */
    bridge?: boolean;
  };
  vms: TwoHvVm<V>[];
}

const isV6 = (address: string) => address.includes(':');
const addressLine = (address: string, dev: string) => `addr add ${address} dev ${dev}${isV6(address) ? ' nodad' : ''}`;

export class TwoHv<V extends string = string> {
  readonly hv1: TestNetns;
  readonly hv2: TestNetns;
  /** The bridge's namespace (underlay.bridge). */
  readonly underlay?: TestNetns;
  readonly vm = {} as Record<V, TestNetns>;

  protected constructor(o: TwoHvOptions<V>) {
    this.hv1 = TestNetns.create(`${o.tag}-hv1`);
    this.hv2 = TestNetns.create(`${o.tag}-hv2`);
    if (o.underlay.bridge) this.underlay = TestNetns.create(`${o.tag}-ul`);
    for (const v of o.vms) this.vm[v.name] = TestNetns.create(`${o.tag}-${v.name.toLowerCase()}`);
    if (o.sysctls) for (const ns of this.namespaces()) ns.sysctl(...o.sysctls);
    this.linkUnderlay(o.underlay);
    for (const v of o.vms) this.attachVm(v);
  }

  static build<V extends string>(o: TwoHvOptions<V>): TwoHv<V> {
    return new TwoHv(o);
  }

  hv(n: 1 | 2): TestNetns {
    return n === 1 ? this.hv1 : this.hv2;
  }

  namespaces(): TestNetns[] {
    return [this.hv1, this.hv2, ...(this.underlay ? [this.underlay] : []), ...Object.values<TestNetns>(this.vm)];
  }

  destroy(): void {
    for (const ns of this.namespaces()) ns.destroy();
  }

  private linkUnderlay(u: TwoHvOptions['underlay']): void {
    const end = (i: number) => `${u.macs ? ` address ${u.macs[i]}` : ''}${u.mtu ? ` mtu ${u.mtu}` : ''}`;
    if (!u.bridge) this.hv1.ipBatch([`link add name ${u.devs[0]}${end(0)} type veth peer name ${u.devs[1]}${end(1)} netns ${this.hv2.name}`]);
    [this.hv1, this.hv2].forEach((hv, i) => {
      const dev = u.devs[i];
      const lines = [`link set dev ${dev} up`, ...u.addresses[i].map((a) => addressLine(a, dev))];
      if (u.bridge) lines.unshift(`link add name ${dev}${end(i)} type veth peer name hv${i + 1} netns ${this.underlay!.name}`);
      hv.ipBatch(lines);
    });
    if (u.bridge) {
      const ports = ['hv1', 'hv2'].flatMap((p) => [`link set dev ${p} master br0`, `link set dev ${p} up`]);
      this.underlay!.ipBatch(['link add name br0 type bridge', 'link set dev br0 up', ...ports]);
    }
  }

  private attachVm(v: TwoHvVm<V>): void {
    const nic = v.nic ?? 'eth0';
    const end = (mac?: string) => `${mac ? ` address ${mac}` : ''}${v.mtu ? ` mtu ${v.mtu}` : ''}`;
    const vm = this.vm[v.name];
    this.hv(v.hv).ipBatch([`link add name ${v.tap}${end(v.tapMac)} type veth peer name ${nic}${end(v.nicMac)} netns ${vm.name}`]);
    const defaults4 = v.gateways.filter((g) => !isV6(g)).map((g) => `route add default via ${g}`);
    vm.ipBatch([`link set dev ${nic} up`, ...v.addresses.map((a) => addressLine(a, nic)), ...defaults4]);
    for (const g of v.gateways.filter(isV6)) vm.ip(['-6', 'route', 'add', 'default', 'via', g]);
  }
}

// ---- HVs configured with iproute2 (no agent) ----

/**
 * A veth as a wire: checksums completed at transmit, as a NIC does. Left on, skbs cross a veth
 * with CHECKSUM_PARTIAL (the L4 checksum field holds only the pseudo-header sum and the skb says
 * so); an XDP frame has no such metadata, so a frame the offload redirects would reach the VM
 * with an unfinished checksum, which a real underlay never carries (ADR 0004, Consequences).
 */
export function wire(hv: TestNetns, dev: string): void {
  hv.exec('ethtool', ['-K', dev, 'tx', 'off']);
}

/** Unreachable defaults in a tenant's table: fail closed, as the dataplane does. */
const failClosed = (table: number) => ['default', '::/0'].map((dst) => `route replace unreachable ${dst} table ${table} metric 4278198272`);

export interface TableModeTenant {
  tap: string;
  table: number;
  /** The HV's gateway addresses on the tap, with the VMs' prefix length (no prefix routes in main). */
  gateways: string[];
  /** The VMs' subnets, routed to the tap in the tenant's table. */
  subnets: string[];
  failClosed?: boolean;
}

/** A tenant's side of an HV in table mode: the tap up as the VMs' gateway, a rule per family sends what comes in on it to the tenant's table. */
export function tableModeTenant(hv: TestNetns, t: TableModeTenant): void {
  hv.ipBatch([
    `link set dev ${t.tap} up`,
    ...t.gateways.map((g) => `addr add ${g} dev ${t.tap} noprefixroute${isV6(g) ? ' nodad' : ''}`),
    ...t.subnets.map((s) => `route add ${s} dev ${t.tap} table ${t.table}`),
    ...(t.gateways.some((g) => !isV6(g)) ? [`rule add iif ${t.tap} lookup ${t.table} pref 1000`] : []),
    ...(t.failClosed ? failClosed(t.table) : []),
  ]);
  if (t.gateways.some(isV6)) hv.ip(['-6', 'rule', 'add', 'iif', t.tap, 'lookup', String(t.table), 'pref', '1000']);
}

export interface EncapRoutes {
  table: number;
  mode: 'encap' | 'encap.red';
  /** The underlay device. */
  dev: string;
  /** The other HV's locator and its underlay address: H.Encaps routes the outer packet again as coming in on the tenant's tap, through this table. */
  locator: string;
  via: string;
  /** [prefix, SID]: the other HV's VM subnets and the SIDs that decapsulate them there. */
  routes: [string, string][];
}

/** H.Encaps towards the other HV in a tenant's table. */
export function encapRoutes(hv: TestNetns, e: EncapRoutes): void {
  hv.ipBatch([
    `route add ${e.locator} via ${e.via} dev ${e.dev} table ${e.table}`,
    ...e.routes.map(([prefix, sid]) => `route add ${prefix} encap seg6 mode ${e.mode} segs ${sid} dev ${e.dev} table ${e.table}`),
  ]);
}

// ---- Srv6Pair: the XDP offload's reference ----
//
// HV1 encapsulates (H.Encaps, kernel), HV2 decapsulates with the kernel's seg6local routes, or
// with the XDP offload on its underlay u2 in front of them (xdp-equivalence.kernel.ts).
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

export type Hv2Mode = 'table' | 'vrf';
export type Tenant = 'A' | 'B';
type PairVm = 'A1' | 'A2' | 'B1' | 'B2';

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

const TENANTS: Tenant[] = ['A', 'B'];

export class Srv6Pair extends TwoHv<PairVm> {
  /** SIDs on HV2 that HV1's encap routes target, per tenant. */
  readonly hv2Sids: Record<Tenant, Sids>;
  readonly ifindex: { hv1: Record<Tenant, number>; hv2: Record<Tenant | 'u', number> };

  private constructor(readonly mode: Hv2Mode) {
    super({
      tag: `xeq${mode === 'vrf' ? 'v' : ''}`,
      // No reverse-path filter (tenant prefixes overlap; DX4's source check would run on the
      // underlay), no DAD delays, no automatic flow labels (the VMs' packets are the same bytes
      // in every run).
      sysctls: [
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.auto_flowlabels=0',
      ],
      underlay: { devs: ['u1', 'u2'], addresses: [['fc00:12::1/64'], ['fc00:12::2/64']], macs: [MACS.hv1.u, MACS.hv2.u], mtu: MTU.underlay },
      vms: (['A1', 'A2', 'B1', 'B2'] as const).map((name) => {
        const t = name[0] as Tenant;
        const side = name[1] === '1' ? 1 : 2;
        const a = side === 1 ? ADDR.vm1 : ADDR.vm2;
        return {
          name,
          hv: side,
          tap: `v${t}`,
          tapMac: MACS[`hv${side}`][t],
          nicMac: MACS.vm[name],
          mtu: MTU.tenant,
          addresses: [`${a.v4}/24`, `${a.v6}/64`],
          gateways: [`10.0.${side}.254`, `fd00:${side}::ff`],
        };
      }),
    });
    this.hv2Sids =
      mode === 'vrf'
        ? { A: { v4: 'fc00:0:2::a4', v6: 'fc00:0:2::a6' }, B: { v4: 'fc00:0:2::b46', v6: 'fc00:0:2::b46' } }
        : { A: { v4: 'fc00:0:2::a4', v6: 'fc00:0:2::a6' }, B: { v4: 'fc00:0:2::b4', v6: 'fc00:0:2::b6' } };
    this.configure();
    const { hv1, hv2 } = this;
    this.ifindex = { hv1: { A: hv1.ifindex('vA'), B: hv1.ifindex('vB') }, hv2: { u: hv2.ifindex('u2'), A: hv2.ifindex('vA'), B: hv2.ifindex('vB') } };
  }

  static create(mode: Hv2Mode): Srv6Pair {
    return new Srv6Pair(mode);
  }

  private configure(): void {
    const { hv1, hv2 } = this;
    hv1.ipBatch(['route add fc00:0:2::/48 via fc00:12::2 dev u1', 'sr tunsrc set fc00:12::1']);
    hv2.ipBatch(['route add fc00:0:1::/48 via fc00:12::1 dev u2', 'sr tunsrc set fc00:12::2']);
    wire(hv1, 'u1');
    wire(hv2, 'u2');
    for (const [hv, u] of [
      [hv1, 'u1'],
      [hv2, 'u2'],
    ] as const)
      hv.sysctl('net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.all.seg6_enabled=1', `net.ipv6.conf.${u}.seg6_enabled=1`);
    this.tenantSides(hv1, 1, 'table');
    this.tenantSides(hv2, 2, this.mode);

    // Encapsulation towards the other HV (A with an SRH, B reduced) and decapsulation.
    const toHv1: Record<Tenant, Sids> = { A: { v4: 'fc00:0:1::a4', v6: 'fc00:0:1::a6' }, B: { v4: 'fc00:0:1::b4', v6: 'fc00:0:1::b6' } };
    for (const [hv, side, sids] of [
      [hv1, 1, this.hv2Sids],
      [hv2, 2, toHv1],
    ] as const) {
      const other = side === 1 ? 2 : 1;
      for (const t of TENANTS)
        encapRoutes(hv, {
          table: TABLE[t],
          mode: t === 'A' ? 'encap' : 'encap.red',
          dev: `u${side}`,
          locator: `fc00:0:${other}::/48`,
          via: `fc00:12::${other}`,
          routes: [
            [`10.0.${other}.0/24`, sids[t].v4],
            [`fd00:${other}::/64`, sids[t].v6],
          ],
        });
    }
    hv1.ipBatch([
      'route add 10.0.1.1/32 dev vA scope link',
      'route add 100.64.1.1/32 via 10.0.1.1 dev vB onlink',
      'route add fc00:0:1::a4/128 encap seg6local action End.DX4 nh4 10.0.1.1 count dev u1',
      'route add fc00:0:1::b4/128 encap seg6local action End.DX4 nh4 100.64.1.1 count dev u1',
      'route add fc00:0:1::a6/128 encap seg6local action End.DT6 table 100 count dev u1',
      'route add fc00:0:1::b6/128 encap seg6local action End.DT6 table 200 count dev u1',
    ]);
    if (this.mode === 'table')
      hv2.ipBatch([
        'route add 10.0.2.1/32 dev vA scope link',
        'route add 100.64.2.1/32 via 10.0.2.1 dev vB onlink',
        'route add fc00:0:2::a4/128 encap seg6local action End.DX4 nh4 10.0.2.1 count dev u2',
        'route add fc00:0:2::b4/128 encap seg6local action End.DX4 nh4 100.64.2.1 count dev u2',
        'route add fc00:0:2::a6/128 encap seg6local action End.DT6 table 100 count dev u2',
        'route add fc00:0:2::b6/128 encap seg6local action End.DT6 table 200 count dev u2',
      ]);
    else
      hv2.ipBatch([
        'route add fc00:0:2::a4/128 encap seg6local action End.DT4 vrftable 100 count dev vrf-a',
        'route add fc00:0:2::a6/128 encap seg6local action End.DT6 vrftable 100 count dev vrf-a',
        'route add fc00:0:2::b46/128 encap seg6local action End.DT46 vrftable 200 count dev vrf-b',
      ]);
  }

  // Gateways, per-tenant tables (connected routes), and how packets from a VM find their table.
  private tenantSides(hv: TestNetns, side: 1 | 2, mode: Hv2Mode): void {
    const gateways = [`10.0.${side}.254/24`, `fd00:${side}::ff/64`];
    if (mode === 'table') {
      const subnets = [`10.0.${side}.0/24`, `fd00:${side}::/64`];
      for (const t of TENANTS) tableModeTenant(hv, { tap: `v${t}`, table: TABLE[t], gateways, subnets, failClosed: true });
      return;
    }
    hv.sysctl('net.vrf.strict_mode=1');
    for (const t of TENANTS) {
      const vrf = `vrf-${t.toLowerCase()}`;
      hv.ipBatch([
        `link add name ${vrf} type vrf table ${TABLE[t]}`,
        `link set dev ${vrf} up`,
        `link set dev v${t} up`,
        `link set dev v${t} master ${vrf}`,
        ...gateways.map((g) => addressLine(g, `v${t}`)),
        ...failClosed(TABLE[t]),
      ]);
    }
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

// ---- the tracer's SRv6 GSO path ----
//
// Two hypervisors with a tenant VM each, TCP from vm1 to vm2 over SRv6 H.Encaps (HV1) and End.DX4
// (HV2), TSO/GSO on every veth (their default), and the trace mark set again in every namespace
// (crossing a veth into another namespace clears it). For the tracer's kernel tests.
//
//   vm1                 hv1                               hv2                 vm2
//   v1 10.0.1.2/24 ─── t1 10.0.1.1/24                     t2 10.0.2.1/24 ─── v2 10.0.2.2/24
//                       u1 fc00:12::1/64 ═══════════════ u2 fc00:12::2/64   (underlay, MTU 1600)
//
//   hv1: 10.0.2.0/24 encap seg6 mode encap segs fc00:2::d4 dev u1     (H.Encaps: +40 IPv6 +24 SRH)
//        fc00:1::d4/128 encap seg6local action End.DX4 nh4 10.0.1.2 dev t1
//   hv2: fc00:2::d4/128 encap seg6local action End.DX4 nh4 10.0.2.2 dev t2   (decapsulation)
//        10.0.1.0/24 encap seg6 mode encap segs fc00:1::d4 dev u2
//   mark 0xdeadbeef (tc, bpf/trace/test_mark.bpf.c) on: v1 egress, t1 ingress, u2 ingress, v2 ingress
//   (the data direction vm1 → vm2; ACKs are not marked)
//
// On a kernel without seg6/seg6local (srv6: false) the HVs route the VMs' IPv4 over the IPv6
// underlay without encapsulation (`10.0.2.0/24 via inet6 fc00:12::2`): the same TCP path for
// the tests that trace packets but assert nothing about SRv6.

/** What the SRv6 path of this topology needs (H.Encaps routes, End.DX4). */
export const SRV6_PATH: KernelFeature[] = ['seg6', 'seg6local'];
/** Outer IPv6 header + SRH with one segment: what H.Encaps adds to every packet. */
export const ENCAP_OVERHEAD = 40 + 8 + 16;

export interface Srv6GsoTopology {
  vm1: TestNetns;
  hv1: TestNetns;
  hv2: TestNetns;
  vm2: TestNetns;
  /** Network namespace inodes (the tracer's `netns` field). */
  inode: { vm1: number; hv1: number; hv2: number; vm2: number };
  /** false: plain routing, no SRv6 (the kernel lacks it). */
  srv6: boolean;
  ifindex: { v1: number; t1: number; u1: number; u2: number; t2: number; v2: number };
}

/** Builds the topology (cleanup: destroyAllNetns, registered before creation by TestNetns). */
export function buildSrv6GsoTopology(tag = 'ipft'): Srv6GsoTopology {
  const srv6 = kernelLacks(SRV6_PATH).length === 0;
  const net = TwoHv.build({
    tag,
    underlay: { devs: ['u1', 'u2'], addresses: [['fc00:12::1/64'], ['fc00:12::2/64']], mtu: 1600 },
    vms: [
      { name: 'vm1', hv: 1, tap: 't1', nic: 'v1', addresses: ['10.0.1.2/24'], gateways: ['10.0.1.1'] },
      { name: 'vm2', hv: 2, tap: 't2', nic: 'v2', addresses: ['10.0.2.2/24'], gateways: ['10.0.2.1'] },
    ],
  });
  const { hv1, hv2 } = net;
  const { vm1, vm2 } = net.vm;
  for (const ns of [hv1, hv2])
    ns.sysctl(
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv6.conf.all.seg6_enabled=1',
      'net.ipv6.conf.default.seg6_enabled=1',
    );
  hv1.ipBatch([
    'addr add 10.0.1.1/24 dev t1',
    'link set t1 up',
    'route add fc00:2::/64 via fc00:12::2 dev u1',
    ...(srv6
      ? ['route add 10.0.2.0/24 encap seg6 mode encap segs fc00:2::d4 dev u1', 'route add fc00:1::d4/128 encap seg6local action End.DX4 nh4 10.0.1.2 dev t1']
      : ['route add 10.0.2.0/24 via inet6 fc00:12::2 dev u1']),
  ]);
  hv2.ipBatch([
    'addr add 10.0.2.1/24 dev t2',
    'link set t2 up',
    'route add fc00:1::/64 via fc00:12::1 dev u2',
    ...(srv6
      ? ['route add 10.0.1.0/24 encap seg6 mode encap segs fc00:1::d4 dev u2', 'route add fc00:2::d4/128 encap seg6local action End.DX4 nh4 10.0.2.2 dev t2']
      : ['route add 10.0.1.0/24 via inet6 fc00:12::1 dev u2']),
  ]);
  for (const [ns, dev] of [
    [hv1, 't1'],
    [hv1, 'u1'],
    [hv2, 't2'],
    [hv2, 'u2'],
  ] as const)
    ns.sysctl(`net.ipv4.conf.${dev}.rp_filter=0`);

  tcMark(vm1, 'v1', 'egress');
  tcMark(hv1, 't1', 'ingress');
  tcMark(hv2, 'u2', 'ingress');
  tcMark(vm2, 'v2', 'ingress');

  const ino = (ns: TestNetns) => statSync(ns.path).ino;
  return {
    vm1,
    hv1,
    hv2,
    vm2,
    inode: { vm1: ino(vm1), hv1: ino(hv1), hv2: ino(hv2), vm2: ino(vm2) },
    srv6,
    ifindex: { v1: vm1.ifindex('v1'), t1: hv1.ifindex('t1'), u1: hv1.ifindex('u1'), u2: hv2.ifindex('u2'), t2: hv2.ifindex('t2'), v2: vm2.ifindex('v2') },
  };
}

/**
 * Sends `bytes` over one TCP connection from vm1 to vm2:5001 and resolves with what the server
 * received (the independent observer that the path works end to end).
 */
export function tcpTransfer(t: Srv6GsoTopology, bytes: number, timeoutMs = 60_000): Promise<number> {
  return tcpTransferBetween(t.vm1, t.vm2, '10.0.2.2', 5001, bytes, timeoutMs);
}
