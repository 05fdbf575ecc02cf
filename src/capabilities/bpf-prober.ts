// The BPF side of the capability probe, over the libbpf wrapper (src/bpf/libbpf.ts): what the
// kernel lets us load, and XDP attachment through a bpf_link on a device of the probe namespace.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { BpfError } from '../bpf/errors';
import { BpfFeatures, BpfObject, probeFeatures, XdpLink, xdpMd, XdpMode } from '../bpf/libbpf';
import { packageRoot } from '../native/addon';

export type XdpAttachMode = 'native' | 'generic';

export interface XdpSession {
  /** Which program is attached, for the report ("xdp_pass from bpf/build/probe/xdp_pass.bpf.o"). */
  readonly source: string;
  /** Attaches the probe program to `ifname` in `netns` (a path); throws on failure. */
  attach(ifname: string, netns: string, mode: XdpAttachMode): { close(): void };
  close(): void;
}

export type XdpPrepared = { ok: true; session: XdpSession } | { ok: false; supported: false | null; reason: string };

export interface BpfProber {
  /** libbpf's feature probes, or a reason why they could not run. */
  features(): { ok: true; features: BpfFeatures } | { ok: false; reason: string };
  /** Loads a pass-everything XDP program for attach tests. */
  prepareXdp(): Promise<XdpPrepared>;
  /**
   * One test run of FIB_TBID_PROBE in `netns` (a path) as if `ifindex` had received the packet:
   * bpf_fib_lookup of the IPv4 address `dst` directly in `table` (BPF_FIB_LOOKUP_TBID). The
   * helper's return value, or why the program could not run.
   */
  fibLookupTbid(netns: string, ifindex: number, table: number, dst: string): Promise<{ ok: true; rc: number } | { ok: false; reason: string }>;
}

/** bpf/probe/fib_tbid.bpf.c: the question in the packet, the helper's answer written over it. */
export const FIB_TBID_PROBE = { file: 'bpf/build/probe/fib_tbid.bpf.o', prog: 'fib_tbid_probe' } as const;

/**
 * Objects holding a program that returns XDP_PASS, in order of preference. The first is meant for
 * this probe (bpf/probe/xdp_pass.bpf.c); until it exists, the libbpf test object's pass program
 * serves (it is loaded, attached to a throwaway veth and closed: its maps are never used).
 */
export const XDP_PROBE_OBJECTS: ReadonlyArray<{ file: string; prog: string }> = [
  { file: 'bpf/build/probe/xdp_pass.bpf.o', prog: 'xdp_pass' },
  { file: 'bpf/build/test/xdp_test.bpf.o', prog: 'xdp_test_pass' },
];

function describe(e: unknown): string {
  if (e instanceof BpfError) return `${e.op}: ${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message.split('\n')[0]})` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

export class LibbpfProber implements BpfProber {
  constructor(
    private readonly objects: ReadonlyArray<{ file: string; prog: string }> = XDP_PROBE_OBJECTS,
    private readonly root: string = packageRoot(),
  ) {}

  features(): { ok: true; features: BpfFeatures } | { ok: false; reason: string } {
    try {
      return { ok: true, features: probeFeatures() };
    } catch (e) {
      return { ok: false, reason: `libbpf feature probe failed: ${describe(e)}` };
    }
  }

  async prepareXdp(): Promise<XdpPrepared> {
    const f = this.features();
    if (f.ok && !f.features.progXdp) return { ok: false, supported: false, reason: 'the kernel refuses XDP programs (libbpf prog type probe)' };
    const found = this.objects.find((o) => existsSync(join(this.root, o.file)));
    if (!found) return { ok: false, supported: null, reason: `no XDP probe object built (looked for ${this.objects.map((o) => o.file).join(', ')})` };
    let obj: BpfObject;
    try {
      obj = await BpfObject.load(join(this.root, found.file));
    } catch (e) {
      return { ok: false, supported: null, reason: `loading ${found.file}: ${describe(e)}` };
    }
    try {
      const prog = obj.prog(found.prog);
      return {
        ok: true,
        session: {
          source: `${found.prog} from ${found.file}`,
          attach: (ifname, netns, mode) => XdpLink.attach(prog, ifname, { netns, mode: mode === 'native' ? XdpMode.Drv : XdpMode.Skb }),
          close: () => obj.close(),
        },
      };
    } catch (e) {
      obj.close();
      return { ok: false, supported: null, reason: `${found.file}: ${describe(e)}` };
    }
  }

  async fibLookupTbid(netns: string, ifindex: number, table: number, dst: string): Promise<{ ok: true; rc: number } | { ok: false; reason: string }> {
    const file = join(this.root, FIB_TBID_PROBE.file);
    if (!existsSync(file)) return { ok: false, reason: `no probe object built (${FIB_TBID_PROBE.file})` };
    let obj: BpfObject;
    try {
      obj = await BpfObject.load(file);
    } catch (e) {
      return { ok: false, reason: `loading ${FIB_TBID_PROBE.file}: ${describe(e)}` };
    }
    try {
      const data = Buffer.alloc(64); // room for an Ethernet header's worth: test runs want >= 14 bytes
      data.writeUInt32LE(table, 0);
      Buffer.from(dst.split('.').map(Number)).copy(data, 4);
      const r = await obj.prog(FIB_TBID_PROBE.prog).testRun({ data, ctx: xdpMd(data.length, { ingressIfindex: ifindex }), netns });
      return { ok: true, rc: r.data.readInt32LE(0) };
    } catch (e) {
      return { ok: false, reason: `test run of ${FIB_TBID_PROBE.prog}: ${describe(e)}` };
    } finally {
      obj.close();
    }
  }
}

export { describe as describeBpfError };
