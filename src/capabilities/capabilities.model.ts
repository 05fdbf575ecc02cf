// What the capability probe reports: which kernel features this host has, and the mode the agent
// runs in as a consequence (VRF mode, or table mode on kernels without CONFIG_NET_VRF).

/** The features the probe checks, in report order. */
export const FEATURES = [
  'veth',
  'vrf',
  'nexthop.seg6',
  'seg6.encap',
  'seg6.encap.red',
  'seg6.inline',
  'seg6local.End',
  'seg6local.End.X',
  'seg6local.End.T',
  'seg6local.End.DX2',
  'seg6local.End.DX4',
  'seg6local.End.DX6',
  'seg6local.End.DT6',
  'seg6local.End.DT4',
  'seg6local.End.DT46',
  'seg6local.End.DT6.vrftable',
  'seg6local.End.B6',
  'seg6local.End.B6.Encaps',
  'seg6local.counters',
  'seg6local.flavors.next-csid',
  'bpf.fib_lookup_tbid',
  'xdp.native',
  'xdp.generic',
  'trace.tp_btf',
  'trace.kprobe',
  'trace.kprobe_multi',
  'trace.fentry',
] as const;
export type Feature = (typeof FEATURES)[number];

export interface FeatureStatus {
  /** true: works here; false: the kernel refused (reason says how); null: could not be determined. */
  supported: boolean | null;
  reason?: string;
}

export type AgentMode = 'vrf' | 'table';

export interface Capabilities {
  /** os.release() */
  kernel: string;
  mode: AgentMode;
  features: Record<Feature, FeatureStatus>;
  /** ISO time of the probe. */
  probedAt: string;
  /** One line: what this host can and cannot do as an SRv6 node (srv6Role). */
  srv6?: string;
}

/** VRF mode needs VRF devices and End.DT4 with vrftable; anything less is table mode. */
export function decideMode(features: Partial<Record<Feature, FeatureStatus>>): AgentMode {
  return features.vrf?.supported === true && features['seg6local.End.DT4']?.supported === true ? 'vrf' : 'table';
}

/** [major, minor] of a kernel release string ("6.18.44-fc-v657" → [6, 18]); undefined if unparsable. */
export function kernelVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function kernelAtLeast(release: string, major: number, minor: number): boolean | undefined {
  const v = kernelVersion(release);
  if (!v) return undefined;
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/** One log line: mode, how many features work, and the missing/unknown ones with short reasons. */
export function summarize(c: Capabilities): string {
  const entries = Object.entries(c.features) as Array<[Feature, FeatureStatus]>;
  const yes = entries.filter(([, s]) => s.supported === true).length;
  const short = (s: FeatureStatus) => (s.reason ? ` (${s.reason.length > 60 ? `${s.reason.slice(0, 57)}...` : s.reason})` : '');
  const no = entries.filter(([, s]) => s.supported === false).map(([f, s]) => `${f}${short(s)}`);
  const unknown = entries.filter(([, s]) => s.supported === null).map(([f]) => f);
  return [
    `kernel ${c.kernel}, mode ${c.mode}: ${yes}/${entries.length} features supported`,
    no.length ? `missing: ${no.join(', ')}` : '',
    unknown.length ? `unknown: ${unknown.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

const DECAPS = ['End.DT4', 'End.DT6', 'End.DT46', 'End.DX4', 'End.DX6'] as const;

/**
 * What the agent can do here as an SRv6 node, in one line: H.Encaps (nexthop objects with seg6
 * encap), which decapsulation behaviours its tenants can have in this mode, the XDP offload.
 * Tenant jobs that need a missing piece are refused (src/dataplane/kernel-requirements.ts).
 */
export function srv6Role(c: Pick<Capabilities, 'mode' | 'features'>): string {
  const ok = (f: Feature) => c.features[f]?.supported === true;
  const encap = ok('nexthop.seg6') && ok('seg6.encap');
  const table = c.mode === 'table';
  // Table mode: End.DT6 by table lookup, End.DT4/DT46 only through the XDP offload (in front of a seg6local placeholder).
  const decaps = DECAPS.filter((b) => {
    if (table && (b === 'End.DT4' || b === 'End.DT46')) return ok('seg6local.End') && ok('bpf.fib_lookup_tbid') && (ok('xdp.native') || ok('xdp.generic'));
    return ok(`seg6local.${b}` as Feature);
  });
  const xdp = ok('xdp.native') ? 'native' : ok('xdp.generic') ? 'generic only' : 'no';
  const parts = [
    `H.Encaps ${encap ? `yes${ok('seg6.encap.red') ? ' (encap, encap.red)' : ' (encap; no encap.red)'}` : 'NO (no seg6 nexthops)'}`,
    `decapsulation ${decaps.length ? decaps.join(', ') : 'NONE (no seg6local)'}${table && decaps.some((d) => d === 'End.DT4' || d === 'End.DT46') ? ' (End.DT4/DT46 with xdpOffload only)' : ''}`,
    `XDP offload ${xdp}`,
  ];
  const verdict =
    encap && decaps.length ? 'an SRv6 node' : decaps.length || encap ? 'a partial SRv6 node' : 'NOT an SRv6 node: tenant jobs are refused, node jobs work';
  return `${c.mode} mode, ${verdict}: ${parts.join('; ')}`;
}
