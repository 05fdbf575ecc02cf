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
