// Kernel tier: the XDP offload inside the agent. HV2 is managed by a real Dataplane with an
// XdpSync (as DataplaneService wires it); jobs turn the offload on and off; real UDP crosses a
// two-HV veth topology; the independent observers are the VMs' own sockets (what arrived),
// `ip -j link` and `bpftool net` (what is attached to the underlay), `bpftool map dump` (the SID
// map) and iproute2's view of the kernel's seg6local counters.
//
//   VM A1 eth0 ══ vA ┐                                       ┌ vA ══ eth0 VM A2   [vm_nic XDP]
//   VM B1 eth0 ══ vB ┴ HV1 ─ u1 ════ underlay veth ════ u2 ─ HV2 ┴ vB ══ eth0 VM B2   [vm_nic XDP]
//      (iproute2: H.Encaps towards HV2's SIDs)      [XDP offload]   (the agent: Dataplane + XdpSync)
//
// | HV2 tenant | behaviour | SID           | interface | VM on HV2  | HV1 encap                 |
// |------------|-----------|---------------|-----------|------------|---------------------------|
// | alpha      | End.DT4   | fc00:0:2:a::  | vA        | 10.0.2.1   | table 100, with SRH       |
// | beta       | End.DX4   | fc00:0:2:b::  | vB        | 10.0.2.1   | table 200, reduced        |
//
// Both VMs on HV2 have the same address: only the SID tells the tenants apart. Table mode on the
// host (alpha's End.DT4 exists only through XDP there: its SID route is a blackhole), VRF mode in
// the lab (End.DT4 vrftable behind XDP).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { CapabilityMissingError } from '../common/errors';
import type { AgentConfig } from '../config/agent.config';
import { Dataplane, JobResult } from '../dataplane/dataplane';
import type { DataplaneService } from '../dataplane/dataplane.service';
import type { DesiredState } from '../dataplane/desired-state';
import { DesiredStateStore } from '../dataplane/state-store';
import type { TenantSpecDto } from '../dataplane/spec.dto';
import { KernelApplyError, runJob } from '../jobs/job-runner';
import type { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { MetricsService } from '../metrics/metrics.service';
import { packageRoot } from '../native/addon';
import { Rtnetlink } from '../netlink/rtnetlink';
import { StateService } from '../state/state.service';
import { itWith, kernelHas, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { scaled } from '../testing/time-scale';
import { encapRoutes, tableModeTenant, TwoHv, wire } from '../testing/topology/two-hv';
import { Receiver, runIn } from '../testing/traffic/sockets';
import { VmNic } from '../testing/traffic/vm-nic';
import { ensureBpffs } from './xdp-offload';
import { XdpSync } from './xdp-sync';

jest.setTimeout(scaled(60_000));

const VRF = kernelHas('CONFIG_NET_VRF');
const MODE = VRF ? 'vrf' : 'table';
const SID = { alpha: 'fc00:0:2:a::', beta: 'fc00:0:2:b::' } as const;
const VM2 = '10.0.2.1';
const MAC = { A2: '02:aa:00:00:02:01', B2: '02:bb:00:00:02:01' };
type T = 'alpha' | 'beta';

let hv1: TestNetns;
let hv2: TestNetns;
let vm: Record<'A1' | 'B1' | 'A2' | 'B2', TestNetns>;
let nics: VmNic[] = [];
let pinRoot: string;
let stateDir: string;
let nl: Rtnetlink;
let xdp: XdpSync;
let dp: Dataplane;
const logs: string[] = [];
let metrics: MetricsService;
let state: StateService;

function openAgent(): Promise<JobResult> {
  xdp = new XdpSync({ nl, netns: hv2.name, pinRoot, log: (level, msg) => logs.push(`${level}: ${msg}`) });
  dp = new Dataplane({ nl, store: new DesiredStateStore(stateDir), mode: MODE, netns: hv2.name, debounceMs: 50, offload: xdp });
  return dp.start();
}

function stopAgent(): void {
  dp.stop();
  xdp.close();
}

const node = { underlay: ['u2'], locator: 'fc00:0:2::/48', encapSource: 'fc00:12::2', underlayMtu: 1500 };
const tenant = (t: T, xdpOffload: boolean): TenantSpecDto =>
  t === 'alpha'
    ? { id: 'alpha', behaviour: 'End.DT4', sid: SID.alpha, xdpOffload, interfaces: [{ name: 'vA', gateways: ['10.0.2.254/24'] }], routes: [] }
    : {
        id: 'beta',
        behaviour: 'End.DX4',
        sid: SID.beta,
        xdpOffload,
        dx: { nexthop: VM2, interface: 'vB' },
        interfaces: [{ name: 'vB', gateways: ['10.0.2.254/24'] }],
        routes: [],
      };

function build(): void {
  // Reverse-path filtering off where the test (not the agent) owns the interfaces: the underlay
  // must not put End.DX4 in shadow mode (XdpOffload's rp_filter guard); HV1's tenant side is
  // plain table-mode routing.
  const topo = TwoHv.build({
    tag: 'xag',
    sysctls: ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'],
    underlay: { devs: ['u1', 'u2'], addresses: [['fc00:12::1/64'], ['fc00:12::2/64']] },
    vms: [
      { name: 'A1', hv: 1, tap: 'vA', addresses: ['10.0.1.1/24'], gateways: ['10.0.1.254'] },
      { name: 'B1', hv: 1, tap: 'vB', addresses: ['10.0.1.1/24'], gateways: ['10.0.1.254'] },
      { name: 'A2', hv: 2, tap: 'vA', nicMac: MAC.A2, addresses: [`${VM2}/24`], gateways: ['10.0.2.254'] },
      { name: 'B2', hv: 2, tap: 'vB', nicMac: MAC.B2, addresses: [`${VM2}/24`], gateways: ['10.0.2.254'] },
    ],
  });
  ({ hv1, hv2, vm } = topo);
  hv1.ipBatch(['route add fc00:0:2::/48 via fc00:12::2 dev u1']);
  hv2.sysctl('net.ipv4.conf.u2.rp_filter=0');
  wire(hv1, 'u1');
  hv1.sysctl('net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.all.seg6_enabled=1');
  for (const [t, table, mode, sid] of [
    ['A', 100, 'encap', SID.alpha],
    ['B', 200, 'encap.red', SID.beta],
  ] as const) {
    tableModeTenant(hv1, { tap: `v${t}`, table, gateways: ['10.0.1.254/24'], subnets: ['10.0.1.0/24'] });
    encapRoutes(hv1, { table, mode, dev: 'u1', locator: 'fc00:0:2::/48', via: 'fc00:12::2', routes: [['10.0.2.0/24', sid]] });
  }
  hv2.ipBatch(['link set dev vA up', 'link set dev vB up']);
}

/** UDP datagrams "<tag>-<i>" from a VM on HV1 to VM2's address on port 7001. */
async function sendUdp(from: TestNetns, tag: string, count: number): Promise<string[]> {
  const script = `const d=require('dgram');const [tag,n]=process.argv.slice(1);const s=d.createSocket('udp4');
s.bind(40004,'10.0.1.1',async()=>{for(let i=0;i<+n;i++){await new Promise(r=>s.send(tag+'-'+i,7001,'${VM2}',r));await new Promise(r=>setTimeout(r,1));}s.close();console.log('sent');});`;
  const r = await runIn(from, process.execPath, ['-e', script, tag, String(count)], scaled(15_000));
  expect(r.stdout.trim()).toBe('sent');
  return Array.from({ length: count }, (_, i) => `${tag}-${i}`);
}

/** What each VM on HV2 received while `fn` ran (waiting, up to a deadline, for `expected` frames). */
async function received(fn: () => Promise<unknown>, expected: Partial<Record<T, number>>): Promise<Record<T, string[]>> {
  const rx = { alpha: await Receiver.start(vm.A2), beta: await Receiver.start(vm.B2) };
  const stop = async () => ({ alpha: (await rx.alpha.stop()).sort(), beta: (await rx.beta.stop()).sort() });
  try {
    const n0 = nics[0].packets() + nics[1].packets();
    await fn();
    const want = (expected.alpha ?? 0) + (expected.beta ?? 0);
    const end = Date.now() + scaled(3000);
    while (nics[0].packets() + nics[1].packets() - n0 < want && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    // What must NOT arrive has had its chance, and the sockets have read what did.
    await new Promise((r) => setTimeout(r, scaled(200)));
  } catch (e) {
    await stop();
    throw e;
  }
  return stop();
}

async function counters(): Promise<Record<T, { packets: number; bytes: number; passed: Record<string, number> }>> {
  const st = await xdp.status(dp.state);
  const of = (sid: string) => {
    const c = st.sids.find((x) => x.sid === sid);
    return { packets: c?.packets ?? 0, bytes: c?.bytes ?? 0, passed: (c?.passed ?? {}) as Record<string, number> };
  };
  return { alpha: of(SID.alpha), beta: of(SID.beta) };
}

/** The kernel's seg6local counters (packets + errors) of a SID route on HV2, via iproute2. */
function kernelCount(sid: string): number {
  const [r] = hv2.ipJson<Array<{ stats64?: { packets: number; errors: number } }>>(['-6', '-s', 'route', 'show', `${sid}/128`]);
  return r?.stats64 ? r.stats64.packets + r.stats64.errors : 0;
}

/** What is attached to the underlay, as iproute2 and bpftool report it. */
function attachedToU2(): { ip?: { mode: number; progId: number }; bpftool: { mode: string; id: number }[] } {
  const [l] = hv2.ipJson<Array<{ xdp?: { mode: number; prog?: { id: number } } }>>(['link', 'show', 'dev', 'u2']);
  const net = JSON.parse(hv2.exec('bpftool', ['-j', 'net', 'show', 'dev', 'u2'])) as Array<{ xdp?: Array<{ mode: string; id: number }> }>;
  return {
    ...(l.xdp ? { ip: { mode: l.xdp.mode, progId: l.xdp.prog!.id } } : {}),
    bpftool: net.flatMap((n) => n.xdp ?? []).map((x) => ({ mode: x.mode, id: x.id })),
  };
}

const XDP_MODE_DRV = 1;

/** SIDs in the pinned map, read by bpftool (keys decoded here, not by src/xdp/layout.ts). */
function sidsInMap(): string[] {
  const out = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', path.join(xdp.pinDir, 'srv6_sids')], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ key: string[] }>)
    .map((e) => {
      const k = Buffer.from(e.key.map((x) => parseInt(x, 16)));
      return Array.from({ length: 8 }, (_, i) => k.readUInt16BE(2 * i).toString(16)).join(':');
    })
    .sort();
}
const full = (sid: string) => ({ [SID.alpha]: 'fc00:0:2:a:0:0:0:0', [SID.beta]: 'fc00:0:2:b:0:0:0:0' })[sid];

/** Outer IPv6 bytes of our datagrams (what seg6local and the offload count): IPv6 [+ SRH] + IPv4 + UDP + payload. */
const outerBytes = (payloads: string[], srh: boolean) => payloads.reduce((a, p) => a + 40 + (srh ? 8 + 16 : 0) + 20 + 8 + p.length, 0);

beforeAll(async () => {
  execFileSync('make', ['-C', path.join(packageRoot(), 'bpf'), '-s']);
  ensureBpffs('/sys/fs/bpf');
  pinRoot = mkdtempSync('/sys/fs/bpf/srv6t-xag-');
  stateDir = mkdtempSync(path.join(tmpdir(), 'srv6t-xag-'));
  build();
  // The VMs' NICs on HV2: XDP_REDIRECT into a veth needs a program on its peer (ADR 0004, 4.).
  nics = [await VmNic.attach(vm.A2, 'eth0'), await VmNic.attach(vm.B2, 'eth0')];
  nl = Rtnetlink.open({ netns: hv2.name });
  await openAgent();
  metrics = new MetricsService();
  // The services as the application wires them (without Nest): /v1/state and /metrics read the dataplane.
  state = new StateService(
    { agent: { hypervisor: 'hv2' } } as AgentConfig,
    {
      get dataplane() {
        return dp;
      },
    } as unknown as DataplaneService,
    { rtnetlink: nl } as unknown as RtnetlinkRepository,
    metrics,
    // XdpModule's XdpSync; openAgent() makes a new one for each agent start.
    { status: (st: DesiredState) => xdp.status(st) } as unknown as XdpSync,
  );
  state.onModuleInit();
});

afterAll(() => {
  dp?.stop();
  xdp?.close();
  for (const n of nics) n.close();
  nl?.close();
  destroyAllNetns(); // the underlay goes with its namespace, and its XDP link with it
  if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe(`XDP offload in the agent (${MODE} mode)`, () => {
  let linkView: ReturnType<typeof attachedToU2>;

  itWith(SRV6)('without an offloaded tenant nothing is loaded or attached', async () => {
    const r = await dp.upsertNode(node);
    expect(r.failed).toEqual([]);
    expect(r.xdp).toBeUndefined();
    expect(xdp.active).toBe(false);
    expect(attachedToU2()).toEqual({ bpftool: [] });
    expect(readdirSync(pinRoot)).toEqual([]);
  });

  itWith(SRV6)('the first offloaded tenants attach the program to the underlay (native, pinned link) and fill the SID map', async () => {
    const a = await dp.upsertTenant(tenant('alpha', true));
    expect(a.failed).toEqual([]);
    expect(a.xdp).toMatchObject({ sids: 1, added: 1, attachments: [{ ifname: 'u2', mode: 'native' }], detached: [] });
    const b = await dp.upsertTenant(tenant('beta', true));
    expect(b.failed).toEqual([]);
    expect(b.xdp).toMatchObject({ sids: 2, added: 1, attachments: [{ ifname: 'u2', mode: 'native' }] });
    linkView = attachedToU2();
    expect(linkView.ip).toEqual({ mode: XDP_MODE_DRV, progId: expect.any(Number) });
    expect(linkView.bpftool).toEqual([{ mode: 'driver', id: linkView.ip!.progId }]);
    expect(readdirSync(xdp.pinDir)).toContain('link_u2');
    expect(sidsInMap()).toEqual([full(SID.alpha), full(SID.beta)].sort());
    // The kernel's own decap routes: End.DT4 exists in table mode only through XDP.
    const [alphaRoute] = hv2.ipJson(['-6', 'route', 'show', `${SID.alpha}/128`]);
    if (MODE === 'table') expect(alphaRoute).toMatchObject({ type: 'blackhole' });
    else expect(alphaRoute).toMatchObject({ encap: 'seg6local', action: 'End.DT4' });
    expect(hv2.ipJson(['-6', 'route', 'show', `${SID.beta}/128`])[0]).toMatchObject({ encap: 'seg6local', action: 'End.DX4' });
  });

  itWith(SRV6)('before HV2 knows the VM as a neighbour, XDP passes to the kernel (in table mode End.DT4 then drops)', async () => {
    const c0 = await counters();
    const k0 = kernelCount(SID.beta);
    let sent: Record<T, string[]> = { alpha: [], beta: [] };
    const got = await received(
      async () => {
        sent = { alpha: await sendUdp(vm.A1, 'alpha-w', 3), beta: await sendUdp(vm.B1, 'beta-w', 3) };
      },
      MODE === 'table' ? { beta: 3 } : { alpha: 3, beta: 3 },
    );
    const c1 = await counters();
    // The first datagram of each finds no neighbour; the kernel resolves it (End.DX4, VRF End.DT4)
    // and later ones may already go through XDP.
    expect(c1.beta.passed.no_neigh - (c0.beta.passed.no_neigh ?? 0)).toBeGreaterThanOrEqual(1);
    expect(kernelCount(SID.beta) - k0 + c1.beta.packets - c0.beta.packets).toBe(3);
    expect(got.beta).toEqual(sent.beta.sort());
    if (MODE === 'table') {
      // No kernel End.DT4 without a VRF: passed packets meet the blackhole, and nothing asks
      // for the neighbour. All three were passed for that reason and none arrived.
      expect(c1.alpha.passed.no_neigh - (c0.alpha.passed.no_neigh ?? 0)).toBe(3);
      expect(c1.alpha.packets).toBe(c0.alpha.packets);
      expect(got.alpha).toEqual([]);
      // A VM that talks to its gateway leaves a neighbour entry on its HV: stand in for that.
      hv2.ip(['neigh', 'replace', VM2, 'lladdr', MAC.A2, 'dev', 'vA', 'nud', 'stale']);
    } else expect(got.alpha).toEqual(sent.alpha.sort());
  });

  itWith(SRV6)('UDP from each VM on HV1 reaches its own tenant’s VM on HV2, decapsulated by XDP', async () => {
    const c0 = await counters();
    const k0 = kernelCount(SID.beta);
    let sent: Record<T, string[]> = { alpha: [], beta: [] };
    const got = await received(
      async () => {
        sent = { alpha: await sendUdp(vm.A1, 'alpha', 20), beta: await sendUdp(vm.B1, 'beta', 20) };
      },
      { alpha: 20, beta: 20 },
    );
    expect(got).toEqual({ alpha: sent.alpha.sort(), beta: sent.beta.sort() });
    const c1 = await counters();
    expect({ alpha: c1.alpha.packets - c0.alpha.packets, beta: c1.beta.packets - c0.beta.packets }).toEqual({ alpha: 20, beta: 20 });
    expect({ alpha: c1.alpha.bytes - c0.alpha.bytes, beta: c1.beta.bytes - c0.beta.bytes }).toEqual({
      alpha: outerBytes(sent.alpha, true),
      beta: outerBytes(sent.beta, false),
    });
    expect(c1.alpha.passed).toEqual(c0.alpha.passed);
    expect(c1.beta.passed).toEqual(c0.beta.passed);
    // The kernel's End.DX4 saw none of them.
    expect(kernelCount(SID.beta)).toBe(k0);
  });

  itWith(SRV6)('the agent watches the underlay but its own attachment causes no repair storm', async () => {
    const before = dp.stats.reconciles;
    await new Promise((r) => setTimeout(r, 1000));
    // debounce 50 ms: a repair loop would have run about 20 times by now
    expect(dp.stats.reconciles - before).toBeLessThanOrEqual(1);
  });

  itWith(SRV6)('/metrics and /v1/state show the per-SID counters, the passed reasons and the attachment', async () => {
    const c = await counters();
    const text = await metrics.text();
    const line = (name: string, t: T, behaviour: string, extra = '') =>
      `srv6_agent_xdp_${name}{tenant="${t}",sid="${SID[t]}",behaviour="${behaviour}"${extra}}`;
    expect(text).toContain(`${line('sid_packets_total', 'alpha', 'End.DT4')} ${c.alpha.packets}\n`);
    expect(text).toContain(`${line('sid_bytes_total', 'alpha', 'End.DT4')} ${c.alpha.bytes}\n`);
    expect(text).toContain(`${line('sid_packets_total', 'beta', 'End.DX4')} ${c.beta.packets}\n`);
    expect(text).toContain(`${line('sid_passed_total', 'beta', 'End.DX4', ',reason="no_neigh"')} ${c.beta.passed.no_neigh}\n`);
    expect(text).toContain('srv6_agent_xdp_attached{interface="u2",mode="native"} 1\n');
    expect(text).toMatch(/srv6_agent_xdp_packets_total\{reason="redirect"\} \d+/);
    expect(c.alpha.packets).toBeGreaterThanOrEqual(20);

    const s = await state.summary();
    expect(s.xdp).toMatchObject({ active: true, attachments: [{ interface: 'u2', mode: 'native', programId: linkView.ip!.progId }] });
    expect(s.xdp!.packets.redirect).toBeGreaterThanOrEqual(40);
    const byId = Object.fromEntries(s.tenants.map((t) => [t.id, t]));
    expect(byId.alpha.xdp).toEqual({ packets: c.alpha.packets, bytes: c.alpha.bytes, passedToKernel: c.alpha.passed });
    expect(byId.beta.xdp).toEqual({ packets: c.beta.packets, bytes: c.beta.bytes, passedToKernel: c.beta.passed });
    expect((await state.tenant('beta')).observed.xdp).toEqual(byId.beta.xdp);
  });

  itWith(SRV6)('an agent restart detaches nothing: traffic flows through XDP while it is down, and after', async () => {
    const c0 = await counters();
    stopAgent();
    // The agent is gone: the pinned link keeps the program on the underlay.
    expect(attachedToU2()).toEqual(linkView);
    const down = await received(() => sendUdp(vm.A1, 'alpha-down', 5), { alpha: 5 });
    expect(down.alpha).toHaveLength(5);

    const r = await openAgent();
    expect(r.failed).toEqual([]);
    expect(r.operations).toBe(0);
    expect(r.xdp).toMatchObject({ sids: 2, added: 0, updated: 0, deleted: 0, detached: [], replaced: [] });
    expect(attachedToU2()).toEqual(linkView); // the same program, never detached
    // The counters live in pinned maps: they went on counting while the agent was away.
    const c1 = await counters();
    expect(c1.alpha.packets - c0.alpha.packets).toBe(5);
    const after = await received(() => sendUdp(vm.B1, 'beta-after', 5), { beta: 5 });
    expect(after.beta).toHaveLength(5);
    expect((await counters()).beta.packets - c0.beta.packets).toBe(5);
  });

  itWith(SRV6)('switching End.DT4 to the kernel path: refused in table mode (nothing changed), allowed with a VRF', async () => {
    const before = sidsInMap();
    if (MODE === 'table') {
      await expect(dp.upsertTenant(tenant('alpha', false))).rejects.toBeInstanceOf(CapabilityMissingError);
      expect(sidsInMap()).toEqual(before);
      expect(dp.state.tenants.alpha.xdpOffload).toBe(true);
    } else {
      const r = await dp.upsertTenant(tenant('alpha', false));
      expect(r.failed).toEqual([]);
      expect(r.xdp).toMatchObject({ sids: 1, deleted: 1 });
      expect(sidsInMap()).toEqual([full(SID.beta)]);
    }
    expect(attachedToU2()).toEqual(linkView);
  });

  itWith(SRV6)('deleting the offloaded tenants: the link stays while one is left, the last one detaches it', async () => {
    const a = await dp.deleteTenant('alpha');
    expect(a.failed).toEqual([]);
    expect(sidsInMap()).toEqual([full(SID.beta)]);
    expect(attachedToU2()).toEqual(linkView);

    const b = await dp.upsertTenant(tenant('beta', false));
    expect(b.failed).toEqual([]);
    expect(b.xdp).toMatchObject({ sids: 0, deleted: 1, detached: ['u2'], attachments: [] });
    expect(xdp.active).toBe(false);
    expect(attachedToU2()).toEqual({ bpftool: [] });
    expect(readdirSync(xdp.pinDir).filter((f) => f.startsWith('link_'))).toEqual([]);
    // Beta's packets now take the kernel's End.DX4, counted by its seg6local route.
    const k0 = kernelCount(SID.beta);
    const got = await received(() => sendUdp(vm.B1, 'beta-kernel', 5), { beta: 5 });
    expect(got.beta).toHaveLength(5);
    expect(kernelCount(SID.beta) - k0).toBe(5);
    expect(await state.xdpCounters()).toBeUndefined();
    expect((await metrics.text()).split('\n').filter((l) => l.startsWith('srv6_agent_xdp_'))).toEqual([]);
  });
});

describe('XDP offload failures in the agent', () => {
  let ns: TestNetns;
  let nl2: Rtnetlink;
  let sync2: XdpSync;
  let dp2: Dataplane;
  let dir: string;

  beforeAll(async () => {
    ns = TestNetns.create('xag-err');
    ns.vethPairs([
      ['ul0', 'ul1'],
      ['tx0', 'tx1'],
    ]);
    dir = mkdtempSync(path.join(tmpdir(), 'srv6t-xag-err-'));
    nl2 = Rtnetlink.open({ netns: ns.name });
    sync2 = new XdpSync({ nl: nl2, netns: ns.name, pinRoot, object: '/nonexistent/srv6_decap.bpf.o' });
    dp2 = new Dataplane({ nl: nl2, store: new DesiredStateStore(dir), mode: MODE, netns: ns.name, offload: sync2 });
    await dp2.start();
  });

  afterAll(() => {
    dp2?.stop();
    sync2?.close();
    nl2?.close();
    ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  itWith(SRV6)('an offload that cannot load fails the job with a typed, clear error, and the job is undone', async () => {
    await dp2.upsertNode({ ...node, underlay: ['ul0'] });
    // The VRF driver adds its `1000: lookup [l3mdev-table]` rules with the namespace's first VRF
    // and keeps them (it never adds them again): the kernel's, not part of the job.
    const snapshot = () => {
      const s = ns.kernelSnapshot() as { rules: { l3mdev?: unknown }[] };
      return { ...s, rules: s.rules.filter((r) => !('l3mdev' in r)) };
    };
    const before = snapshot();
    const version = dp2.state.version;
    const spec: TenantSpecDto = {
      id: 'gamma',
      behaviour: 'End.DX4',
      sid: 'fc00:0:2:c::',
      xdpOffload: true,
      dx: { nexthop: '10.9.0.2', interface: 'tx0' },
      interfaces: [{ name: 'tx0', gateways: ['10.9.0.1/24'] }],
      routes: [],
    };
    let err: unknown;
    try {
      await runJob(dp2, { type: 'upsert-tenant', tenant: spec } as Parameters<typeof runJob>[1]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelApplyError);
    const f = (err as KernelApplyError).failures;
    expect(f).toEqual([
      expect.objectContaining({
        kind: 'xdp',
        action: 'load',
        what: 'xdp offload on ul0',
        message: expect.stringMatching(/^xdp offload could not be loaded: .*nonexistent/),
      }),
    ]);
    expect((err as KernelApplyError).retry).toBe('permanent');
    expect((err as KernelApplyError).result.rolledBack).toEqual({ operations: expect.any(Number), failed: [] });
    expect((err as KernelApplyError).message).toMatch(new RegExp(`undone: the kernel and the desired state are back at version ${version}$`));
    // Undone: no End.DX4 route, no tenant, nothing on the uplink, the kernel as before the job.
    expect(ns.ipJson(['-6', 'route', 'show', 'fc00:0:2:c::/128'])).toEqual([]);
    expect(ns.ipJson(['link', 'show', 'dev', 'ul0'])[0].xdp).toBeUndefined();
    expect(dp2.state.version).toBe(version);
    expect(dp2.state.tenants.gamma).toBeUndefined();
    expect(snapshot()).toEqual(before);
  });
});
