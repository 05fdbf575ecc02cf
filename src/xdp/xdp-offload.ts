// The XDP decapsulation offload (bpf/xdp/srv6_decap.bpf.c) from user space: load, attach to the
// underlay interfaces through pinned bpf_links, keep the SID map equal to the desired state,
// read the counters. This class is the facade; each concern has its file:
//   xdp-loader.ts    pin directory, load (reusing pinned maps), layout check
//   sid-map.ts       the SID map and its counter slots; egress-table.ts, the egress allow-list
//   xdp-links.ts     the pinned links: reopen, attach/update/detach, what the kernel reports
//   shadow-guard.ts  SIDs the program cannot handle exactly here, put in shadow mode
//   xdp-counters.ts  per-SID and per-reason counters
//
// Lifecycle (all state the kernel needs lives in bpffs, nothing in this process):
//   pin dir  <pinRoot>/<tag>/                 tag = the netns name, or "host"
//     srv6_sids srv6_sid_stats srv6_reasons srv6_egress srv6_meta   maps (libbpf pin-by-name)
//     link_<ifname>                                                  one bpf_link per underlay
// - open(): loads the object, reusing the pinned maps (SIDs and counters survive a restart), and
//   reopens the pinned links. It never detaches or replaces anything: traffic keeps flowing
//   through whatever program is attached while the agent restarts.
// - apply()/sync(): the reconciler's entry point after every apply; the SID map becomes exactly
//   the given entries; then the links: missing ones are created (native mode; generic only as a
//   reported fallback), links running another build/configuration of the program are updated
//   atomically (bpf_link_update: no packet sees "no program"), links of interfaces no longer
//   wanted are detached. No entries left: every link is detached.
// - An upgrade whose maps changed layout: the old pins are unlinked (the running program keeps
//   its maps), fresh maps are pinned and filled by sync(), then the links are updated: at no
//   point does a packet meet an empty map with a program that would act on it.
import { rmSync } from 'node:fs';

import { ensureBpffs } from '../bpf/bpffs';
import { BpfError, BpfObject, BpfProgram } from '../bpf/libbpf';
import type { Reason, SidValue } from './layout';
import { shadowInexact } from './shadow-guard';
import { SidMap, XdpSidEntry, XdpSyncResult } from './sid-map';
import { reasonCounts, sidCounters, XdpSidCounters } from './xdp-counters';
import { XdpAttachment, XdpLinkOptions, XdpLinks } from './xdp-links';
import { loadXdpObject, XdpLoadOptions } from './xdp-loader';

export type { XdpBehaviour } from './layout';
export type { XdpSidEntry, XdpSyncResult } from './sid-map';
export type { XdpSidCounters } from './xdp-counters';
export { pinnedLinks } from './xdp-links';
export type { XdpAttachment, XdpAttachMode } from './xdp-links';
export { DEFAULT_PIN_ROOT, pinDirOf } from './xdp-loader';
export { ensureBpffs };

export interface XdpApplyResult {
  sync: XdpSyncResult;
  attachments: XdpAttachment[];
  /** Interfaces whose link was detached in this call. */
  detached: string[];
  /** Links whose program was replaced atomically (another build or configuration). */
  updated: string[];
  /** SIDs put in shadow mode because the offload could not be exact for them, and why. */
  shadowed: { sid: string; reason: string }[];
}

export interface XdpOffloadState {
  pinDir: string;
  program: { id: number; tag: string; identity: string };
  attachments: XdpAttachment[];
  sids: XdpSidCounters[];
  reasons: Record<Reason, number>;
}

export interface XdpOffloadOptions extends XdpLoadOptions, XdpLinkOptions {
  /** Warnings (generic fallback, stale pins). Default: console.warn. */
  warn?: (msg: string) => void;
}

export class XdpOffload {
  private closed = false;

  private constructor(
    private readonly obj: BpfObject,
    private readonly prog: BpfProgram,
    /** sha256 of the object file and the load-time configuration. */
    readonly identity: string,
    readonly pinDir: string,
    private readonly sids: SidMap,
    private readonly links: XdpLinks,
    private readonly opts: XdpOffloadOptions,
    private readonly warn: (msg: string) => void,
  ) {}

  /**
   * Loads the program (reusing the pinned maps) and reopens the pinned links. Attaches, detaches
   * and replaces nothing: call apply() for that.
   */
  static async open(opts: XdpOffloadOptions = {}): Promise<XdpOffload> {
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    const { obj, prog, identity, pinDir } = await loadXdpObject(opts, warn);
    const links = new XdpLinks(obj, prog, identity, pinDir, opts, warn);
    const off = new XdpOffload(obj, prog, identity, pinDir, new SidMap(obj), links, opts, warn);
    try {
      links.reopen();
    } catch (err) {
      off.close();
      throw err;
    }
    return off;
  }

  /** The loaded object (tests and benchmarks run the program through it). */
  get object(): BpfObject {
    return this.obj;
  }

  get program(): BpfProgram {
    return this.prog;
  }

  /** The SID map becomes exactly `entries` (see SidMap.sync). */
  sync(entries: XdpSidEntry[]): XdpSyncResult {
    return this.sids.sync(entries);
  }

  /** The SIDs in the map now, decoded (for state reports and tests). */
  entries(): (SidValue & { sid: string })[] {
    return this.sids.entries();
  }

  /** Egress ifindexes currently allowed. */
  egress(): number[] {
    return this.sids.egress();
  }

  /** Attaches to exactly `ifnames` (see XdpLinks.attach). */
  async attach(ifnames: string[]): Promise<{ attachments: XdpAttachment[]; detached: string[]; updated: string[] }> {
    this.live();
    return this.links.attach(ifnames);
  }

  /** Detaches every link and removes its pin (the maps stay pinned). */
  detachAll(): string[] {
    return this.links.detachAll();
  }

  /** The links and what the kernel says about them. */
  attachments(): Promise<XdpAttachment[]> {
    return this.links.attachments();
  }

  /**
   * The reconciler's call after every dataplane apply: the SID map becomes `entries`; with
   * entries the program is on exactly `underlay`, without any (the last offloaded tenant went) it
   * is detached everywhere.
   */
  async apply(desired: { underlay: string[]; entries: XdpSidEntry[] }): Promise<XdpApplyResult> {
    this.live();
    const { entries, shadowed } = shadowInexact(this.opts.netns, desired.underlay, desired.entries);
    for (const s of shadowed) this.warn(`xdp offload: ${s.sid}: shadow mode: ${s.reason}`);
    const sync = this.sync(entries);
    if (!entries.length) return { sync, attachments: [], detached: this.detachAll(), updated: [], shadowed };
    const { attachments, detached, updated } = await this.attach(desired.underlay);
    return { sync, attachments, detached, updated, shadowed };
  }

  /** Per-SID counters, summed over CPUs. */
  counters(): XdpSidCounters[] {
    return sidCounters(this.obj, this.entries());
  }

  /** Every packet the program saw, by verdict reason, summed over CPUs. */
  reasons(): Record<Reason, number> {
    return reasonCounts(this.obj);
  }

  /** For /v1/state and metrics. */
  async state(): Promise<XdpOffloadState> {
    const info = this.prog.info();
    return {
      pinDir: this.pinDir,
      program: { id: info.id, tag: info.tag, identity: this.identity },
      attachments: await this.attachments(),
      sids: this.counters(),
      reasons: this.reasons(),
    };
  }

  /**
   * Closes our fds. Pinned links stay attached, pinned maps stay: a restarting agent reopens them.
   * (One writer per pin directory: two live instances on the same one would fight over the maps.)
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.links.close();
    this.obj.close();
  }

  /** Detaches everything and removes the pin directory (uninstall, tests). */
  destroy(): void {
    if (!this.closed) this.detachAll();
    this.close();
    rmSync(this.pinDir, { recursive: true, force: true });
  }

  private live(): void {
    if (this.closed) throw new BpfError('XdpOffload: closed', 'XdpOffload', 9, 'EBADF');
  }
}
