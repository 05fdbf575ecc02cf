// Finds out what this host's kernel can do, by doing it: every feature is exercised in ONE
// throwaway network namespace and, because the kernel silently ignores attributes it does not
// know, verified by dumping the object back. The host itself is never changed: everything is
// created inside the probe namespace, which is deleted at the end whatever happens (and on
// process exit, should the probe be interrupted).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { release } from 'node:os';

import { formatPrefix, InvalidArgumentError, KernelError, parsePrefix, Route, Rtnetlink, Seg6Encap, Seg6Local } from '../netlink';
import { addNetns, deleteNetns, netnsPath } from '../kernel/named-netns';
import { BpfProber, describeBpfError, LibbpfProber, XdpAttachMode } from './bpf-prober';
import { Capabilities, decideMode, Feature, FEATURES, FeatureStatus, kernelAtLeast, srv6Role } from './capabilities.model';

export const PROBE_NETNS_PREFIX = 'srv6-probe-';

export interface ProbeDeps {
  kernelRelease(): string;
  pathExists(path: string): boolean;
  addNetns(name: string): Promise<void>;
  deleteNetns(name: string): Promise<void>;
  openRtnetlink(netns: string): Rtnetlink;
  /** null when there is no BPF support in this build. */
  bpf: BpfProber | null;
  now(): Date;
}

export const DEFAULT_PROBE_DEPS: ProbeDeps = {
  kernelRelease: release,
  pathExists: existsSync,
  addNetns,
  deleteNetns,
  openRtnetlink: (netns) => Rtnetlink.open({ netns }),
  bpf: new LibbpfProber(),
  now: () => new Date(),
};

// Probe namespaces of this process that still exist; deleted on exit if a probe was interrupted.
const liveProbeNetns = new Set<string>();
process.once('exit', () => {
  for (const name of liveProbeNetns) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

// Names inside the probe namespace.
const DEV = 'prb0';
const PEER = 'prb1';
const VRF_DEV = 'prbvrf';
const TABLE = 100;
const NH_ID = 1;
const SID_NEXT = 'fc00:0:ffff::2';
const SRH_SIDS = ['fc00:0:fffc::1', 'fc00:0:fffc::2'];
// The BPF_FIB_LOOKUP_TBID probe: a host route in a table of its own (not the VRF's).
const TBID_TABLE = 101;
const TBID_DST = '10.255.3.1';
// enum bpf_fib_lookup_ret (uapi bpf.h).
const BPF_FIB_LKUP_RET_SUCCESS = 0;
const BPF_FIB_LKUP_RET_NO_NEIGH = 7;
const NO_FIB_HELPER = 'no bpf_fib_lookup helper for XDP programs';

/** Short text of why the kernel (or our own validation) refused. */
export function reasonOf(e: unknown): string {
  if (e instanceof KernelError) return `${e.code}${e.extack ? `: ${e.extack}` : ''}`;
  if (e instanceof InvalidArgumentError) return `rejected before the kernel: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

const canon = (prefix: string) => {
  const p = parsePrefix(prefix, 'dst');
  return formatPrefix(p.addr, p.len);
};

interface Seg6LocalCase {
  feature: Feature;
  encap: (oif: number) => Seg6Local;
  needsVrf?: boolean;
}

const SEG6LOCAL_CASES: Seg6LocalCase[] = [
  { feature: 'seg6local.End', encap: () => ({ type: 'seg6local', action: 'End' }) },
  { feature: 'seg6local.End.X', encap: () => ({ type: 'seg6local', action: 'End.X', nh6: SID_NEXT }) },
  { feature: 'seg6local.End.T', encap: () => ({ type: 'seg6local', action: 'End.T', table: TABLE }) },
  { feature: 'seg6local.End.DX2', encap: (oif) => ({ type: 'seg6local', action: 'End.DX2', oif }) },
  { feature: 'seg6local.End.DX4', encap: () => ({ type: 'seg6local', action: 'End.DX4', nh4: '10.255.255.2' }) },
  { feature: 'seg6local.End.DX6', encap: () => ({ type: 'seg6local', action: 'End.DX6', nh6: SID_NEXT }) },
  { feature: 'seg6local.End.DT6', encap: () => ({ type: 'seg6local', action: 'End.DT6', table: TABLE }) },
  { feature: 'seg6local.End.DT4', encap: () => ({ type: 'seg6local', action: 'End.DT4', vrftable: TABLE }), needsVrf: true },
  { feature: 'seg6local.End.DT46', encap: () => ({ type: 'seg6local', action: 'End.DT46', vrftable: TABLE }), needsVrf: true },
  { feature: 'seg6local.End.DT6.vrftable', encap: () => ({ type: 'seg6local', action: 'End.DT6', vrftable: TABLE }), needsVrf: true },
  { feature: 'seg6local.End.B6', encap: () => ({ type: 'seg6local', action: 'End.B6', srh: SRH_SIDS }) },
  { feature: 'seg6local.End.B6.Encaps', encap: () => ({ type: 'seg6local', action: 'End.B6.Encaps', srh: SRH_SIDS }) },
];

/** Fields of a seg6local request that the read-back must show unchanged. */
const SEG6LOCAL_PARAMS = ['table', 'vrftable', 'nh4', 'nh6', 'iif', 'oif', 'srh'] as const;

export class CapabilityProbe {
  private readonly deps: ProbeDeps;

  constructor(deps: Partial<ProbeDeps> = {}) {
    this.deps = { ...DEFAULT_PROBE_DEPS, ...deps };
  }

  async run(): Promise<Capabilities> {
    const kernel = this.deps.kernelRelease();
    const features: Partial<Record<Feature, FeatureStatus>> = {};

    this.probeHostFacts(kernel, features);

    const name = `${PROBE_NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
    liveProbeNetns.add(name); // registered before it exists: an interrupted probe still cleans up
    try {
      await this.deps.addNetns(name);
      const rt = this.deps.openRtnetlink(name);
      try {
        await this.probeInNetns(rt, name, features);
      } finally {
        rt.close();
      }
    } catch (e) {
      const reason = `probe namespace failed: ${reasonOf(e)}`;
      for (const f of FEATURES) features[f] ??= { supported: null, reason };
    } finally {
      try {
        await this.deps.deleteNetns(name);
        liveProbeNetns.delete(name);
      } catch {
        /* left in liveProbeNetns: retried on exit */
      }
    }

    for (const f of FEATURES) features[f] ??= { supported: null, reason: 'not probed' };
    const complete = Object.fromEntries(FEATURES.map((f) => [f, features[f]!])) as Record<Feature, FeatureStatus>;
    const mode = decideMode(complete);
    return { kernel, mode, features: complete, probedAt: this.deps.now().toISOString(), srv6: srv6Role({ mode, features: complete }) };
  }

  /** Facts read from the host without changing anything. */
  private probeHostFacts(kernel: string, out: Partial<Record<Feature, FeatureStatus>>): void {
    const exists = this.deps.pathExists;
    out['trace.tp_btf'] = exists('/sys/kernel/btf/vmlinux')
      ? { supported: true, reason: 'kernel BTF present (/sys/kernel/btf/vmlinux)' }
      : { supported: false, reason: 'no kernel BTF (/sys/kernel/btf/vmlinux missing)' };
    out['trace.kprobe'] = exists('/sys/bus/event_source/devices/kprobe')
      ? { supported: true, reason: 'kprobe PMU present' }
      : { supported: false, reason: 'no kprobe PMU (/sys/bus/event_source/devices/kprobe)' };
    out['trace.kprobe_multi'] = { supported: null, reason: 'unknown: probed by ipft' };
    out['trace.fentry'] = { supported: null, reason: 'unknown: probed by ipft' };

    const bpf = this.deps.bpf?.features();
    const atLeast = kernelAtLeast(kernel, 6, 8);
    if (bpf?.ok && !bpf.features.helperFibLookup) out['bpf.fib_lookup_tbid'] = { supported: false, reason: NO_FIB_HELPER };
    else if (atLeast === undefined) out['bpf.fib_lookup_tbid'] = { supported: null, reason: `cannot parse kernel version ${JSON.stringify(kernel)}` };
    // A last resort: probeFibTbid() replaces it with what a test run of the helper shows.
    else out['bpf.fib_lookup_tbid'] = { supported: atLeast, reason: `kernel ${kernel} ${atLeast ? '>=' : '<'} 6.8 (version check, not a load test)` };
  }

  private async probeInNetns(rt: Rtnetlink, netns: string, out: Partial<Record<Feature, FeatureStatus>>): Promise<void> {
    const check = async (feature: Feature, fn: () => Promise<FeatureStatus>): Promise<FeatureStatus> => {
      let s: FeatureStatus;
      try {
        s = await fn();
      } catch (e) {
        // The kernel saying no is a definite answer; anything else (our own validation, a socket
        // problem) means we do not know.
        s = { supported: e instanceof KernelError ? false : null, reason: reasonOf(e) };
      }
      out[feature] = s;
      return s;
    };
    const yes: FeatureStatus = { supported: true };

    await rt.setLink('lo', { up: true });

    // veth: the device everything else hangs off. Without it, routes go on lo and XDP is unknown.
    const veth = await check('veth', async () => {
      await rt.createLink({ name: DEV, kind: 'veth', peer: { name: PEER } });
      const l = await rt.link(DEV);
      if (l?.kind !== 'veth') return { supported: false, reason: `created, but reads back as ${JSON.stringify(l?.kind)}` };
      await rt.setLink(PEER, { up: true });
      await rt.setLink(DEV, { up: true });
      return yes;
    });
    const oif = (await rt.link(veth.supported ? DEV : 'lo'))!.index;

    // VRF bound to TABLE, with strict mode (End.DT4/DT46/DT6-vrftable need both).
    const vrf = await check('vrf', async () => {
      await rt.createLink({ name: VRF_DEV, kind: 'vrf', table: TABLE });
      const l = await rt.link(VRF_DEV);
      if (l?.kind !== 'vrf' || l.table !== TABLE) return { supported: false, reason: `created, but reads back as kind ${l?.kind} table ${l?.table}` };
      await rt.setLink(VRF_DEV, { up: true });
      return yes;
    });
    let vrfReady: FeatureStatus = vrf.supported ? yes : { supported: false, reason: 'needs VRF' };
    if (vrf.supported) {
      try {
        rt.sysctl.set(['net', 'vrf', 'strict_mode'], 1);
        const v = rt.sysctl.get(['net', 'vrf', 'strict_mode']);
        if (v !== '1') vrfReady = { supported: false, reason: `needs VRF strict mode (net.vrf.strict_mode reads back ${v})` };
      } catch (e) {
        vrfReady = { supported: false, reason: `needs VRF strict mode (net.vrf.strict_mode: ${reasonOf(e)})` };
      }
    }

    // A nexthop object with seg6 encap.
    const seg6 = (mode: Seg6Encap['mode']): Seg6Encap => ({ type: 'seg6', mode, segments: [SID_NEXT] });
    await check('nexthop.seg6', async () => {
      await rt.addNexthop({ id: NH_ID, family: 6, oif, encap: seg6('encap') });
      const nh = (await rt.nexthops()).find((n) => n.id === NH_ID);
      if (nh?.encap?.type !== 'seg6' || nh.encap.mode !== 'encap' || nh.encap.segments.join() !== SID_NEXT)
        return { supported: false, reason: `accepted, but reads back without the seg6 encap (${JSON.stringify(nh?.encap ?? null)})` };
      return yes;
    });

    // seg6 encap routes, one per mode.
    const modes: Array<[Feature, Seg6Encap['mode'], string]> = [
      ['seg6.encap', 'encap', '10.255.1.0/24'],
      ['seg6.encap.red', 'encap.red', '10.255.2.0/24'],
      ['seg6.inline', 'inline', 'fc00:0:fffe:3::/64'],
    ];
    for (const [feature, mode, dst] of modes)
      await check(feature, async () => {
        await rt.addRoute({ dst, oif, encap: seg6(mode) });
        const back = await this.readRoute(rt, dst);
        const e = back?.encap;
        if (e?.type !== 'seg6' || e.mode !== mode || e.segments.join() !== SID_NEXT)
          return { supported: false, reason: `accepted, but reads back as ${JSON.stringify(e ?? null)}` };
        return yes;
      });

    // seg6local actions.
    let n = 0;
    for (const c of SEG6LOCAL_CASES) {
      const dst = `fc00:0:fffd::${(++n).toString(16)}/128`;
      if (c.needsVrf && !vrfReady.supported) {
        out[c.feature] = vrfReady;
        continue;
      }
      await check(c.feature, () => this.seg6localWorks(rt, dst, oif, c.encap(oif)));
    }

    // Per-route counters and flavors: accepted silently by kernels that do not know them, so
    // only a read-back that shows them counts.
    await check('seg6local.counters', async () => {
      const dst = 'fc00:0:fffd::100/128';
      await rt.addRoute({ dst, oif, encap: { type: 'seg6local', action: 'End', counters: true } });
      const back = await this.readRoute(rt, dst);
      const cnt = back?.encap?.type === 'seg6local' ? back.encap.counters : undefined;
      if (typeof cnt !== 'object') return { supported: false, reason: 'accepted, but the route reads back without counters (attribute ignored)' };
      return yes;
    });
    await check('seg6local.flavors.next-csid', async () => {
      const dst = 'fc00:0:fffd::101/128';
      await rt.addRoute({ dst, oif, encap: { type: 'seg6local', action: 'End', flavors: { operations: ['next-csid'], lblen: 32, nflen: 16 } } });
      const back = await this.readRoute(rt, dst);
      const flv = back?.encap?.type === 'seg6local' ? back.encap.flavors : undefined;
      if (!flv?.operations.includes('next-csid'))
        return { supported: false, reason: 'accepted, but the route reads back without the next-csid flavor (attribute ignored)' };
      return yes;
    });

    // XDP through a bpf_link on the veth, natively and in generic (skb) mode.
    await this.probeXdp(rt, netns, veth, out);
    if (veth.supported) await this.probeFibTbid(rt, netns, oif, out);
  }

  /**
   * bpf_fib_lookup with BPF_FIB_LOOKUP_TBID (6.8), which the XDP offload's End.DT* lookups use:
   * older kernels refuse the flag with EINVAL, and the offload would pass every packet (in table
   * mode, where the kernel has no End.DT4, that is dropping them). Asked by doing it: a route that
   * only TBID_TABLE has, looked up through a test run from the veth. Without the BPF build the
   * version check of probeHostFacts() stays.
   */
  private async probeFibTbid(rt: Rtnetlink, netns: string, oif: number, out: Partial<Record<Feature, FeatureStatus>>): Promise<void> {
    if (!this.deps.bpf || out['bpf.fib_lookup_tbid']?.reason === NO_FIB_HELPER) return;
    const fallback = out['bpf.fib_lookup_tbid'];
    try {
      await rt.addRoute({ dst: `${TBID_DST}/32`, oif, table: TBID_TABLE });
      rt.sysctl.set(['net', 'ipv4', 'conf', DEV, 'forwarding'], 1); // the helper checks it first
    } catch (e) {
      out['bpf.fib_lookup_tbid'] = { supported: fallback?.supported ?? null, reason: `${fallback?.reason}; the test run could not be set up: ${reasonOf(e)}` };
      return;
    }
    const r = await this.deps.bpf.fibLookupTbid(netnsPath(netns), oif, TBID_TABLE, TBID_DST);
    const how = `bpf_fib_lookup of ${TBID_DST} in table ${TBID_TABLE} with BPF_FIB_LOOKUP_TBID (test run)`;
    if (!r.ok) out['bpf.fib_lookup_tbid'] = { supported: fallback?.supported ?? null, reason: `${fallback?.reason}; ${r.reason}` };
    // NO_NEIGH: the route of TBID_TABLE was found (main has none), its neighbour is unknown.
    else if (r.rc === BPF_FIB_LKUP_RET_NO_NEIGH || r.rc === BPF_FIB_LKUP_RET_SUCCESS)
      out['bpf.fib_lookup_tbid'] = { supported: true, reason: `${how} found the table's route` };
    else if (r.rc === -22) out['bpf.fib_lookup_tbid'] = { supported: false, reason: `${how}: EINVAL, the kernel does not know the flag (needs 6.8)` };
    else out['bpf.fib_lookup_tbid'] = { supported: false, reason: `${how} did not find the table's route (returned ${r.rc})` };
  }

  private async probeXdp(rt: Rtnetlink, netns: string, veth: FeatureStatus, out: Partial<Record<Feature, FeatureStatus>>): Promise<void> {
    const modes: Array<[Feature, XdpAttachMode, 'driver' | 'generic']> = [
      ['xdp.native', 'native', 'driver'],
      ['xdp.generic', 'generic', 'generic'],
    ];
    const unknown = (reason: string) => {
      for (const [f] of modes) out[f] = { supported: null, reason };
    };
    if (!this.deps.bpf) return unknown('no BPF support in this build');
    if (!veth.supported) return unknown('needs a veth device');
    const prepared = await this.deps.bpf.prepareXdp();
    if (!prepared.ok) {
      for (const [f] of modes) out[f] = { supported: prepared.supported, reason: prepared.reason };
      return;
    }
    try {
      for (const [feature, mode, attached] of modes) {
        let link: { close(): void } | undefined;
        try {
          link = prepared.session.attach(DEV, netnsPath(netns), mode);
          const l = await rt.link(DEV);
          out[feature] =
            l?.xdp?.attached === attached
              ? { supported: true, reason: `bpf_link attach in ${attached} mode verified on ${DEV} (${prepared.session.source})` }
              : { supported: false, reason: `attached, but the device reports XDP ${JSON.stringify(l?.xdp?.attached ?? 'none')}` };
        } catch (e) {
          const errno = (e as { errno?: unknown }).errno;
          out[feature] = { supported: typeof errno === 'number' ? false : null, reason: describeBpfError(e) };
        } finally {
          link?.close();
        }
      }
    } finally {
      prepared.session.close();
    }
  }

  private async seg6localWorks(rt: Rtnetlink, dst: string, oif: number, encap: Seg6Local): Promise<FeatureStatus> {
    await rt.addRoute({ dst, oif, encap });
    const back = (await this.readRoute(rt, dst))?.encap;
    if (back?.type !== 'seg6local' || back.action !== encap.action)
      return { supported: false, reason: `accepted, but reads back as ${JSON.stringify(back ?? null)}` };
    for (const p of SEG6LOCAL_PARAMS) {
      if (encap[p] === undefined) continue;
      if (JSON.stringify(back[p]) !== JSON.stringify(encap[p]))
        return { supported: false, reason: `accepted, but ${p} reads back as ${JSON.stringify(back[p] ?? null)} (sent ${JSON.stringify(encap[p])})` };
    }
    return { supported: true };
  }

  private async readRoute(rt: Rtnetlink, dst: string): Promise<Route | undefined> {
    const want = canon(dst);
    const family = want.includes(':') ? 6 : 4;
    return (await rt.routes({ family })).find((r) => r.dst === want && r.table === 254);
  }
}
