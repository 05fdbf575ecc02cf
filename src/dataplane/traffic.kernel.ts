// Packets through two dataplanes: a VM's traffic is encapsulated on its HV, crosses the IPv6
// underlay, and is decapsulated into the same tenant on the other HV — and never into another.
// VRF mode (End.DT46) where the kernel has VRF (the lab VM); table mode otherwise (End.DT6 for
// IPv6, End.DX4 for IPv4).
//
//   vm-a1 ──ta0┐                                   ┌ta0── vm-a2
//              hv1 ──ul0──────── underlay ───────ul0── hv2
//   vm-b1 ──tb0┘   fc00:f::1/64            fc00:f::2/64 └tb0── vm-b2
//
//   |        | hv1 (locator fc00:0:1::/48) | hv2 (locator fc00:0:2::/48) |
//   |--------|-----------------------------|-----------------------------|
//   | alpha  | SID fc00:0:1:a::            | SID fc00:0:2:a::            |
//   |        | vm-a1 10.0.1.2 fd00:1::2    | vm-a2 10.0.2.2 fd00:2::2    |
//   | beta   | SID fc00:0:1:b::            | SID fc00:0:2:b::            |
//   |        | vm-b1 10.0.1.2 fd00:1::2    | vm-b2 10.0.2.2 fd00:2::2    |
//
// Both tenants use the same prefixes on purpose: only the SIDs tell them apart.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rtnetlink } from '../netlink/rtnetlink';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, icmpInEchos, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { TwoHv } from '../testing/topology/two-hv';
import { Dataplane } from './dataplane';
import { DesiredStateStore } from './state-store';
import type { TenantSpecDto } from './spec.dto';

jest.setTimeout(scaled(60000));

const VRF = kernelHas('CONFIG_NET_VRF');
const MODE = VRF ? 'vrf' : 'table';

interface Hv {
  n: 1 | 2;
  ns: TestNetns;
  nl: Rtnetlink;
  dp: Dataplane;
  dir: string;
  vms: Record<'a' | 'b', TestNetns>;
}
const hvs: Hv[] = [];

const other = (n: 1 | 2) => (n === 1 ? 2 : 1);

function tenantSpecs(n: 1 | 2): TenantSpecDto[] {
  const peer = other(n);
  return (['a', 'b'] as const).map((t) => ({
    id: t === 'a' ? 'alpha' : 'beta',
    sid: `fc00:0:${n}:${t}::`,
    ...(VRF || t === 'a' ? { behaviour: VRF ? 'End.DT46' : 'End.DT6' } : { behaviour: 'End.DX4', dx: { nexthop: `10.0.${n}.2`, interface: `t${t}0` } }),
    interfaces: [{ name: `t${t}0`, gateways: [`10.0.${n}.1/24`, `fd00:${n}::1/64`] }],
    routes: [
      { prefix: `10.0.${peer}.0/24`, sids: [`fc00:0:${peer}:${t}::`] },
      { prefix: `fd00:${peer}::/64`, sids: [`fc00:0:${peer}:${t}::`] },
    ],
  })) as TenantSpecDto[];
}

/** Priorities of the plain `lookup local` rules (table mode's link-scope rules name a destination). */
function localRulePrefs(ns: TestNetns, family: string): number[] {
  return ns
    .ipJson([family, 'rule', 'show'])
    .filter((r: any) => r.table === 'local' && !r.dst && !r.iif)
    .map((r: any) => r.priority);
}

function ping(from: TestNetns, to: string): boolean {
  try {
    from.exec('ping', ['-c', '1', '-W', '1', to]);
    return true;
  } catch {
    return false;
  }
}

/** The first pings may be spent on neighbour resolution: retry a few times before calling it lost. */
/** The outer IPv6 source of the first frame to `dst` that arrives on `dev` within `ms` ([] if none). */
function outerSources(ns: TestNetns, dev: string, dst: string, ms: number): Promise<string[]> {
  const py = [
    'import socket, sys, ipaddress',
    's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd)); s.bind((sys.argv[1], 0)); s.settimeout(float(sys.argv[3]))',
    'want = ipaddress.IPv6Address(sys.argv[2]).packed',
    'try:',
    '  while True:',
    '    f = s.recv(65535)',
    '    if f[38:54] == want: print(ipaddress.IPv6Address(f[22:38])); break',
    'except socket.timeout: pass',
  ].join('\n');
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', ns.name, 'python3', '-c', py, dev, dst, String(ms / 1000)], (e, out) =>
      e ? reject(e) : resolve(out.split('\n').filter(Boolean)),
    ),
  );
}

function reaches(from: TestNetns, to: string): boolean {
  for (let i = 0; i < 3; i++) if (ping(from, to)) return true;
  return false;
}

beforeAll(async () => {
  // The underlay: a bridge between the two HVs' uplinks, where each HV also has an IPv4 address
  // (think management).
  const topo = TwoHv.build({
    tag: 'tr',
    underlay: {
      devs: ['ul0', 'ul0'],
      addresses: [
        ['fc00:f::1/64', '172.31.0.1/24'],
        ['fc00:f::2/64', '172.31.0.2/24'],
      ],
      bridge: true,
    },
    vms: ([1, 2] as const).flatMap((n) =>
      (['a', 'b'] as const).map((t) => ({
        name: `${t}${n}`,
        hv: n,
        tap: `t${t}0`,
        addresses: [`10.0.${n}.2/24`, `fd00:${n}::2/64`],
        gateways: [`10.0.${n}.1`, `fd00:${n}::1`],
      })),
    ),
  });
  for (const n of [1, 2] as const) {
    const vms = { a: topo.vm[`a${n}`], b: topo.vm[`b${n}`] };
    hvs.push({ n, ns: topo.hv(n), vms } as Hv);
    topo.hv(n).ip(['route', 'add', `fc00:0:${other(n)}::/48`, 'via', `fc00:f::${other(n)}`, 'dev', 'ul0']);
    for (const vm of Object.values(vms)) vm.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  }
  for (const hv of hvs) {
    hv.ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0']);
    hv.dir = mkdtempSync(join(tmpdir(), 'srv6-tr-'));
    hv.nl = Rtnetlink.open({ netns: hv.ns.name });
    hv.dp = new Dataplane({ nl: hv.nl, store: new DesiredStateStore(hv.dir), mode: MODE, netns: hv.ns.name, debounceMs: 50 });
    await hv.dp.start();
    const node = { underlay: ['ul0'], locator: `fc00:0:${hv.n}::/48`, encapSource: `fc00:f::${hv.n}`, underlayMtu: 1500 };
    expect((await hv.dp.upsertNode(node)).failed).toEqual([]);
    for (const t of tenantSpecs(hv.n)) expect((await hv.dp.upsertTenant(t)).failed).toEqual([]);
  }
});

afterAll(() => {
  for (const hv of hvs) {
    hv.dp?.stop();
    hv.nl?.close();
    if (hv.dir) rmSync(hv.dir, { recursive: true, force: true });
  }
  destroyAllNetns();
});

describe(`traffic between two HVs (${MODE} mode)`, () => {
  const vm = (hv: 1 | 2, t: 'a' | 'b') => hvs[hv - 1].vms[t];

  // Table mode has End.DT6 (IPv6) for alpha and End.DX4 (IPv4) for beta; VRF mode End.DT46 for both.
  const cases: ['alpha' | 'beta', 'a' | 'b', 4 | 6][] = VRF
    ? [
        ['alpha', 'a', 4],
        ['alpha', 'a', 6],
        ['beta', 'b', 4],
        ['beta', 'b', 6],
      ]
    : [
        ['alpha', 'a', 6],
        ['beta', 'b', 4],
      ];
  itWith(SRV6).each(cases)('%s (VMs %s): IPv%s reaches the VM on the other HV, both ways', (_name, t, family) => {
    expect(reaches(vm(1, t), family === 4 ? '10.0.2.2' : 'fd00:2::2')).toBe(true);
    expect(reaches(vm(2, t), family === 4 ? '10.0.1.2' : 'fd00:1::2')).toBe(true);
  });

  itWith(SRV6)('every VM resolves its IPv4 gateway (reverse-path filtering lets its ARP in)', () => {
    for (const n of [1, 2] as const)
      for (const t of ['a', 'b'] as const) {
        // From an address nothing on the HV routes to (beta's End.DX4 host route covers .2):
        // the ARP request for the gateway carries it as sender.
        vm(n, t).ip(['addr', 'add', `10.0.${n}.3/24`, 'dev', 'eth0']);
        vm(n, t).ip(['neigh', 'flush', 'dev', 'eth0']);
        try {
          vm(n, t).exec('ping', ['-c', '1', '-W', '1', '-I', `10.0.${n}.3`, `10.0.${other(n)}.2`]);
        } catch {
          /* the reply may not come (End.DT6 carries no IPv4): the gateway's MAC is what counts */
        }
        const neigh = vm(n, t).ipJson(['neigh', 'show', `10.0.${n}.1`, 'dev', 'eth0'])[0];
        expect({ vm: `${t}${n}`, state: neigh?.state }).toEqual({
          vm: `${t}${n}`,
          state: expect.arrayContaining([expect.stringMatching(/REACHABLE|STALE|DELAY|PROBE/)]),
        });
      }
  });

  itWith(SRV6)('a packet of one tenant is decapsulated into that tenant only', () => {
    // Both VMs on hv2 own 10.0.2.2 / fd00:2::2: count echo requests each one receives, as its
    // stack counts them (not all frames: on a slow machine the HV's ARP/ND probes arrive meanwhile).
    const target = VRF ? '10.0.2.2' : 'fd00:2::2';
    const rx = (ns: TestNetns) => {
      const snmp = ns.exec('cat', [VRF ? '/proc/net/snmp' : '/proc/net/snmp6']);
      if (!VRF) return Number(/^Icmp6InEchos\s+(\d+)$/m.exec(snmp)![1]);
      const [names, values] = snmp
        .split('\n')
        .filter((l) => l.startsWith('Icmp:'))
        .map((l) => l.split(/\s+/));
      return Number(values[names.indexOf('InEchos')]);
    };
    const before = { a: rx(vm(2, 'a')), b: rx(vm(2, 'b')) };
    for (let i = 0; i < 5; i++) ping(vm(1, 'a'), target);
    const after = { a: rx(vm(2, 'a')), b: rx(vm(2, 'b')) };
    expect(after.a - before.a).toBeGreaterThanOrEqual(5);
    expect(after.b - before.b).toBe(0);
  });

  itWith(SRV6)("a VM cannot send to the underlay or to another tenant's SID", () => {
    expect(ping(vm(1, 'a'), 'fc00:f::2')).toBe(false);
    expect(ping(vm(1, 'a'), 'fc00:0:2:b::')).toBe(false);
  });

  itWith(SRV6)("the outer packets leave through the underlay with the peer SID as destination and the node's encapSource as source", async () => {
    const hv2 = hvs[1].ns;
    const rx = () => hv2.ipJson(['-s', 'link', 'show', 'ul0'])[0].stats64.rx.packets as number;
    const before = rx();
    // An independent observer on hv2's uplink: a raw socket that prints the outer IPv6 source of
    // the first frame addressed to alpha's SID there.
    const capture = outerSources(hv2, 'ul0', 'fc00:0:2:a::', scaled(10_000));
    await new Promise((r) => setTimeout(r, scaled(300))); // the socket is bound
    expect(reaches(vm(1, 'a'), VRF ? '10.0.2.2' : 'fd00:2::2')).toBe(true);
    expect(await capture).toEqual(['fc00:f::1']);
    expect(rx() - before).toBeGreaterThanOrEqual(1);
    // The SID route counts what it decapsulated (seg6local `count`), seen through iproute2.
    const sid = hv2.ipJson(['-6', '-s', 'route', 'show', 'fc00:0:2:a::/128'])[0];
    expect(sid.encap).toBe('seg6local');
    expect(sid.stats64.packets).toBeGreaterThan(0);
  });

  // The kernel's `0: lookup local` rule would deliver them before the l3mdev / tenant `iif` rule;
  // the agent moves it behind those (ADR 0010, 0011).
  itWith(SRV6)("a VM's packets never reach its own HV's stack (the HV's IPv4 and IPv6 addresses)", () => {
    const hv1 = hvs[0].ns;
    const before = icmpInEchos(hv1);
    for (const target of ['172.31.0.1', 'fc00:f::1']) ping(vm(1, 'a'), target);
    const after = icmpInEchos(hv1);
    expect({ 4: after[4] - before[4], 6: after[6] - before[6] }).toEqual({ 4: 0, 6: 0 });
  });

  itWith(SRV6)("a VM's packets to its own gateway still reach the HV's stack, to another tenant's gateway never", () => {
    // Table mode: the gateway's local route in the tenant table. Replies leave through main, which
    // has no tenant prefixes, so the count of echo requests received is what tells.
    const hv1 = hvs[0].ns;
    vm(1, 'b').ip(['addr', 'add', '10.0.9.2/24', 'dev', 'eth0']);
    hv1.ip(['addr', 'add', '10.0.9.1/24', 'dev', 'tb0']); // not beta's gateway in the spec: never local for alpha either
    try {
      const before = icmpInEchos(hv1);
      ping(vm(1, 'a'), '10.0.1.1');
      ping(vm(1, 'a'), 'fd00:1::1');
      const own = icmpInEchos(hv1);
      ping(vm(1, 'a'), '10.0.9.1');
      const other = icmpInEchos(hv1);
      expect({ own: { 4: own[4] - before[4], 6: own[6] - before[6] }, other: { 4: other[4] - own[4], 6: other[6] - own[6] } }).toEqual({
        own: { 4: 1, 6: 1 },
        other: { 4: 0, 6: 0 },
      });
    } finally {
      hv1.ip(['addr', 'del', '10.0.9.1/24', 'dev', 'tb0']);
      vm(1, 'b').ip(['addr', 'del', '10.0.9.2/24', 'dev', 'eth0']);
    }
  });

  itWith(SRV6)('NDP works both ways after the neighbours are forgotten: the VM finds its gateway, the HV the VM', () => {
    // The VM's solicitation goes to a multicast address, the HV's from its link-local one: with
    // the local rule moved, table mode answers them through its link-scope rules.
    for (const n of [1, 2] as const) {
      vm(n, 'a').ip(['neigh', 'flush', 'dev', 'eth0']);
      hvs[n - 1].ns.ip(['neigh', 'flush', 'dev', 'ta0']);
    }
    expect(reaches(vm(1, 'a'), 'fd00:2::2')).toBe(true);
    for (const n of [1, 2] as const) {
      const state = (ns: TestNetns, addr: string, dev: string) => ns.ipJson(['-6', 'neigh', 'show', addr, 'dev', dev])[0]?.state;
      expect({ n, vm: state(vm(n, 'a'), `fd00:${n}::1`, 'eth0'), hv: state(hvs[n - 1].ns, `fd00:${n}::2`, 'ta0') }).toEqual({
        n,
        vm: expect.arrayContaining([expect.stringMatching(/REACHABLE|STALE|DELAY|PROBE/)]),
        hv: expect.arrayContaining([expect.stringMatching(/REACHABLE|STALE|DELAY|PROBE/)]),
      });
    }
  });

  itWith(SRV6)("the HV itself still reaches its own addresses, and the local rule sits behind the tenants' rules", () => {
    const hv1 = hvs[0].ns;
    for (const target of ['172.31.0.1', 'fc00:f::1']) expect(ping(hv1, target)).toBe(true);
    for (const family of ['-4', '-6']) expect(localRulePrefs(hv1, family)).toEqual([1001]);
  });

  // Table mode only (VRF mode has one l3mdev rule, nothing to jump over).
  if (!VRF)
    itWith(SRV6)("table mode: the HV's own and the underlay's lookups jump over the tenant rules to the local rule", () => {
      const hv1 = hvs[0].ns;
      for (const family of ['-4', '-6']) {
        const rules = hv1.ipJson([family, 'rule', 'show']);
        // iproute2 marks a goto whose target priority holds no rule `unresolved` (the kernel skips it)
        const jumps = rules
          .filter((r: any) => r.goto !== undefined)
          .map((r: any) => ({ priority: r.priority, iif: r.iif, goto: r.goto, unresolved: 'unresolved' in r }));
        expect(jumps).toEqual([
          { priority: 998, iif: 'lo', goto: 1001, unresolved: false },
          { priority: 998, iif: 'ul0', goto: 1001, unresolved: false },
        ]);
        // the tenant rules sit between the jump and its target
        expect(rules.filter((r: any) => r.iif === 'ta0' || r.iif === 'tb0').map((r: any) => r.priority)).toEqual([1000, 1000]);
      }
      expect(
        hv1
          .ipJson(['-6', 'rule', 'show'])
          .filter((r: any) => r.priority === 999)
          .map((r: any) => `${r.dst}/${r.dstlen} ${r.table}`),
      ).toEqual(['fe80::/64 local', 'ff00::/8 local']);
      // They jump: with a rule among the tenant rules that refuses exactly what the jumps match,
      // the HV still reaches its own addresses and the other HV, and the underlay still decaps.
      const refuse = (action: 'add' | 'del') => {
        for (const family of ['-4', '-6']) for (const iif of ['lo', 'ul0']) hv1.ip([family, 'rule', action, 'pref', '1000', 'iif', iif, 'prohibit']);
      };
      refuse('add');
      try {
        for (const target of ['172.31.0.1', 'fc00:f::1', 'fc00:f::2']) expect({ target, ok: ping(hv1, target) }).toEqual({ target, ok: true });
        expect(reaches(vm(2, 'a'), 'fd00:1::2')).toBe(true);
      } finally {
        refuse('del');
      }
    });

  itWith(SRV6)("without tenants the kernel's local rule is back at 0", async () => {
    const hv = hvs[1];
    for (const t of ['alpha', 'beta']) expect((await hv.dp.deleteTenant(t)).failed).toEqual([]);
    for (const family of ['-4', '-6']) expect(localRulePrefs(hv.ns, family)).toEqual([0]);
    // table mode: the jumps stay with the node, their target gone, so the kernel skips them
    if (!VRF)
      for (const family of ['-4', '-6'])
        expect(
          hv.ns
            .ipJson([family, 'rule', 'show'])
            .filter((r: any) => r.goto !== undefined)
            .map((r: any) => 'unresolved' in r),
        ).toEqual([true, true]);
    expect(ping(hv.ns, 'fc00:f::2')).toBe(true);
  });
});
