// Test and benchmark topology for the tracer: two hypervisors with a tenant VM each, TCP from vm1
// to vm2 over SRv6 H.Encaps (HV1) and End.DX4 (HV2), TSO/GSO on every veth (their default), and
// the trace mark set again in every namespace (crossing a veth into another namespace clears it).
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
import { statSync } from 'node:fs';

import { KernelFeature, kernelLacks } from '../../testing/kernel-features';
import { TestNetns } from '../../testing/netns';
import { tcMark, tcpTransferBetween, TEST_MARK } from './traffic';

export { TEST_MARK };
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

function ifindex(ns: TestNetns, dev: string): number {
  return ns.ipJson<Array<{ ifindex: number }>>(['link', 'show', 'dev', dev])[0].ifindex;
}

function sysctls(ns: TestNetns, kv: string[]): void {
  ns.exec('sysctl', ['-q', '-w', ...kv]);
}

/** Builds the topology (cleanup: destroyAllNetns, registered before creation by TestNetns). */
export function buildSrv6GsoTopology(tag = 'ipft'): Srv6GsoTopology {
  const srv6 = kernelLacks(SRV6_PATH).length === 0;
  const vm1 = TestNetns.create(`${tag}vm1`);
  const hv1 = TestNetns.create(`${tag}hv1`);
  const hv2 = TestNetns.create(`${tag}hv2`);
  const vm2 = TestNetns.create(`${tag}vm2`);

  hv1.ip(['link', 'add', 't1', 'type', 'veth', 'peer', 'name', 'v1', 'netns', vm1.name]);
  hv2.ip(['link', 'add', 't2', 'type', 'veth', 'peer', 'name', 'v2', 'netns', vm2.name]);
  hv1.ip(['link', 'add', 'u1', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'u2', 'mtu', '1600', 'netns', hv2.name]);

  for (const ns of [hv1, hv2])
    sysctls(ns, ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.seg6_enabled=1', 'net.ipv6.conf.default.seg6_enabled=1']);

  vm1.ip(['addr', 'add', '10.0.1.2/24', 'dev', 'v1']);
  vm1.ip(['link', 'set', 'v1', 'up']);
  vm1.ip(['route', 'add', 'default', 'via', '10.0.1.1']);
  vm2.ip(['addr', 'add', '10.0.2.2/24', 'dev', 'v2']);
  vm2.ip(['link', 'set', 'v2', 'up']);
  vm2.ip(['route', 'add', 'default', 'via', '10.0.2.1']);

  hv1.ipBatch([
    'addr add 10.0.1.1/24 dev t1',
    'addr add fc00:12::1/64 dev u1 nodad',
    'link set t1 up',
    'link set u1 up',
    'route add fc00:2::/64 via fc00:12::2 dev u1',
    ...(srv6
      ? ['route add 10.0.2.0/24 encap seg6 mode encap segs fc00:2::d4 dev u1', 'route add fc00:1::d4/128 encap seg6local action End.DX4 nh4 10.0.1.2 dev t1']
      : ['route add 10.0.2.0/24 via inet6 fc00:12::2 dev u1']),
  ]);
  hv2.ipBatch([
    'addr add 10.0.2.1/24 dev t2',
    'addr add fc00:12::2/64 dev u2 nodad',
    'link set t2 up',
    'link set u2 up',
    'route add fc00:1::/64 via fc00:12::1 dev u2',
    ...(srv6
      ? ['route add 10.0.1.0/24 encap seg6 mode encap segs fc00:1::d4 dev u2', 'route add fc00:2::d4/128 encap seg6local action End.DX4 nh4 10.0.2.2 dev t2']
      : ['route add 10.0.1.0/24 via inet6 fc00:12::1 dev u2']),
  ]);
  for (const [ns, dev] of [[hv1, 't1'], [hv1, 'u1'], [hv2, 't2'], [hv2, 'u2']] as const) sysctls(ns, [`net.ipv4.conf.${dev}.rp_filter=0`]);

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
    ifindex: {
      v1: ifindex(vm1, 'v1'),
      t1: ifindex(hv1, 't1'),
      u1: ifindex(hv1, 'u1'),
      u2: ifindex(hv2, 'u2'),
      t2: ifindex(hv2, 't2'),
      v2: ifindex(vm2, 'v2'),
    },
  };
}

/**
 * Sends `bytes` over one TCP connection from vm1 to vm2:5001 and resolves with what the server
 * received (the independent observer that the path works end to end).
 */
export function tcpTransfer(t: Srv6GsoTopology, bytes: number, timeoutMs = 60_000): Promise<number> {
  return tcpTransferBetween(t.vm1, t.vm2, '10.0.2.2', 5001, bytes, timeoutMs);
}
