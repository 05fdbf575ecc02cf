// The XDP decapsulation offload (bpf/xdp/srv6_decap.bpf.c) from user space: load, attach to the
// underlay interfaces through pinned bpf_links, keep the SID map equal to the desired state,
// read the counters.
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
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

import { ensureBpffs } from '../bpf/bpffs';
import { BpfError, BpfMap, BpfObject, BpfProgram, MapUpdate, XdpLink, XdpMode } from '../bpf/libbpf';
import { packageRoot } from '../native/addon';
import { InvalidArgumentError } from '../netlink/errors';
import { formatAddress, parseAddress } from '../netlink/ip';
import { Rtnetlink } from '../netlink/rtnetlink';
import { Sysctl } from '../netlink/sysctl';
import {
  addStats,
  decodeSidKey,
  decodeSidValue,
  EGRESS_SLOTS,
  EGRESS_VALUE_SIZE,
  EgressTable,
  emptyStats,
  encodeEgress,
  encodeSidKey,
  encodeSidValue,
  MAPS,
  MAX_EGRESS,
  MAX_SIDS,
  META_SIZE,
  Reason,
  REASONS,
  SID_FLAG_DX_MAIN,
  SID_FLAG_SHADOW,
  SID_KEY_SIZE,
  SID_STATS_SIZE,
  SID_VALUE_SIZE,
  SidStats,
  SidValue,
  u32Key,
  XDP_BEHAVIOURS,
  XdpBehaviour,
} from './layout';

export type { XdpBehaviour } from './layout';

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/srv6-agent';
const PROGRAM = 'srv6_xdp_decap';
const LINK_PREFIX = 'link_';

/** One offloaded SID, as the reconciler derives it from a tenant with `xdpOffload: true`. */
export interface XdpSidEntry {
  sid: string;
  action: XdpBehaviour;
  /** End.DT4/DT6/DT46: the tenant's routing table. */
  table?: number;
  /** End.DX4: next hop (default: the inner destination, as the kernel does). */
  nh4?: string;
  /** End.DX6: next hop (default: the inner destination). */
  nh6?: string;
  /** End.DX4/DX6: ifindex of the VM's interface; a fib result on another device is passed. Also allowed as egress. */
  oif?: number;
  /**
   * Interfaces (ifindex) packets may be redirected to: the tenant's interfaces. They must take
   * XDP frames (tap; veth whose peer has an XDP program or GRO enabled). A fib result on any
   * other device is left to the kernel.
   */
  egress?: number[];
  /** Count what would be redirected, pass everything (canary before enabling). */
  shadow?: boolean;
  /**
   * End.DX*: look the next hop up in table main directly instead of through the policy rules
   * and the local table as the kernel does (about 30 ns less per IPv6 packet). Only equivalent
   * when no rule above main matches packets from the underlay (the agent's own rules,
   * iif <tenant interface> and l3mdev, never do) and no local-table route covers the next hop
   * (the kernel drops what resolves to a local or anycast address): the caller's statement,
   * hence opt-in (ADR 0004).
   */
  dxMainTable?: boolean;
}

export interface XdpSyncResult {
  added: number;
  updated: number;
  deleted: number;
  unchanged: number;
  egressAdded: number;
  egressDeleted: number;
}

export type XdpAttachMode = 'native' | 'generic';

export interface XdpAttachment {
  ifname: string;
  ifindex: number;
  /** What the kernel reports for the device (rtnetlink IFLA_XDP). */
  mode: XdpAttachMode | 'unknown';
  linkId: number;
  progId: number;
  pin: string;
  /** Set when native mode failed and generic mode was used instead: why native failed. */
  fallback?: string;
}

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

export interface XdpSidCounters extends SidStats {
  sid: string;
  action: XdpBehaviour;
}

export interface XdpOffloadState {
  pinDir: string;
  program: { id: number; tag: string; identity: string };
  attachments: XdpAttachment[];
  sids: XdpSidCounters[];
  reasons: Record<Reason, number>;
}

export interface XdpOffloadOptions {
  /** Network namespace of the underlay devices (name or path); default: ours. */
  netns?: string;
  /** bpffs directory holding one pin directory per namespace. Default /sys/fs/bpf/srv6-agent. */
  pinRoot?: string;
  /** Name of the pin directory; default the netns name, or "host". */
  pinTag?: string;
  /** The BPF object; default <package>/bpf/build/xdp/srv6_decap.bpf.o. */
  object?: string;
  /** 'generic' forces generic (skb) mode; default 'native'. */
  mode?: XdpAttachMode;
  /** When native attach fails, attach in generic mode and report it (default true). */
  genericFallback?: boolean;
  /** Load-time: every SID in shadow mode. */
  shadow?: boolean;
  /** Load-time: bpf_printk every pass reason. */
  debug?: boolean;
  /** Warnings (generic fallback, stale pins). Default: console.warn. */
  warn?: (msg: string) => void;
}

/** Native attach errors after which generic mode is worth trying. */
const FALLBACK_CODES = new Set(['EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'ERANGE']);

export { ensureBpffs };

/** Where open() pins the maps and links for these options: <pinRoot>/<netns name or "host">. */
export function pinDirOf(opts: Pick<XdpOffloadOptions, 'pinRoot' | 'pinTag' | 'netns'>): string {
  const tag = opts.pinTag ?? (opts.netns ? basename(opts.netns) : 'host');
  if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new InvalidArgumentError('pinTag', `not a plain directory name: ${tag}`);
  return join(opts.pinRoot ?? DEFAULT_PIN_ROOT, tag);
}

/** Names of the pinned links in a pin directory (their interfaces); none if it does not exist. */
export function pinnedLinks(pinDir: string): string[] {
  try {
    return readdirSync(pinDir)
      .filter((f) => f.startsWith(LINK_PREFIX))
      .map((f) => f.slice(LINK_PREFIX.length));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function sha256(...parts: (Buffer | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function validateEntries(entries: XdpSidEntry[]): Map<string, { entry: XdpSidEntry; value: Omit<SidValue, 'statsIdx'> }> {
  if (entries.length > MAX_SIDS) throw new InvalidArgumentError('entries', `at most ${MAX_SIDS} SIDs can be offloaded, got ${entries.length}`);
  const out = new Map<string, { entry: XdpSidEntry; value: Omit<SidValue, 'statsIdx'> }>();
  entries.forEach((e, i) => {
    const f = `entries[${i}]`;
    const sid = formatAddress(parseAddress(e.sid, `${f}.sid`, 6));
    if (out.has(sid)) throw new InvalidArgumentError(`${f}.sid`, `SID ${sid} appears twice`);
    if (!XDP_BEHAVIOURS.includes(e.action)) throw new InvalidArgumentError(`${f}.action`, `not an offloadable behaviour: ${e.action}`);
    const dt = e.action.startsWith('End.DT');
    if (dt && !(Number.isInteger(e.table) && e.table! >= 1 && e.table! <= 0xffffffff))
      throw new InvalidArgumentError(`${f}.table`, `${e.action} needs a routing table id 1..2^32-1`);
    if (e.nh4 !== undefined && e.action !== 'End.DX4') throw new InvalidArgumentError(`${f}.nh4`, 'only End.DX4 has an IPv4 next hop');
    if (e.nh6 !== undefined && e.action !== 'End.DX6') throw new InvalidArgumentError(`${f}.nh6`, 'only End.DX6 has an IPv6 next hop');
    if (e.dxMainTable && dt) throw new InvalidArgumentError(`${f}.dxMainTable`, 'only End.DX4/End.DX6 look a next hop up');
    for (const [k, v] of [['oif', e.oif], ...(e.egress ?? []).map((x, j) => [`egress[${j}]`, x] as const)] as const)
      if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0x7fffffff))
        throw new InvalidArgumentError(`${f}.${k}`, `not an ifindex: ${v}`);
    out.set(sid, {
      entry: e,
      value: {
        action: e.action,
        table: dt ? e.table! : 0,
        oif: e.oif ?? 0,
        flags: (e.shadow ? SID_FLAG_SHADOW : 0) | (e.dxMainTable ? SID_FLAG_DX_MAIN : 0),
        nh4: formatAddress(parseAddress(e.nh4 ?? '0.0.0.0', `${f}.nh4`, 4)),
        nh6: formatAddress(parseAddress(e.nh6 ?? '::', `${f}.nh6`, 6)),
      },
    });
  });
  return out;
}

function sameValue(a: Omit<SidValue, 'statsIdx'>, b: Omit<SidValue, 'statsIdx'>): boolean {
  return a.action === b.action && a.table === b.table && a.oif === b.oif && a.flags === b.flags && a.nh4 === b.nh4 && a.nh6 === b.nh6;
}

export class XdpOffload {
  private links = new Map<string, { link: XdpLink; fallback?: string }>();
  private closed = false;
  private egressTable?: EgressTable;

  private constructor(
    private readonly obj: BpfObject,
    private readonly prog: BpfProgram,
    /** sha256 of the object file and the load-time configuration. */
    readonly identity: string,
    readonly pinDir: string,
    private readonly opts: XdpOffloadOptions,
  ) {}

  /**
   * Loads the program (reusing the pinned maps) and reopens the pinned links. Attaches, detaches
   * and replaces nothing: call apply() for that.
   */
  static async open(opts: XdpOffloadOptions = {}): Promise<XdpOffload> {
    const pinRoot = opts.pinRoot ?? DEFAULT_PIN_ROOT;
    const pinDir = pinDirOf(opts);
    ensureBpffs(pinRoot.startsWith('/sys/fs/bpf') ? '/sys/fs/bpf' : pinRoot);
    mkdirSync(pinDir, { recursive: true });

    const file = opts.object ?? join(packageRoot(), 'bpf/build/xdp/srv6_decap.bpf.o');
    const globals = { cfg_shadow: u32Key(opts.shadow ? 1 : 0), cfg_debug: u32Key(opts.debug ? 1 : 0) };
    const identity = sha256(readFileSync(file), JSON.stringify({ program: PROGRAM, shadow: !!opts.shadow, debug: !!opts.debug }));
    const warn = opts.warn ?? ((m: string) => console.warn(m));

    let obj: BpfObject;
    try {
      obj = await BpfObject.load(file, { pinRoot: pinDir, globals });
    } catch (err) {
      if (!(err instanceof BpfError) || !/reuse pinned map/.test(`${err.log ?? ''} ${err.message}`)) throw err;
      // An upgrade changed a map's layout. The attached program keeps its (now unpinned) maps
      // until apply() has filled the new ones and swapped the program.
      warn(`xdp offload: pinned maps in ${pinDir} do not match ${file}: replacing them (counters restart from 0)`);
      for (const m of Object.values(MAPS)) rmSync(join(pinDir, m), { force: true });
      obj = await BpfObject.load(file, { pinRoot: pinDir, globals });
    }
    const off = new XdpOffload(obj, obj.prog(PROGRAM), identity, pinDir, { ...opts, warn });
    try {
      off.checkLayout();
      off.reopenLinks();
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

  private map(name: string): BpfMap {
    return this.obj.map(name);
  }

  // User space and the object must agree on every layout; a stale object fails here, not in traffic.
  private checkLayout(): void {
    const want: Record<string, [number, number]> = {
      [MAPS.sids]: [SID_KEY_SIZE, SID_VALUE_SIZE],
      [MAPS.stats]: [4, SID_STATS_SIZE],
      [MAPS.reasons]: [4, 8],
      [MAPS.egress]: [4, EGRESS_VALUE_SIZE],
      [MAPS.meta]: [4, META_SIZE],
    };
    for (const [name, [k, v]] of Object.entries(want)) {
      const m = this.map(name);
      if (m.keySize !== k || m.valueSize !== v)
        throw new BpfError(`${this.obj.path}: map ${name} is ${m.keySize}/${m.valueSize} bytes, src/xdp/layout.ts expects ${k}/${v}`, 'checkLayout', 22, 'EINVAL');
    }
    if (this.map(MAPS.egress).maxEntries !== EGRESS_SLOTS)
      throw new BpfError(`${this.obj.path}: srv6_egress has ${this.map(MAPS.egress).maxEntries} slots, layout.ts ${EGRESS_SLOTS}`, 'checkLayout', 22, 'EINVAL');
    if (this.map(MAPS.reasons).maxEntries !== REASONS.length)
      throw new BpfError(`${this.obj.path}: srv6_reasons has ${this.map(MAPS.reasons).maxEntries} reasons, layout.ts ${REASONS.length}`, 'checkLayout', 22, 'EINVAL');
  }

  private reopenLinks(): void {
    for (const f of readdirSync(this.pinDir)) {
      if (!f.startsWith(LINK_PREFIX)) continue;
      const pin = join(this.pinDir, f);
      const link = XdpLink.fromPinned(pin);
      if (!link.info().ifindex) {
        // The device went away (its links went with it): forget the pin.
        this.opts.warn!(`xdp offload: ${pin} is detached (device gone): removing the pin`);
        link.close();
        unlinkSync(pin);
        continue;
      }
      this.links.set(f.slice(LINK_PREFIX.length), { link });
    }
  }

  // ---- SIDs ----

  /**
   * Makes the SID map exactly `entries` (adds, updates in place, deletes) and the egress set the
   * union of their `egress`/`oif`. Order: egress added, SIDs added/updated, SIDs deleted, egress
   * deleted: a packet never meets a SID whose egress is not yet allowed.
   */
  sync(entries: XdpSidEntry[]): XdpSyncResult {
    const want = validateEntries(entries);
    const sids = this.map(MAPS.sids);
    const stats = this.map(MAPS.stats);
    const egress = this.egressAllowList();
    const res: XdpSyncResult = { added: 0, updated: 0, deleted: 0, unchanged: 0, egressAdded: 0, egressDeleted: 0 };

    const current = new Map<string, SidValue>();
    for (const [k, v] of sids.entries()) current.set(decodeSidKey(k), decodeSidValue(v));

    const wantEgress = new Set<number>();
    for (const { entry } of want.values()) {
      for (const i of entry.egress ?? []) if (i) wantEgress.add(i);
      if (entry.oif) wantEgress.add(entry.oif);
    }
    if (wantEgress.size > MAX_EGRESS) throw new InvalidArgumentError('entries', `at most ${MAX_EGRESS} egress interfaces, got ${wantEgress.size}`);
    const haveEgress = new Set(egress.list());
    for (const i of wantEgress) if (egress.add(i)) res.egressAdded++;

    // Counter slots: kept by surviving SIDs, the rest free (lowest first, deterministic).
    const used = new Set<number>();
    for (const [sid, v] of current) if (want.has(sid)) used.add(v.statsIdx);
    let next = 0;
    const allocate = (): number => {
      while (used.has(next)) next++;
      if (next >= MAX_SIDS) throw new InvalidArgumentError('entries', 'no free counter slot');
      used.add(next);
      return next;
    };

    for (const [sid, { value }] of want) {
      const cur = current.get(sid);
      if (cur && sameValue(cur, value) && cur.statsIdx < MAX_SIDS) {
        res.unchanged++;
        continue;
      }
      let statsIdx: number;
      if (cur && cur.statsIdx < MAX_SIDS) {
        statsIdx = cur.statsIdx;
        res.updated++;
      } else {
        statsIdx = allocate();
        // Zero the slot before the SID can count into it.
        stats.updatePerCpu(u32Key(statsIdx), Buffer.alloc(SID_STATS_SIZE));
        if (cur) res.updated++;
        else res.added++;
      }
      sids.update(encodeSidKey(sid), encodeSidValue({ ...value, statsIdx }), MapUpdate.Any);
    }
    for (const sid of current.keys())
      if (!want.has(sid)) {
        sids.delete(encodeSidKey(sid));
        res.deleted++;
      }
    for (const i of haveEgress) if (!wantEgress.has(i) && egress.delete(i)) res.egressDeleted++;
    return res;
  }

  // The egress table, read from the map once (this object is its only writer), then mirrored.
  private egressAllowList(): EgressTable {
    if (!this.egressTable) {
      const m = this.map(MAPS.egress);
      const slots = new Uint32Array(EGRESS_SLOTS);
      for (let k = 0; k < EGRESS_SLOTS; k++) slots[k] = m.lookup(u32Key(k))?.readUInt32LE(0) ?? 0;
      this.egressTable = new EgressTable(slots, (k, v) => m.update(u32Key(k), encodeEgress(v)));
    }
    return this.egressTable;
  }

  /** The SIDs in the map now, decoded (for state reports and tests). */
  entries(): (SidValue & { sid: string })[] {
    return [...this.map(MAPS.sids).entries()].map(([k, v]) => ({ sid: decodeSidKey(k), ...decodeSidValue(v) }));
  }

  /** Egress ifindexes currently allowed. */
  egress(): number[] {
    return this.egressAllowList().list();
  }

  // ---- links ----

  private netlink<T>(fn: (nl: Rtnetlink) => Promise<T>): Promise<T> {
    const nl = Rtnetlink.open({ netns: this.opts.netns });
    return fn(nl).finally(() => nl.close());
  }

  private readMeta(): string {
    const v = this.map(MAPS.meta).lookup(u32Key(0));
    return v ? v.subarray(0, 32).toString('hex') : '';
  }

  private writeMeta(): void {
    const b = Buffer.alloc(META_SIZE);
    Buffer.from(this.identity, 'hex').copy(b, 0);
    b.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n, 32);
    this.map(MAPS.meta).update(u32Key(0), b);
  }

  /**
   * Attaches to exactly `ifnames`: creates missing links (pinned), updates links that run another
   * build or configuration of the program (atomically), detaches links of other interfaces.
   */
  async attach(ifnames: string[]): Promise<{ attachments: XdpAttachment[]; detached: string[]; updated: string[] }> {
    this.live();
    const wanted = [...new Set(ifnames)];
    const detached: string[] = [];
    const updated: string[] = [];
    const index = await this.netlink(async (nl) => {
      const m = new Map<string, number>();
      for (const name of wanted) {
        const l = await nl.link(name);
        if (!l) throw new InvalidArgumentError('underlay', `no interface ${name}${this.opts.netns ? ` in netns ${this.opts.netns}` : ''}`);
        m.set(name, l.index);
      }
      return m;
    });

    for (const name of [...this.links.keys()])
      if (!index.has(name)) {
        this.detachOne(name);
        detached.push(name);
      }

    const stale = this.readMeta() !== this.identity;
    for (const [name, ifindex] of index) {
      const have = this.links.get(name);
      if (have && have.link.info().ifindex === ifindex) {
        if (stale) {
          have.link.update(this.prog);
          updated.push(name);
        }
        continue;
      }
      if (have) this.detachOne(name); // the device was re-created under the same name
      this.links.set(name, this.attachOne(name, ifindex));
    }
    this.writeMeta();
    return { attachments: await this.attachments(), detached, updated };
  }

  private attachOne(ifname: string, ifindex: number): { link: XdpLink; fallback?: string } {
    const pin = join(this.pinDir, LINK_PREFIX + ifname);
    rmSync(pin, { force: true }); // a detached leftover
    const generic = this.opts.mode === 'generic';
    let link: XdpLink;
    let fallback: string | undefined;
    try {
      link = XdpLink.attach(this.prog, ifindex, { netns: this.opts.netns, mode: generic ? XdpMode.Skb : XdpMode.Drv });
    } catch (err) {
      if (generic || this.opts.genericFallback === false || !(err instanceof BpfError) || !FALLBACK_CODES.has(err.code)) throw err;
      fallback = `native mode: ${err.code}${err.log ? ` (${err.log.trim().split('\n').pop()})` : ''}`;
      this.opts.warn!(`xdp offload: ${ifname}: ${fallback}; attached in generic mode (slower than the kernel path)`);
      link = XdpLink.attach(this.prog, ifindex, { netns: this.opts.netns, mode: XdpMode.Skb });
    }
    try {
      link.pin(pin);
    } catch (err) {
      link.close(); // unpinned: the kernel detaches it with its last fd
      throw err;
    }
    return { link, fallback };
  }

  private detachOne(name: string): void {
    const l = this.links.get(name);
    if (!l) return;
    this.links.delete(name);
    try {
      l.link.detach();
    } catch (err) {
      // Already detached by the kernel (its device went away): nothing left to do.
      if (!(err instanceof BpfError) || !['ENOLINK', 'ENODEV', 'EINVAL'].includes(err.code)) throw err;
    } finally {
      l.link.close();
      rmSync(join(this.pinDir, LINK_PREFIX + name), { force: true });
    }
  }

  /** Detaches every link and removes its pin (the maps stay pinned). */
  detachAll(): string[] {
    const names = [...this.links.keys()];
    for (const n of names) this.detachOne(n);
    return names;
  }

  /** The links and what the kernel says about them. */
  async attachments(): Promise<XdpAttachment[]> {
    const out: XdpAttachment[] = [];
    await this.netlink(async (nl) => {
      for (const [ifname, { link, fallback }] of this.links) {
        const info = link.info();
        const dev = await nl.link(ifname);
        const attached = dev?.xdp?.attached;
        const mode = attached === 'driver' ? 'native' : attached === 'generic' ? 'generic' : 'unknown';
        out.push({ ifname, ifindex: info.ifindex ?? 0, mode, linkId: info.id, progId: info.progId, pin: join(this.pinDir, LINK_PREFIX + ifname), ...(fallback ? { fallback } : {}) });
      }
    });
    return out.sort((a, b) => a.ifname.localeCompare(b.ifname));
  }

  // ---- the reconciler's call ----

  /**
   * After every dataplane apply: the SID map becomes `entries`; with entries the program is on
   * exactly `underlay`, without any (the last offloaded tenant went) it is detached everywhere.
   */
  async apply(desired: { underlay: string[]; entries: XdpSidEntry[] }): Promise<XdpApplyResult> {
    this.live();
    const { entries, shadowed } = this.guard(desired.underlay, desired.entries);
    for (const s of shadowed) this.opts.warn!(`xdp offload: ${s.sid}: shadow mode: ${s.reason}`);
    const sync = this.sync(entries);
    if (!entries.length) return { sync, attachments: [], detached: this.detachAll(), updated: [], shadowed };
    const { attachments, detached, updated } = await this.attach(desired.underlay);
    return { sync, attachments, detached, updated, shadowed };
  }

  /**
   * Pass-on-doubt for what the program cannot see. End.DX4's kernel path routes the inner packet
   * with ip_route_input() from the underlay, which applies the underlay's IPv4 reverse-path
   * filter (fib_validate_source) to the inner source; bpf_fib_lookup never does. With rp_filter
   * on for an underlay the kernel may drop what XDP would forward: such SIDs run in shadow mode.
   */
  private guard(underlay: string[], entries: XdpSidEntry[]): { entries: XdpSidEntry[]; shadowed: { sid: string; reason: string }[] } {
    if (!entries.some((e) => e.action === 'End.DX4' && !e.shadow)) return { entries, shadowed: [] };
    const sysctl = new Sysctl(this.opts.netns);
    const rpf = (dev: string) => Number(sysctl.get(['net', 'ipv4', 'conf', dev, 'rp_filter']));
    let all: number;
    try {
      all = rpf('all');
    } catch {
      return { entries, shadowed: [] }; // no IPv4 in this namespace: nothing to check
    }
    const on = underlay.filter((u) => {
      try {
        return Math.max(all, rpf(u)) !== 0;
      } catch {
        return all !== 0; // the device is checked (and refused) by attach()
      }
    });
    if (!on.length) return { entries, shadowed: [] };
    const reason = `IPv4 rp_filter is on for underlay ${on.join(', ')}: the kernel's End.DX4 checks inner sources against it, XDP cannot`;
    const shadowed: { sid: string; reason: string }[] = [];
    const out = entries.map((e) => {
      if (e.action !== 'End.DX4' || e.shadow) return e;
      shadowed.push({ sid: e.sid, reason });
      return { ...e, shadow: true };
    });
    return { entries: out, shadowed };
  }

  // ---- counters ----

  /** Per-SID counters, summed over CPUs. */
  counters(): XdpSidCounters[] {
    const stats = this.map(MAPS.stats);
    return this.entries()
      .map((e) => {
        const s = emptyStats();
        if (e.statsIdx < MAX_SIDS) for (const cpu of stats.lookupPerCpu(u32Key(e.statsIdx)) ?? []) addStats(s, cpu);
        return { sid: e.sid, action: e.action, ...s };
      })
      .sort((a, b) => a.sid.localeCompare(b.sid));
  }

  /** Every packet the program saw, by verdict reason, summed over CPUs. */
  reasons(): Record<Reason, number> {
    const m = this.map(MAPS.reasons);
    const out = {} as Record<Reason, number>;
    REASONS.forEach((r, i) => {
      out[r] = (m.lookupPerCpu(u32Key(i)) ?? []).reduce((a, b) => a + Number(b.readBigUInt64LE(0)), 0);
    });
    return out;
  }

  /** For /v1/state and metrics. */
  async state(): Promise<XdpOffloadState> {
    const info = this.prog.info();
    return { pinDir: this.pinDir, program: { id: info.id, tag: info.tag, identity: this.identity }, attachments: await this.attachments(), sids: this.counters(), reasons: this.reasons() };
  }

  // ---- teardown ----

  /**
   * Closes our fds. Pinned links stay attached, pinned maps stay: a restarting agent reopens them.
   * (One writer per pin directory: two live instances on the same one would fight over the maps.)
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { link } of this.links.values()) link.close();
    this.links.clear();
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
