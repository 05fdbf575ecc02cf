// The tracer as a library: Tracer.start(opts) discovers targets in kernel BTF, chooses a backend
// (or checks the requested one), loads bpf/trace/ipft.bpf.o with the filters, opens the ring
// buffer, attaches every target in parallel batches and then emits/collects events;
// stop() detaches everything, drains the ring buffer and returns the summary with honest loss
// counts (ring buffer full: `lost`; hits never delivered: `undelivered`; received but beyond the
// memory bound or limit: `notKept`).
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

import { BpfError, BpfObject, RingBuffer } from '../bpf/libbpf';
import { errnoName } from '../netlink/errors';
import { AttachPlan, Backend, BackendSelection, FENTRY_AUTO_MAX_TARGETS, objectPath, planTrace, targetLabel, TraceType } from './backend';
import { CNT_HIT, CNT_LOST, decodeEvent, EVENT_SIZE, FUNC_ID_MARKER, TraceEvent } from './event';
import { groupPackets, Packet } from './packets';
import { btfObjFd, closeFd, findMarker, ProbeSet, programInsns, setupProgram } from './probes';
import { TraceError } from './trace-error';
import {
  Discovery,
  discoverKernel,
  FALLBACK_GSO_NAMES,
  gsoTypeNames,
  KernelSymbols,
  MAX_FENTRY_ARGS,
  MAX_KPROBE_SLOTS,
  readKernelBtf,
  readKernelSymbols,
  SkbTarget,
} from './targets';
import { MAX_TP_SLOTS } from './backend';

export interface KernelView {
  discovery: Discovery;
  syms: KernelSymbols;
  gsoNames: ReadonlyMap<number, string>;
}

/** Reads BTF, kallsyms and the GSO flag names once (0.3-1 s, synchronous); reusable across traces. */
export function readKernelView(): KernelView {
  const kbtf = readKernelBtf();
  let gsoNames: ReadonlyMap<number, string> = gsoTypeNames(kbtf.vmlinux);
  if (gsoNames.size === 0) gsoNames = FALLBACK_GSO_NAMES;
  return { discovery: discoverKernel(kbtf), syms: readKernelSymbols(), gsoNames };
}

/** Loaded modules by name and size: what changes the targets (module BTF, kallsyms). Use counts
 *  (which change with every veth made) are left out. */
export function moduleSignature(procModules: string): string {
  return procModules
    .split('\n')
    .map((l) => l.split(' ', 2).join(' '))
    .filter(Boolean)
    .sort()
    .join('\n');
}

/** /proc/modules; '' on a kernel without module support (nothing can change), undefined when
 *  unreadable otherwise (then nothing is cached). */
function procModules(): string | undefined {
  try {
    return readFileSync('/proc/modules', 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? '' : undefined;
  }
}

/**
 * readKernelView() for a long-lived process (the agent): the last view again while the set of
 * loaded modules is the same, so a trace start does not block the event loop reading BTF again.
 */
export function kernelViewCache(read: () => KernelView = readKernelView, modules: () => string | undefined = procModules): () => KernelView {
  let cached: { sig: string; view: KernelView } | undefined;
  return () => {
    const text = modules();
    if (text === undefined) return read();
    const sig = moduleSignature(text);
    if (cached?.sig !== sig) cached = { sig, view: read() };
    return cached.view;
  };
}

export interface TraceOptions {
  /** Packets whose (skb->mark & mask) == (mark & mask) are traced. */
  mark: number;
  /** Default 0xffffffff; 0 traces every packet. */
  mask?: number;
  /** Only targets whose name matches: RegExp syntax without backreferences and lookaround,
   *  matched in linear time (name-filter.ts); NameFilterError when refused. */
  regex?: string;
  /** Default: the first of fentry, kprobe-multi, kprobe, tp_btf that works here. */
  backend?: Backend;
  /** function_graph adds return events (fexit), fentry only. Default function. */
  type?: TraceType;
  /** Refuse (TooManyProbesError, nothing attached) a plan with more probes; default
   *  DEFAULT_MAX_PROBES (4096), at most MAX_PROBES_LIMIT (16384). function_graph counts two per function. */
  maxProbes?: number;
  /** Only skbs whose device's (else socket's) network namespace has this inode. */
  netnsInode?: number;
  /** Only skbs whose device has this ifindex. */
  ifindex?: number;
  /** Ring buffer bytes, a power of two ≥ 4096; default 8 MiB. */
  ringBufferBytes?: number;
  /** Keep received events for events()/packets() (the aggregate output, the REST API). */
  collect?: boolean;
  /** At most this many events are kept when collecting (memory bound); default 1,000,000. */
  maxEvents?: number;
  /** Stop keeping and emitting after this many events ('limit' is emitted once). */
  limit?: number;
  /** Parallel attach batches (libuv thread pool); default: CPUs, at most 4. */
  concurrency?: number;
  /** Targets per attach batch; default 64. */
  batchSize?: number;
  /**
   * Parallel detach works; default 8. Closing a trampoline link waits for RCU grace periods in
   * the kernel, so parallel closes overlap those waits (up to libuv's thread pool size:
   * UV_THREADPOOL_SIZE, 4 unless set before the pool starts; ipft sets 16).
   */
  detachParallelism?: number;
  /** Aborts start() between batches; everything attached so far is detached again. */
  signal?: AbortSignal;
  /** Progress lines (backend choice, attach summary), for CLIs and logs. */
  log?: (line: string) => void;
  /** Reuse a kernel view (readKernelView) instead of reading BTF again. */
  kernel?: KernelView;
}

export interface AttachFailure {
  name: string;
  errno: number;
  code: string;
}

export interface AttachSummary {
  backend: Backend;
  total: number;
  succeeded: number;
  failed: number;
  filtered: number;
  untraceable: number;
  /** function_graph: targets whose exit probe failed (their entries are still traced). */
  exitFailed: number;
  /** The first failures (at most 100). */
  failures: AttachFailure[];
  /** Failures by errno name. */
  failuresByCode: Record<string, number>;
  /** The verifier's explanation of the first program it refused. */
  verifierLog?: string;
  attachMs: number;
}

export interface TraceSummary {
  backend: Backend;
  attach: AttachSummary;
  /** Events received by user space. */
  samples: number;
  /** Events the ring buffer had no room for (counted in BPF, per CPU). */
  lost: number;
  /** Hits that were neither received nor counted lost after the drain timeout (should be 0). */
  undelivered: number;
  /** Events that passed the filters (BPF counter): samples + lost + undelivered. */
  hits: number;
  /** Received but not kept/emitted: over maxEvents or after limit. */
  notKept: number;
  detachMs: number;
  durationMs: number;
}

/** Attach summary line as ipftrace2 prints it. */
export function attachLine(a: Pick<AttachSummary, 'total' | 'succeeded' | 'failed' | 'filtered' | 'untraceable'>): string {
  return `Attaching program (total ${a.total}, succeeded ${a.succeeded}, failed ${a.failed}, filtered: ${a.filtered}, untraceable: ${a.untraceable})`;
}

export class TraceAbortedError extends TraceError {
  override readonly name = 'TraceAbortedError';
  readonly retry = 'transient';
  readonly status = 503;
  readonly error = 'TraceAborted';
  constructor() {
    super('trace start aborted');
  }
}

const DEFAULT_RING = 8 << 20;
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

/** This process's soft limit of open files, if readable. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs tasks with at most `n` in flight; stops starting new ones once `stop()` is true. */
async function pool(tasks: Array<() => Promise<void>>, n: number, stop: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !stop()) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
}

function chunks<T>(a: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
  return out;
}

interface ProgramSpec {
  /** Program in ipft.bpf.o */
  prog: string;
  /** Template target for trampoline programs */
  template?: string;
  /** Target indexes (funcIds) this program attaches to */
  ids: number[];
  attach: 'fentry' | 'fexit' | 'tp_btf' | 'kprobe' | 'kprobe-multi';
}

/** Tracepoints with a program of their own (bpf/trace/ipft.bpf.c). */
const OWN_TP_PROGRAMS: Record<string, string> = {
  net_dev_start_xmit: 'ipft_tp_net_dev_start_xmit',
  net_dev_xmit: 'ipft_tp_net_dev_xmit',
};

/** Which programs of ipft.bpf.o carry which targets, per backend. */
export function programSpecs(backend: Backend, targets: SkbTarget[], type: TraceType): ProgramSpec[] {
  const bySlot = new Map<number, number[]>();
  const specs: ProgramSpec[] = [];
  targets.forEach((t, id) => {
    // net_dev_xmit's skb may be freed: reported only if net_dev_start_xmit just matched it.
    const own = OWN_TP_PROGRAMS[t.name];
    if (backend === 'tp_btf' && own && !t.module) {
      specs.push({ prog: own, template: t.name, ids: [id], attach: 'tp_btf' });
      return;
    }
    const l = bySlot.get(t.skbSlot);
    if (l) l.push(id);
    else bySlot.set(t.skbSlot, [id]);
  });
  const template = (ids: number[]) => targets[ids.find((i) => !targets[i].module) ?? ids[0]].name;
  for (const [slot, ids] of [...bySlot].sort((a, b) => a[0] - b[0])) {
    switch (backend) {
      case 'fentry':
        specs.push({ prog: `ipft_fentry_${slot}`, template: template(ids), ids, attach: 'fentry' });
        if (type === 'function_graph') specs.push({ prog: `ipft_fexit_${slot}`, template: template(ids), ids, attach: 'fexit' });
        break;
      case 'tp_btf':
        specs.push({ prog: `ipft_tp_${slot}`, template: template(ids), ids, attach: 'tp_btf' });
        break;
      case 'kprobe':
        specs.push({ prog: `ipft_kprobe_${slot}`, ids, attach: 'kprobe' });
        break;
      case 'kprobe-multi':
        specs.push({ prog: `ipft_kmulti_${slot}`, ids, attach: 'kprobe-multi' });
        break;
    }
  }
  return specs;
}

/** Every program in ipft.bpf.o (all start with autoload off). */
function allPrograms(): string[] {
  const out = Object.values(OWN_TP_PROGRAMS);
  for (let s = 0; s < MAX_FENTRY_ARGS; s++) out.push(`ipft_fentry_${s}`, `ipft_fexit_${s}`);
  for (let s = 0; s < MAX_TP_SLOTS; s++) out.push(`ipft_tp_${s}`);
  for (let s = 0; s < MAX_KPROBE_SLOTS; s++) out.push(`ipft_kprobe_${s}`, `ipft_kmulti_${s}`);
  return out;
}

export class Tracer extends EventEmitter {
  readonly labels: string[];
  /** Kept samples, raw (72 bytes each): decoding waits until someone asks (events/packets). */
  private readonly collected: Buffer[] = [];
  private decoded: TraceEvent[] = [];
  private samplesN = 0;
  private notKeptN = 0;
  private limitHit = false;
  private ring?: RingBuffer;
  private halting?: Promise<TraceSummary>;
  private stopping?: Promise<TraceSummary>;
  private readonly started = Date.now();
  private readonly exitHook = () => this.probes.closeSync();

  private constructor(
    readonly plan: AttachPlan,
    readonly selection: BackendSelection,
    readonly kernel: KernelView,
    private readonly opts: TraceOptions,
    private readonly obj: BpfObject,
    private readonly probes: ProbeSet,
    public attach: AttachSummary,
  ) {
    super();
    this.labels = plan.targets.map(targetLabel);
  }

  get backend(): Backend {
    return this.plan.backend;
  }

  get targets(): SkbTarget[] {
    return this.plan.targets;
  }

  get gsoNames(): ReadonlyMap<number, string> {
    return this.kernel.gsoNames;
  }

  get samples(): number {
    return this.samplesN;
  }

  get running(): boolean {
    return this.halting === undefined;
  }

  /** Starts a trace; resolves once every probe is attached (events may already be flowing). */
  static async start(opts: TraceOptions): Promise<Tracer> {
    const log = opts.log ?? (() => {});
    const type = opts.type ?? 'function';
    const kernel = opts.kernel ?? readKernelView();
    let planned;
    try {
      planned = await planTrace(kernel.discovery, kernel.syms, {
        regex: opts.regex,
        requested: opts.backend,
        type,
        maxProbes: opts.maxProbes,
        signal: opts.signal,
        log,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw new TraceAbortedError();
      throw err;
    }
    if (opts.signal?.aborted) throw new TraceAbortedError();
    const { selection, plan } = planned;
    const backend = plan.backend;
    const specs = programSpecs(backend, plan.targets, type);

    const links = plan.targets.length * (type === 'function_graph' ? 2 : 1);
    const fdLimit = openFileLimit();
    if (backend !== 'kprobe-multi' && fdLimit !== undefined && links + 64 > fdLimit)
      log(
        `Warning: ${links} probes need as many file descriptors, the limit is ${fdLimit} (ulimit -n): the rest will fail with EMFILE; narrow with -r or use -b kprobe-multi`,
      );

    const obj = await Tracer.load(opts, specs, plan);
    const probes = new ProbeSet();
    const attach: AttachSummary = {
      backend,
      total: plan.total,
      succeeded: 0,
      failed: 0,
      filtered: plan.filtered,
      untraceable: plan.untraceable.length,
      exitFailed: 0,
      failures: [],
      failuresByCode: {},
      attachMs: 0,
    };
    const tracer = new Tracer(plan, selection, kernel, opts, obj, probes, attach);
    process.on('exit', tracer.exitHook);
    try {
      tracer.openRing();
      const t0 = performance.now();
      await tracer.attachAll(specs);
      attach.attachMs = performance.now() - t0;
      if (opts.signal?.aborted) throw new TraceAbortedError();
    } catch (err) {
      await tracer.stop().catch(() => undefined);
      throw err;
    }
    log(attachLine(attach));
    if (backend === 'fentry' && attach.succeeded > FENTRY_AUTO_MAX_TARGETS)
      log(`Note: ${attach.succeeded} fentry probes detach one kernel grace period at a time at the end; -b kprobe-multi attaches and detaches all at once`);
    return tracer;
  }

  /** Opens ipft.bpf.o with only the needed programs; a template target the kernel refuses is
   *  replaced by another target of the same slot (the object is reopened: libbpf loads once). */
  private static async load(opts: TraceOptions, specs: ProgramSpec[], plan: AttachPlan): Promise<BpfObject> {
    const templates = new Map(specs.filter((s) => s.template).map((s) => [s.prog, s.template!]));
    const tried = new Map<string, Set<string>>();
    for (let attempt = 0; ; attempt++) {
      const obj = BpfObject.open(objectPath('ipft'));
      try {
        obj.setGlobal('filter_mark', u32(opts.mark));
        obj.setGlobal('filter_mask', u32(opts.mask ?? 0xffffffff));
        obj.setGlobal('filter_netns', u32(opts.netnsInode ?? 0));
        obj.setGlobal('filter_ifindex', u32(opts.ifindex ?? 0));
        obj.setMaxEntries('events', opts.ringBufferBytes ?? DEFAULT_RING);
        const wanted = new Set(specs.map((s) => s.prog));
        for (const p of allPrograms()) setupProgram(obj, p, { autoload: wanted.has(p) });
        for (const [prog, target] of templates) setupProgram(obj, prog, { attachTarget: target });
        await obj.load();
        return obj;
      } catch (err) {
        obj.close();
        const prog = err instanceof BpfError ? /prog '([\w.]+)'/.exec(err.log ?? err.message)?.[1] : undefined;
        const spec = specs.find((s) => s.prog === prog);
        if (!spec?.template || attempt >= 8) throw err;
        const seen = tried.get(spec.prog) ?? new Set<string>();
        seen.add(spec.template);
        tried.set(spec.prog, seen);
        const next = spec.ids.map((i) => plan.targets[i]).find((t) => !t.module && !seen.has(t.name));
        if (!next) throw err;
        spec.template = next.name;
        templates.set(spec.prog, next.name);
      }
    }
  }

  private openRing(): void {
    this.ring = RingBuffer.open(
      this.obj.map('events'),
      (samples) => this.onSamples(samples),
      (err) => this.emit('error', err),
    );
  }

  private onSamples(samples: Buffer[]): void {
    const maxKeep = this.opts.maxEvents ?? 1_000_000;
    if (!this.opts.collect && this.opts.limit === undefined && this.listenerCount('event') === 0) {
      this.samplesN += samples.length; // nobody looks at them: count only
      return;
    }
    const emit = this.listenerCount('event') > 0;
    for (const s of samples) {
      if (s.length < EVENT_SIZE) continue;
      this.samplesN++;
      if (this.limitHit) {
        this.notKeptN++;
        continue;
      }
      if (this.opts.collect) {
        if (this.collected.length < maxKeep) this.collected.push(s);
        else this.notKeptN++;
      }
      if (emit) this.emit('event', decodeEvent(s));
      if (this.opts.limit !== undefined && this.samplesN >= this.opts.limit) {
        this.limitHit = true;
        this.emit('limit');
      }
    }
  }

  private fail(id: number, errno: number): void {
    const code = errnoName(errno);
    this.attach.failed++;
    this.attach.failuresByCode[code] = (this.attach.failuresByCode[code] ?? 0) + 1;
    if (this.attach.failures.length < 100) this.attach.failures.push({ name: this.plan.targets[id].name, errno, code });
  }

  private async attachAll(specs: ProgramSpec[]): Promise<void> {
    // kprobe registration serializes on the kernel's kprobe and text mutexes: parallel batches
    // only contend (measured slower in the lab); trampoline clones verify in parallel.
    const concurrency = this.opts.concurrency ?? (this.backend === 'kprobe' ? 1 : Math.max(1, Math.min(4, availableParallelism())));
    const batch = this.opts.batchSize ?? 64;
    const stop = () => this.opts.signal?.aborted === true;
    const targets = this.plan.targets;
    // Per target: 0 pending, 1 attached, -1 failed; exit probes tracked apart.
    const entryOk = new Int8Array(targets.length);
    const btfFds = new Map<string, number>();
    const tasks: Array<() => Promise<void>> = [];
    try {
      for (const m of new Set(targets.filter((t) => t.module).map((t) => t.module!))) {
        try {
          btfFds.set(m, btfObjFd(m));
        } catch {
          btfFds.set(m, -1); // module gone: its targets fail below
        }
      }
      for (const spec of specs) {
        const isExit = spec.attach === 'fexit';
        const record = (id: number, errno: number) => {
          if (isExit) {
            if (errno) this.attach.exitFailed++;
            return;
          }
          if (errno) this.fail(id, errno);
          else this.attach.succeeded++;
          entryOk[id] = errno ? -1 : 1;
        };
        if (spec.attach === 'kprobe-multi') {
          const progFd = this.obj.prog(spec.prog).fd;
          // All or nothing per link: split a refused set in halves until the culprits are alone.
          const attachSet = async (ids: number[]): Promise<void> => {
            if (!ids.length || stop()) return;
            const res = await this.probes.attachKprobeMulti({ progFd, syms: ids.map((i) => targets[i].name), cookies: Uint32Array.from(ids) });
            if (!res.errors[0]) ids.forEach((i) => record(i, 0));
            else if (ids.length === 1) record(ids[0], res.errors[0]);
            else {
              const half = ids.length >> 1;
              await attachSet(ids.slice(0, half));
              await attachSet(ids.slice(half));
            }
          };
          tasks.push(() => attachSet(spec.ids));
          continue;
        }
        if (spec.attach === 'kprobe') {
          const progFd = this.obj.prog(spec.prog).fd;
          for (const ids of chunks(spec.ids, batch))
            tasks.push(async () => {
              const res = await this.probes.attachKprobes({ progFd, syms: ids.map((i) => targets[i].name), cookies: Uint32Array.from(ids) });
              ids.forEach((id, k) => record(id, res.errors[k]));
            });
          continue;
        }
        const insns = programInsns(this.obj, spec.prog);
        const marker = findMarker(insns, FUNC_ID_MARKER);
        for (const ids of chunks(spec.ids, batch))
          tasks.push(async () => {
            const res = await this.probes.attachTracing({
              insns,
              marker,
              attachType: spec.attach as 'fentry' | 'fexit' | 'tp_btf',
              name: spec.prog,
              btfIds: Uint32Array.from(ids, (i) => targets[i].btfId),
              btfObjFds: Int32Array.from(ids, (i) => (targets[i].module ? (btfFds.get(targets[i].module!) ?? -1) : 0)),
              ids: Uint32Array.from(ids),
            });
            if (res.log && !this.attach.verifierLog) this.attach.verifierLog = res.log;
            ids.forEach((id, k) => record(id, res.errors[k]));
          });
      }
      await pool(tasks, concurrency, stop);
    } finally {
      for (const fd of btfFds.values()) if (fd >= 0) closeFd(fd);
    }
  }

  /** Per-CPU counters summed: events that passed the filters, and those the ring had no room for. */
  counters(): { hits: number; lost: number } {
    const map = this.obj.map('counters');
    const sum = (slot: number) => {
      const key = u32(slot);
      return (map.lookupPerCpu(key) ?? []).reduce((a, v) => a + Number(v.readBigUInt64LE(0)), 0);
    };
    return { hits: sum(CNT_HIT), lost: sum(CNT_LOST) };
  }

  /** Events kept so far (collect: true), in arrival order. */
  events(): readonly TraceEvent[] {
    for (let i = this.decoded.length; i < this.collected.length; i++) this.decoded.push(decodeEvent(this.collected[i]));
    return this.decoded;
  }

  /** Kept events grouped per packet (pointer reuse split), each sorted by timestamp. */
  packets(gapNs?: bigint): Packet[] {
    return groupPackets(this.events(), { names: this.plan.targets.map((t) => t.name), gapNs });
  }

  /**
   * Ends the trace at once: the probes stay attached but report nothing more (a flag they all
   * check), the ring buffer is drained until received + lost = hits (or `drainMs`), and the
   * final counts are returned. stop() detaches afterwards. Idempotent.
   */
  halt(drainMs = 2000): Promise<TraceSummary> {
    this.halting ??= this.doHalt(drainMs);
    return this.halting;
  }

  /**
   * halt(), then detaches every probe and closes everything; the summary includes how long the
   * detach took (fentry: the kernel waits a grace period per function). Idempotent.
   */
  stop(drainMs = 2000): Promise<TraceSummary> {
    this.stopping ??= this.doStop(drainMs);
    return this.stopping;
  }

  private async doHalt(drainMs: number): Promise<TraceSummary> {
    let c = { hits: 0, lost: 0 };
    try {
      this.obj.map('control').update(u32(0), u32(1));
      // Programs already past the check finish within microseconds; re-read until stable.
      const deadline = Date.now() + drainMs;
      let drainedAt = -1; // hits when last seen drained
      for (;;) {
        c = this.counters();
        const drained = this.samplesN + c.lost >= c.hits;
        if (drained && drainedAt === c.hits) break;
        drainedAt = drained ? c.hits : -1;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, drained ? 2 : 5));
      }
    } finally {
      this.ring?.close();
    }
    return {
      backend: this.backend,
      attach: this.attach,
      samples: this.samplesN,
      lost: c.lost,
      undelivered: Math.max(0, c.hits - c.lost - this.samplesN),
      hits: c.hits,
      notKept: this.notKeptN,
      detachMs: 0,
      durationMs: Date.now() - this.started,
    };
  }

  private async doStop(drainMs: number): Promise<TraceSummary> {
    let summary: TraceSummary | undefined;
    let haltError: unknown;
    try {
      summary = await this.halt(drainMs);
    } catch (err) {
      haltError = err; // still detach below
    }
    const t0 = performance.now();
    try {
      await this.probes.detach(this.opts.detachParallelism ?? 8);
    } catch {
      this.probes.closeSync(); // an attach still in flight (EBUSY) cannot happen after start(); be sure
    }
    const detachMs = performance.now() - t0;
    process.off('exit', this.exitHook);
    this.obj.close();
    if (!summary) throw haltError;
    return { ...summary, detachMs };
  }
}
