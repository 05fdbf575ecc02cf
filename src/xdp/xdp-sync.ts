// The XDP offload as a step of every reconcile (ADR 0004): after the kernel objects are applied,
// the SID map and the links follow the same desired state. The reconciler calls reconcile() and
// turns what fails into reconcile failures (kind 'xdp'); nothing here throws at it.
//
// - Nothing asks for the offload and nothing is pinned: a no-op (no program loaded, no bpffs I/O
//   beyond one readdir).
// - The first tenant with `xdpOffload` loads the program (reusing pinned maps and links: an agent
//   restart neither detaches nor resets counters) and attaches it to the underlay; the last one
//   going detaches it everywhere and unloads it (the maps stay pinned).
// - Scoped (per-tenant) reconciles skip the map work when the offload's desired entries did not
//   change; full reconciles always re-sync, which also repairs a detached link or an edited map.
import type { OpFailure } from '../dataplane/applier';
import type { DesiredState } from '../dataplane/desired-state';
import type { Offload, OffloadReport } from '../dataplane/offload';
import type { Link } from '../netlink/link';
import { xdpDesired } from './entries';
import { XdpOffloadError, XdpStep } from './errors';
import type { Reason } from './layout';
import { pinDirOf, pinnedLinks, XdpApplyResult, XdpAttachment, XdpAttachMode, XdpOffload, XdpOffloadOptions, XdpSidCounters } from './xdp-offload';

/** The part of XdpOffload the sync uses (tests inject a fake). */
export type OffloadHandle = Pick<XdpOffload, 'apply' | 'attachments' | 'counters' | 'reasons' | 'close' | 'pinDir'>;

export interface XdpSyncOptions {
  /** Resolves tenant interfaces a scoped reconcile did not observe. */
  nl: { link(name: string): Promise<Pick<Link, 'name' | 'index'> | undefined> };
  /** Network namespace of the underlay (name), as the dataplane's. */
  netns?: string;
  pinRoot?: string;
  pinTag?: string;
  /** BPF object; default the package's bpf/build/xdp/srv6_decap.bpf.o. */
  object?: string;
  /** 'generic' forces generic mode; default native, generic only as a reported fallback. */
  mode?: XdpAttachMode;
  /** End.DX*: next hops looked up in main directly (see XdpSidEntry.dxMainTable). */
  dxMainTable?: boolean;
  log?: (level: 'log' | 'warn', msg: string, detail?: object) => void;
  /** Default XdpOffload.open. */
  open?: (opts: XdpOffloadOptions) => Promise<OffloadHandle>;
}

/** What a reconcile result says about the offload, when it ran. */
export type XdpReport = OffloadReport;

export interface XdpSidStatus extends XdpSidCounters {
  tenant?: string;
}

/** For /v1/state and /metrics. */
export interface XdpStatus {
  active: boolean;
  pinDir: string;
  attachments: XdpAttachment[];
  sids: XdpSidStatus[];
  /** Every packet the program saw, by verdict reason. */
  reasons: Partial<Record<Reason, number>>;
  shadowed: { sid: string; reason: string }[];
  skipped: { tenant: string; reason: string }[];
  /** The last reconcile's failure, until one succeeds. */
  error?: { step: XdpStep; message: string; code?: string };
}

export class XdpSync implements Offload {
  private offload?: OffloadHandle;
  /** ifindex by interface name: the last full observation, plus what scoped ones saw since. */
  private readonly ifindex = new Map<string, number>();
  /** The {underlay, entries} applied last (JSON); a scoped reconcile with the same skips the sync. */
  private applied?: string;
  private last?: Pick<XdpReport, 'shadowed' | 'skipped'>;
  private error?: XdpOffloadError;
  private readonly reportedFallback = new Set<string>();
  readonly pinDir: string;

  constructor(private readonly opts: XdpSyncOptions) {
    this.pinDir = pinDirOf(opts);
  }

  /** Is the program loaded (some tenant asked for the offload)? */
  get active(): boolean {
    return this.offload !== undefined;
  }

  /**
   * Makes the offload follow `state`. `links` are the interfaces the reconcile observed (all of
   * them for a full one). Returns the failures to report and, when the offload ran, a summary.
   */
  async reconcile(
    state: DesiredState,
    links: Map<string, Pick<Link, 'name' | 'index'>>,
    scope: 'full' | 'tenant',
  ): Promise<{ failed: OpFailure[]; report?: XdpReport }> {
    if (scope === 'full') this.ifindex.clear();
    for (const l of links.values()) this.ifindex.set(l.name, l.index);

    const offloaded = Object.values(state.tenants).filter((t) => t.xdpOffload);
    // Nothing asked for and nothing left attached from before (a crash between the state
    // write and the detach would leave pins): nothing to do, nothing loaded.
    if (!offloaded.length && !this.offload && !pinnedLinks(this.pinDir).length) {
      this.applied = undefined;
      this.last = undefined;
      this.error = undefined;
      return { failed: [] };
    }

    for (const t of offloaded)
      for (const name of [...t.interfaces.map((i) => i.name), ...(t.dx ? [t.dx.interface] : [])])
        if (!this.ifindex.has(name)) {
          const l = await this.opts.nl.link(name);
          if (l) this.ifindex.set(l.name, l.index);
        }
    const desired = xdpDesired(state, (n) => this.ifindex.get(n), { dxMainTable: this.opts.dxMainTable });
    const key = JSON.stringify({ underlay: desired.underlay, entries: desired.entries });
    if (scope === 'tenant' && this.offload && key === this.applied && !this.error) return { failed: [] };

    let step: XdpStep = 'load';
    try {
      this.offload ??= await this.load();
      step = 'apply';
      const res = await this.offload.apply({ underlay: desired.underlay, entries: desired.entries });
      this.applied = key;
      this.error = undefined;
      this.last = { shadowed: res.shadowed, skipped: desired.skipped };
      for (const s of desired.skipped) this.opts.log?.('warn', `xdp offload: tenant ${s.tenant} left to the kernel path: ${s.reason}`);
      const report = this.report(res, desired.skipped);
      if (!desired.entries.length) this.unload(); // the last offloaded tenant went: detached above
      return { failed: [], report };
    } catch (e) {
      // The next reconcile starts over from what the kernel holds (apply() reads the map back).
      this.applied = undefined;
      this.error = new XdpOffloadError(step, e);
      this.opts.log?.('warn', this.error.message, { code: this.error.code, detail: this.error.detail });
      return { failed: [failureOf(this.error, desired.underlay)] };
    }
  }

  private load(): Promise<OffloadHandle> {
    const o = this.opts;
    const opts: XdpOffloadOptions = {
      netns: o.netns,
      pinRoot: o.pinRoot,
      pinTag: o.pinTag,
      object: o.object,
      mode: o.mode,
      warn: (m) => o.log?.('warn', m),
    };
    return (o.open ?? XdpOffload.open)(opts);
  }

  private report(res: XdpApplyResult, skipped: XdpReport['skipped']): XdpReport {
    for (const a of res.attachments)
      if (a.fallback && !this.reportedFallback.has(a.ifname)) {
        this.reportedFallback.add(a.ifname);
        this.opts.log?.('warn', `xdp offload on ${a.ifname} runs in generic mode (slower than native): ${a.fallback}`);
      }
    for (const n of res.detached) this.reportedFallback.delete(n);
    return {
      sids: res.sync.added + res.sync.updated + res.sync.unchanged,
      added: res.sync.added,
      updated: res.sync.updated,
      deleted: res.sync.deleted,
      attachments: res.attachments.map((a) => ({ ifname: a.ifname, mode: a.mode, ...(a.fallback ? { fallback: a.fallback } : {}) })),
      detached: res.detached,
      replaced: res.updated,
      shadowed: res.shadowed,
      skipped,
    };
  }

  private unload(): void {
    this.offload?.close();
    this.offload = undefined;
    this.applied = undefined;
  }

  /** Counters and links, with the tenant of each SID from `state`. */
  async status(state: DesiredState): Promise<XdpStatus> {
    const off = this.offload;
    const base = {
      pinDir: this.pinDir,
      shadowed: this.last?.shadowed ?? [],
      skipped: this.last?.skipped ?? [],
      ...(this.error ? { error: { step: this.error.step, message: this.error.message, code: this.error.code } } : {}),
    };
    if (!off) return { active: false, attachments: [], sids: [], reasons: {}, ...base };
    const tenantOf = new Map(Object.values(state.tenants).map((t) => [t.sid, t.id]));
    // Counters first, synchronously: a reconcile may unload the offload while links are read.
    const sids = off.counters().map((c) => ({ ...c, ...(tenantOf.has(c.sid) ? { tenant: tenantOf.get(c.sid) } : {}) }));
    const reasons = Object.fromEntries(Object.entries(off.reasons()).filter(([, n]) => n > 0));
    const attachments = await off.attachments().catch(() => []);
    return { active: true, attachments, sids, reasons, ...base };
  }

  /** The underlay, while some tenant is offloaded: re-created under an attached program, it loses it. */
  watchedInterfaces(state: DesiredState): string[] {
    return Object.values(state.tenants).some((t) => t.xdpOffload) ? (state.node?.underlay ?? []) : [];
  }

  /** Closes our fds; pinned links and maps stay (traffic keeps flowing through a restart). */
  close(): void {
    this.offload?.close();
    this.offload = undefined;
  }
}

function failureOf(e: XdpOffloadError, underlay: string[]): OpFailure {
  return {
    kind: 'xdp',
    action: e.step,
    what: `xdp offload${underlay.length ? ` on ${underlay.join(', ')}` : ''}`,
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    ...(e.code ? { code: e.code } : {}),
    ...(e.detail ? { extack: e.detail } : {}),
    message: e.message,
  };
}
