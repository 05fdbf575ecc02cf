// One namespace with the routes, neighbours and devices the XDP program's bpf_fib_lookup needs,
// for BPF_PROG_TEST_RUN fixture tables (xdp/srv6-decap.kernel.ts) and ns/packet benchmarks
// (bench/xdp.bench.ts). Nothing here is ever attached: test runs name u0 as the ingress device.
//
//   netns srv6t-<tag>-<pid>-<rnd>        (forwarding on; u1 has it off)
//     u0  ifindex 10  02:00:00:00:00:10  ═ veth ═ u0p 11     underlay: ctx ingress_ifindex
//     u1  ifindex 12  02:00:00:00:00:12  ═ veth ═ u1p 13     underlay with forwarding off
//     ta  ifindex 20  02:00:00:00:00:20  ═ veth ═ tap 21     tenant A (table 100)
//     tb  ifindex 30  02:00:00:00:00:30  ═ veth ═ tbp 31     tenant B (table 200), same prefixes
//     tx  ifindex 40  02:00:00:00:00:40  ═ veth ═ txp 41     a device not allowed as XDP egress
//
//   table 100 (A)                               table 200 (B)
//     10.0.0.0/24 dev ta                          10.0.0.0/24 dev tb
//     fd00:a::/64 dev ta                          fd00:a::/64 dev tb
//     10.0.1.0/24 via 10.0.0.1 dev ta             unreachable default (v4, v6)
//     10.0.2.0/24 via 10.0.0.254 dev ta  (no neighbour)
//     10.0.3.0/24 dev tx                 (egress not allowed)
//     10.0.4.0/24 dev u0                 (back out of the ingress device)
//     blackhole 10.0.5.0/24
//     10.0.6.0/24 dev ta mtu lock 1300
//     10.0.7.0/24 encap ip ... dev u0    (lwtunnel: an IP tunnel's, which every kernel with
//                                          IP tunnels has; the program passes any lwtunnel route)
//     local 10.0.0.100 dev ta
//     unreachable default (v4, v6)
//   main (End.DX*: the next hops' host routes, as the dataplane installs them)
//     10.1.0.5 dev ta scope link;  10.1.9.9 via 10.1.0.5 dev ta onlink;  fd00:d::5 dev ta
//   permanent neighbours
//     ta: 10.0.0.5, fd00:a::5 -> 02:aa:00:00:00:05   10.0.0.1 -> 02:aa:00:00:00:01
//         10.1.0.5, fd00:d::5 -> 02:dd:00:00:00:05
//     tb: 10.0.0.5, fd00:a::5 -> 02:bb:00:00:00:05
//     tx: 10.0.3.1; u0: 10.0.4.1      (resolved: the egress check is what refuses them)
import { TestNetns } from '../netns';
import type { XdpSidEntry } from '../../xdp/xdp-offload';

export const DEV = {
  u0: { name: 'u0', index: 10, mac: '02:00:00:00:00:10' },
  u1: { name: 'u1', index: 12, mac: '02:00:00:00:00:12' },
  ta: { name: 'ta', index: 20, mac: '02:00:00:00:00:20' },
  tb: { name: 'tb', index: 30, mac: '02:00:00:00:00:30' },
  tx: { name: 'tx', index: 40, mac: '02:00:00:00:00:40' },
} as const;

export const MAC = {
  remote: '02:00:00:00:00:11', // the sending HV (u0's peer)
  vmA: '02:aa:00:00:00:05',
  gwA: '02:aa:00:00:00:01',
  vmB: '02:bb:00:00:00:05',
  dxVm: '02:dd:00:00:00:05',
} as const;

export const TABLE_A = 100;
export const TABLE_B = 200;
export const OUTER_SRC = 'fc00:0:1::1';

export const SID = {
  dt4A: 'fc00:0:2::a4',
  dt6A: 'fc00:0:2::a6',
  dt46A: 'fc00:0:2::a46',
  dt4B: 'fc00:0:2::b4',
  dt46B: 'fc00:0:2::b46',
  dx4: 'fc00:0:2::d4',
  dx4Dst: 'fc00:0:2::d40',
  dx4Gw: 'fc00:0:2::d41',
  dx4WrongOif: 'fc00:0:2::d42',
  dx6: 'fc00:0:2::d6',
  dx4Main: 'fc00:0:2::d43',
  dx6Main: 'fc00:0:2::d61',
  shadow: 'fc00:0:2::a5',
  noTable: 'fc00:0:2::a9',
  unknown: 'fc00:0:2::ff',
} as const;

const A = [DEV.ta.index];
const B = [DEV.tb.index];

/** The SID map of these fixtures. */
export const ENTRIES: XdpSidEntry[] = [
  { sid: SID.dt4A, action: 'End.DT4', table: TABLE_A, egress: A },
  { sid: SID.dt6A, action: 'End.DT6', table: TABLE_A, egress: A },
  { sid: SID.dt46A, action: 'End.DT46', table: TABLE_A, egress: A },
  { sid: SID.dt4B, action: 'End.DT4', table: TABLE_B, egress: B },
  { sid: SID.dt46B, action: 'End.DT46', table: TABLE_B, egress: B },
  { sid: SID.dx4, action: 'End.DX4', nh4: '10.1.0.5', oif: DEV.ta.index },
  { sid: SID.dx4Dst, action: 'End.DX4', egress: A },
  { sid: SID.dx4Gw, action: 'End.DX4', nh4: '10.1.9.9', egress: A },
  { sid: SID.dx4WrongOif, action: 'End.DX4', nh4: '10.1.0.5', oif: DEV.tb.index },
  { sid: SID.dx6, action: 'End.DX6', nh6: 'fd00:d::5', oif: DEV.ta.index },
  { sid: SID.dx4Main, action: 'End.DX4', nh4: '10.1.0.5', oif: DEV.ta.index, dxMainTable: true },
  { sid: SID.dx6Main, action: 'End.DX6', nh6: 'fd00:d::5', oif: DEV.ta.index, dxMainTable: true },
  { sid: SID.shadow, action: 'End.DT4', table: TABLE_A, egress: A, shadow: true },
  { sid: SID.noTable, action: 'End.DT4', table: 999, egress: A },
];

export function createFibNetns(tag: string): TestNetns {
  const ns = TestNetns.create(tag);
  const lines: string[] = [];
  const pair = (d: { name: string; index: number; mac: string }, peer: string) =>
    lines.push(
      `link add name ${d.name} index ${d.index} address ${d.mac} type veth peer name ${peer} index ${d.index + 1}`,
      `link set dev ${d.name} up`,
      `link set dev ${peer} up`,
    );
  pair(DEV.u0, 'u0p');
  pair(DEV.u1, 'u1p');
  pair(DEV.ta, 'tap');
  pair(DEV.tb, 'tbp');
  pair(DEV.tx, 'txp');
  const a = `table ${TABLE_A}`;
  const b = `table ${TABLE_B}`;
  lines.push(
    `route add 10.0.0.0/24 dev ta ${a}`,
    `route add fd00:a::/64 dev ta ${a}`,
    `route add 10.0.1.0/24 via 10.0.0.1 dev ta ${a}`,
    `route add 10.0.2.0/24 via 10.0.0.254 dev ta ${a}`,
    `route add 10.0.3.0/24 dev tx ${a}`,
    `route add 10.0.4.0/24 dev u0 ${a}`,
    `route add blackhole 10.0.5.0/24 ${a}`,
    `route add 10.0.6.0/24 dev ta ${a} mtu lock 1300`,
    `route add 10.0.7.0/24 encap ip id 7 dst 10.9.9.9 dev u0 ${a}`,
    `route add local 10.0.0.100 dev ta ${a}`,
    `route add unreachable default ${a}`,
    `route add unreachable ::/0 ${a}`,
    `route add 10.0.0.0/24 dev tb ${b}`,
    `route add fd00:a::/64 dev tb ${b}`,
    `route add unreachable default ${b}`,
    `route add unreachable ::/0 ${b}`,
    'route add 10.1.0.5/32 dev ta scope link',
    'route add 10.1.9.9/32 via 10.1.0.5 dev ta onlink',
    'route add fd00:d::5/128 dev ta',
    `neigh add 10.0.0.5 lladdr ${MAC.vmA} dev ta nud permanent`,
    `neigh add fd00:a::5 lladdr ${MAC.vmA} dev ta nud permanent`,
    `neigh add 10.0.0.1 lladdr ${MAC.gwA} dev ta nud permanent`,
    `neigh add 10.1.0.5 lladdr ${MAC.dxVm} dev ta nud permanent`,
    `neigh add fd00:d::5 lladdr ${MAC.dxVm} dev ta nud permanent`,
    `neigh add 10.0.0.5 lladdr ${MAC.vmB} dev tb nud permanent`,
    `neigh add 10.0.3.1 lladdr ${MAC.vmA} dev tx nud permanent`,
    `neigh add 10.0.4.1 lladdr ${MAC.remote} dev u0 nud permanent`,
    `neigh add fd00:a::5 lladdr ${MAC.vmB} dev tb nud permanent`,
  );
  ns.ipBatch(lines);
  // Forwarding on everywhere (propagates to the existing devices), then off again on u1 only.
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1']);
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.u1.forwarding=0', 'net.ipv6.conf.u1.forwarding=0']);
  return ns;
}
