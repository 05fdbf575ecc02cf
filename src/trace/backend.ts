// Backends and what each can trace. The backend is chosen by really loading and attaching the
// smallest program of each kind (bpf/trace/probe.bpf.c) to one real target, in the order
// fentry → kprobe-multi → kprobe → tp_btf (kprobe-multi first for more than a few dozen
// functions: ADR 0006); the kernel's own error is the reason a backend is not used. planTargets() (pure) decides, per backend, which discovered targets are attached, filtered
// (regex) or untraceable, with the reason. planTrace() does all of it before anything is
// attached: the user's filter (name-filter.ts: linear time, in slices off the event loop), the
// backend, the plan, and the probe cap.
import { join } from 'node:path';

import { BpfError, BpfObject } from '../bpf/libbpf';
import { CapabilityMissingError } from '../common/errors';
import { errnoName } from '../netlink/errors';
import { packageRoot } from '../native/addon';
import { FUNC_ID_MARKER } from './event';
import { compileNameFilter, matchNames, NameTest } from './name-filter';
import { findMarker, kprobePmuType, ProbeSet, programInsns, setupProgram } from './probes';
import { Discovery, KernelSymbols, MAX_FENTRY_ARGS, MAX_KPROBE_SLOTS, SkbFunction, SkbTarget } from './targets';
import { TraceError } from './trace-error';

export const BACKENDS = ['fentry', 'kprobe-multi', 'kprobe', 'tp_btf'] as const;
export type Backend = (typeof BACKENDS)[number];
export type TraceType = 'function' | 'function_graph';

/**
 * The capability report's name of a backend (`trace.kprobe_multi` for kprobe-multi): errors name
 * the same feature GET /v1/capabilities lists. No backend: `trace`, tracing as a whole.
 */
export function traceFeature(backend?: Backend): string {
  return backend ? `trace.${backend.replace('-', '_')}` : 'trace';
}

/** tp_btf programs exist for these skb argument slots (bpf/trace/ipft.bpf.c). */
export const MAX_TP_SLOTS = 6;

export const TP_MODE_NOTE =
  'tracepoint mode: only device, socket and drop boundaries are visible (net:*, skb:*, tcp:*, qdisc:*); ' +
  'seg6/lwtunnel and other kernel internals have no tracepoints and are not visible';

export function objectPath(name: 'ipft' | 'probe'): string {
  return join(packageRoot(), 'bpf', 'build', 'trace', `${name}.bpf.o`);
}

export function isFunctionBackend(b: Backend): boolean {
  return b !== 'tp_btf';
}

/** Backends that can report returns (function_graph): trampolines see arguments at exit. */
export function supportsFunctionGraph(b: Backend): boolean {
  return b === 'fentry';
}

// ---- planning (pure) ----

export interface Untraceable {
  name: string;
  reason: string;
}

export interface AttachPlan {
  backend: Backend;
  /** Every discovered target of the backend's kind. */
  total: number;
  /** Targets to attach; an event's funcId is the index in this list. */
  targets: SkbTarget[];
  /** Excluded by the user's filter. */
  filtered: number;
  untraceable: Untraceable[];
}

function untraceableReason(b: Backend, t: SkbTarget, syms: KernelSymbols): string | undefined {
  if (t.skbSlot < 0) return 'skb argument slot unknown (an earlier argument is a large struct by value)';
  if (t.kind === 'tracepoint') return t.skbSlot < MAX_TP_SLOTS ? undefined : `skb in argument slot ${t.skbSlot} (max ${MAX_TP_SLOTS - 1})`;
  const f = t as SkbFunction;
  if (!syms.text.has(f.name)) return 'no address in kallsyms (inlined or optimized out)';
  if (b === 'fentry') {
    if (f.fentryUnsupported) return `trampolines cannot attach: ${f.fentryUnsupported}`;
    if (f.skbSlot >= MAX_FENTRY_ARGS) return `skb in argument slot ${f.skbSlot} (max ${MAX_FENTRY_ARGS - 1})`;
  } else {
    if (f.skbSlot >= MAX_KPROBE_SLOTS) return `skb in argument slot ${f.skbSlot} (kprobes read registers 1-${MAX_KPROBE_SLOTS})`;
    if (syms.kprobeBlacklist?.has(f.name)) return 'on the kprobe blacklist';
    if (b === 'kprobe' && (syms.text.get(f.name) ?? 0) > 1) return 'ambiguous name (several kallsyms entries)';
  }
  if ((b === 'fentry' || b === 'kprobe-multi') && syms.ftrace && !syms.ftrace.has(f.name)) return 'not in available_filter_functions (ftrace cannot patch it)';
  return undefined;
}

/**
 * The targets `backend` attaches for `discovery`, the ones `filter` excludes, and the rest.
 * Synchronous: pass the answers of matchNames() (prefilter), not a pattern to run here.
 */
export function planTargets(backend: Backend, discovery: Discovery, syms: KernelSymbols, filter?: NameTest): AttachPlan {
  const all: SkbTarget[] = isFunctionBackend(backend) ? discovery.functions : discovery.tracepoints;
  const plan: AttachPlan = { backend, total: all.length, targets: [], filtered: 0, untraceable: [] };
  for (const t of all) {
    if (filter && !filter.test(t.name)) {
      plan.filtered++;
      continue;
    }
    const why = untraceableReason(backend, t, syms);
    if (why) plan.untraceable.push({ name: t.name, reason: why });
    else plan.targets.push(t);
  }
  return plan;
}

// ---- tracepoint systems, for display only (BTF does not name them) ----

const TP_SYSTEMS: Record<string, string> = {
  consume_skb: 'skb',
  kfree_skb: 'skb',
  skb_copy_datagram_iovec: 'skb',
  icmp_send: 'icmp',
  qdisc_dequeue: 'qdisc',
  qdisc_enqueue: 'qdisc',
  sock_rcvqueue_full: 'sock',
  subflow_check_data_avail: 'mptcp',
  udp_fail_queue_rcv_skb: 'udp',
  fib_table_lookup: 'fib',
};

/** `net:net_dev_queue`, `skb:kfree_skb`, `tcp:tcp_probe`, …; `tp:<name>` when unknown. */
export function tracepointLabel(name: string): string {
  const sys = TP_SYSTEMS[name] ?? (/^(net_|netif_|napi_)/.test(name) ? 'net' : /^tcp_/.test(name) ? 'tcp' : 'tp');
  return `${sys}:${name}`;
}

export function targetLabel(t: SkbTarget): string {
  return t.kind === 'tracepoint' ? tracepointLabel(t.name) : t.name;
}

// ---- probing ----

export interface BackendCheck {
  backend: Backend;
  ok: boolean;
  /** Why not (the kernel's errno and what it means), or what was attached to. */
  reason: string;
}

const HINTS: Record<Backend, Record<string, string>> = {
  fentry: {
    EPERM: 'the kernel refuses trampoline programs here: no BPF trampoline or ftrace direct calls, or lockdown',
    ENOTSUPP: 'no BPF trampoline on this kernel',
    EINVAL: 'the kernel does not support fentry programs: Linux < 5.5 or no BTF',
    ENOENT: 'target function has no address',
  },
  'kprobe-multi': {
    EINVAL: 'the kernel does not know kprobe-multi links: Linux < 5.18',
    EOPNOTSUPP: 'kprobe-multi needs CONFIG_FPROBE',
    ENOENT: 'target function not found by the kernel',
    ESRCH: 'target function not found by the kernel',
    EPERM: 'the kernel refuses kprobe programs here',
  },
  kprobe: {
    EOPNOTSUPP: 'no kprobe PMU in /sys/bus/event_source/devices: the kernel lacks CONFIG_KPROBES or kprobe events',
    ENOENT: 'no kprobe PMU or target function not found',
    EPERM: 'the kernel refuses kprobe programs here',
    EINVAL: 'the kernel refused the kprobe: function not probeable, or BPF links on perf events need Linux 5.15+',
  },
  tp_btf: {
    EINVAL: 'the kernel does not support BTF tracepoint programs: Linux < 5.5 or no BTF',
    EPERM: 'the kernel refuses tracing programs here',
  },
};

function describe(backend: Backend, step: string, errno: number): string {
  const code = errnoName(errno);
  const hint = HINTS[backend][code];
  return `${step}: ${code}${hint ? ` (${hint})` : ''}`;
}

const PROBE_PROGS: Record<Backend, string> = {
  fentry: 'probe_fentry',
  'kprobe-multi': 'probe_kprobe_multi',
  kprobe: 'probe_kprobe',
  tp_btf: 'probe_tp_btf',
};

/** Common, always-compiled-in functions first: a probe target should be boring. */
const PROBE_FUNCTIONS = ['consume_skb', 'kfree_skb_reason', 'sk_skb_reason_drop', '__kfree_skb', 'skb_clone', 'netif_receive_skb'];
const PROBE_TRACEPOINTS = ['consume_skb', 'kfree_skb', 'net_dev_queue', 'netif_receive_skb'];

export function probeTarget(backend: Backend, discovery: Discovery, syms: KernelSymbols): SkbTarget | undefined {
  const plan = planTargets(backend, discovery, syms);
  const own = plan.targets.filter((t) => !t.module);
  const prefer = backend === 'tp_btf' ? PROBE_TRACEPOINTS : PROBE_FUNCTIONS;
  for (const name of prefer) {
    const t = own.find((x) => x.name === name);
    if (t) return t;
  }
  return own[0];
}

/** Loads the backend's probe program and attaches it to one target; detaches again. */
export async function checkBackend(backend: Backend, discovery: Discovery, syms: KernelSymbols): Promise<BackendCheck> {
  const fail = (reason: string): BackendCheck => ({ backend, ok: false, reason });
  if (backend === 'kprobe' && kprobePmuType() < 0) return fail(describe(backend, 'kprobe PMU', 95 /* EOPNOTSUPP */));
  const target = probeTarget(backend, discovery, syms);
  if (!target) return fail(`no traceable ${backend === 'tp_btf' ? 'tracepoint' : 'function'} with an skb argument`);
  const prog = PROBE_PROGS[backend];
  const obj = BpfObject.open(objectPath('probe'));
  const probes = new ProbeSet();
  try {
    for (const p of Object.values(PROBE_PROGS)) setupProgram(obj, p, { autoload: p === prog });
    if (backend === 'fentry' || backend === 'tp_btf') setupProgram(obj, prog, { attachTarget: target.name });
    try {
      await obj.load();
    } catch (err) {
      if (err instanceof BpfError) return fail(describe(backend, 'load', err.errno));
      throw err;
    }
    let res;
    if (backend === 'fentry' || backend === 'tp_btf') {
      const insns = programInsns(obj, prog);
      res = await probes.attachTracing({
        insns,
        marker: findMarker(insns, FUNC_ID_MARKER),
        attachType: backend,
        name: 'ipft_probe',
        btfIds: Uint32Array.of(target.btfId),
        btfObjFds: Int32Array.of(0),
        ids: Uint32Array.of(0),
      });
    } else {
      const req = { progFd: obj.prog(prog).fd, syms: [target.name], cookies: Uint32Array.of(0) };
      res = backend === 'kprobe' ? await probes.attachKprobes(req) : await probes.attachKprobeMulti(req);
    }
    if (res.errors[0]) return fail(describe(backend, `attach to ${target.name}`, res.errors[0]));
    return { backend, ok: true, reason: `attached to ${targetLabel(target)}` };
  } finally {
    await probes.detach();
    obj.close();
  }
}

export interface BackendSelection {
  backend?: Backend;
  /** Every backend tried (or passed over), in order; the chosen one last. */
  checks: BackendCheck[];
}

/**
 * The automatic choice uses fentry for at most this many functions and prefers kprobe-multi
 * beyond (docs/adr/0006-trace-backend-choice.md): removing a trampoline waits one RCU-tasks grace
 * period per function under a global mutex (lab: ~145 ms each, no parallelism helps), so 32
 * fentry probes already take about 5 s to detach; kprobe-multi attaches and detaches all the
 * functions of an argument slot with one link (1,650 functions: 1.4 s / 0.8 s in the lab).
 */
export const FENTRY_AUTO_MAX_TARGETS = 32;

export interface BackendOrder {
  order: Backend[];
  /** Why fentry is passed over (it is tried after kprobe-multi only if that fails). */
  fentryDeferred?: string;
}

/** The order the automatic choice tries backends in, for `fentryTargets` functions to trace. */
export function autoBackendOrder(type: TraceType, fentryTargets: number): BackendOrder {
  if (type === 'function_graph') return { order: BACKENDS.filter(supportsFunctionGraph) };
  if (fentryTargets <= FENTRY_AUTO_MAX_TARGETS) return { order: [...BACKENDS] };
  return {
    order: ['kprobe-multi', 'fentry', 'kprobe', 'tp_btf'],
    fentryDeferred:
      `not tried first: ${fentryTargets} functions to trace, fentry is chosen for at most ${FENTRY_AUTO_MAX_TARGETS} ` +
      '(detaching costs a kernel grace period per function); kprobe-multi attaches and detaches them all at once; -b fentry forces it',
  };
}

export interface SelectOptions {
  /** Only this backend (-b). */
  requested?: Backend;
  type?: TraceType;
  /** The user's target filter (prefilter()): the automatic choice depends on how many functions remain. */
  filter?: NameTest;
  /** The check per backend (default checkBackend: the kernel); unit tests pass a fake. */
  check?: (b: Backend) => Promise<BackendCheck>;
}

/**
 * Tries backends until one works: only `requested`, else fentry → kprobe-multi → kprobe → tp_btf,
 * with kprobe-multi first when more than FENTRY_AUTO_MAX_TARGETS functions are to be traced.
 */
export async function selectBackend(discovery: Discovery, syms: KernelSymbols, opts: SelectOptions = {}): Promise<BackendSelection> {
  const check = opts.check ?? ((b: Backend) => checkBackend(b, discovery, syms));
  const checks: BackendCheck[] = [];
  let order: Backend[];
  let fentryDeferred: string | undefined;
  if (opts.requested) order = [opts.requested];
  else ({ order, fentryDeferred } = autoBackendOrder(opts.type ?? 'function', planTargets('fentry', discovery, syms, opts.filter).targets.length));
  for (const b of order) {
    const c = await check(b);
    // Passed over and never tried: say so, first (where it stands in the usual order).
    if (c.ok && fentryDeferred && !checks.some((x) => x.backend === 'fentry') && b !== 'fentry')
      checks.unshift({ backend: 'fentry', ok: false, reason: fentryDeferred });
    checks.push(c);
    if (c.ok) return { backend: b, checks };
  }
  return { checks };
}

/** One line: which backend runs and why the others before it did not. */
export function selectionSummary(sel: BackendSelection): string {
  const others = sel.checks.filter((c) => c.backend !== sel.backend).map((c) => `${c.backend}: ${c.reason}`);
  if (!sel.backend) return `No usable backend (${others.join('; ')})`;
  return `Backend: ${sel.backend}${others.length ? ` (not used: ${others.join('; ')})` : ''}`;
}

// ---- the whole plan, before anything is attached ----

/** Probes a trace attaches unless the request says otherwise: above a whole-kernel trace of the
 *  machines we know (host 6.18: 2,310 functions; lab 6.12: 1,735), so that keeps working. */
export const DEFAULT_MAX_PROBES = 4096;
/** The most a request may allow: every probe is a kernel object (fentry, kprobe and tp_btf: one
 *  file descriptor each), and fentry detaches them one grace period at a time. */
export const MAX_PROBES_LIMIT = 16384;

/** More probes than the request allows; nothing was attached. */
export class TooManyProbesError extends TraceError {
  override readonly name = 'TooManyProbesError';
  readonly retry = 'permanent';
  readonly status = 400;
  readonly error = 'TooManyProbes';
  constructor(
    readonly backend: Backend,
    readonly probes: number,
    readonly maxProbes: number,
    /** Targets (functions or tracepoints); function_graph attaches two probes to each. */
    readonly targets: number,
  ) {
    const what = `${targets} ${isFunctionBackend(backend) ? 'functions' : 'tracepoints'}${probes > targets ? ', entry and return' : ''}`;
    const raise =
      maxProbes < MAX_PROBES_LIMIT
        ? `, or raise the cap (maxProbes, ipft --max-probes; at most ${MAX_PROBES_LIMIT})`
        : ` (${MAX_PROBES_LIMIT} is the most a trace may attach)`;
    super(
      `${probes} probes to attach with ${backend} (${what}), more than the cap of ${maxProbes}: nothing was attached; narrow the targets with a regex${raise}`,
    );
  }

  override details() {
    return { backend: this.backend, probes: this.probes, maxProbes: this.maxProbes };
  }
}

/** Probes `plan` attaches: one per target, two with function_graph (fentry and fexit). Counted per
 *  function for kprobe-multi too (one link per slot, but the kernel patches every function). */
export function probeCount(plan: AttachPlan, type: TraceType = 'function'): number {
  return plan.targets.length * (type === 'function_graph' && supportsFunctionGraph(plan.backend) ? 2 : 1);
}

/** Throws TooManyProbesError when `plan` needs more than `maxProbes` (default DEFAULT_MAX_PROBES). */
export function checkProbeCap(plan: AttachPlan, type: TraceType = 'function', maxProbes = DEFAULT_MAX_PROBES): void {
  if (!Number.isInteger(maxProbes) || maxProbes < 1 || maxProbes > MAX_PROBES_LIMIT)
    throw new RangeError(`maxProbes must be an integer between 1 and ${MAX_PROBES_LIMIT}, got ${maxProbes}`);
  const probes = probeCount(plan, type);
  if (probes > maxProbes) throw new TooManyProbesError(plan.backend, probes, maxProbes, plan.targets.length);
}

/**
 * The user's pattern as a filter for planTargets: compiled (NameFilterError when refused) and
 * matched against every target name once, in slices with the event loop free in between; the
 * planners then look the answers up. Undefined without a pattern.
 */
export async function prefilter(discovery: Discovery, pattern: string | undefined, signal?: AbortSignal): Promise<NameTest | undefined> {
  if (pattern === undefined) return undefined;
  const filter = compileNameFilter(pattern);
  const names = (function* () {
    for (const t of discovery.functions) yield t.name;
    for (const t of discovery.tracepoints) yield t.name;
  })();
  const matched = await matchNames(filter, names, { signal });
  return { test: (name) => matched.has(name) };
}

export interface TracePlanOptions {
  /** The user's target filter (name-filter.ts syntax). */
  regex?: string;
  /** Only this backend. */
  requested?: Backend;
  type?: TraceType;
  /** Refuse plans with more probes (default DEFAULT_MAX_PROBES, at most MAX_PROBES_LIMIT). */
  maxProbes?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The check per backend (default checkBackend: the kernel); unit tests pass a fake. */
  check?: (b: Backend) => Promise<BackendCheck>;
}

export interface TracePlan {
  selection: BackendSelection & { backend: Backend };
  plan: AttachPlan;
}

/**
 * Everything decided before a probe is attached: the filter, the backend (its choice logged),
 * the targets, and the probe cap. CapabilityMissingError when no backend (or not the one needed)
 * works; TooManyProbesError when the plan is over the cap.
 */
export async function planTrace(discovery: Discovery, syms: KernelSymbols, opts: TracePlanOptions = {}): Promise<TracePlan> {
  const type = opts.type ?? 'function';
  const filter = await prefilter(discovery, opts.regex, opts.signal);
  const selection = await selectBackend(discovery, syms, { requested: opts.requested, type, filter, check: opts.check });
  opts.log?.(selectionSummary(selection));
  const backend = selection.backend;
  if (!backend) {
    const why = selection.checks.map((c) => `${c.backend}: ${c.reason}`).join('; ');
    if (type === 'function_graph' && !opts.requested)
      throw new CapabilityMissingError(
        traceFeature('fentry'),
        'trace without -t function_graph (entries only)',
        `function_graph needs fentry, the only backend with return probes that see the arguments: ${why}`,
      );
    throw new CapabilityMissingError(traceFeature(opts.requested), opts.requested ? 'leave the backend to the automatic choice' : undefined, why);
  }
  if (type === 'function_graph' && !supportsFunctionGraph(backend))
    throw new CapabilityMissingError(
      traceFeature('fentry'),
      'trace without -t function_graph (entries only)',
      `function_graph needs the fentry backend (return probes that see the arguments); ${backend} has none`,
    );
  const plan = planTargets(backend, discovery, syms, filter);
  checkProbeCap(plan, type, opts.maxProbes);
  return { selection: { ...selection, backend }, plan };
}
