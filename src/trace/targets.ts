// Target discovery from kernel BTF: every function with a `struct sk_buff *` parameter (const,
// volatile, restrict, type tags and typedefs stripped: ipftrace2 and pwru compare the pointee
// unstripped and miss e.g. skb_gso_validate_network_len(const struct sk_buff *)), the tracepoints
// that carry an skb (`btf_trace_<name>` typedefs), and the SKB_GSO_* flag names of the running
// kernel. Pure functions over a parsed Btf; the system readers are at the end.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Btf, BtfKind } from './btf';

/** Trampolines take at most this many arguments (MAX_BPF_FUNC_ARGS). */
export const MAX_FENTRY_ARGS = 12;
/** kprobe programs read the skb from one of the first five argument registers (as ipftrace2). */
export const MAX_KPROBE_SLOTS = 5;

export interface SkbFunction {
  kind: 'function';
  name: string;
  /** Kernel module whose BTF describes it; undefined for vmlinux. */
  module?: string;
  /** FUNC type id, in the module's (split) id space for module functions. */
  btfId: number;
  nrArgs: number;
  /** 0-based index of the first `struct sk_buff *` parameter. */
  skbArg: number;
  /**
   * 0-based 64-bit argument slot of that parameter: trampolines (fentry ctx) and the x86-64
   * calling convention give a struct passed by value of 9–16 bytes two slots. -1 when an earlier
   * parameter's size is unknown or larger than 16 bytes (then no backend can find the skb).
   */
  skbSlot: number;
  /** The skb pointee is const-qualified (the functions the other tools miss). */
  constSkb: boolean;
  /** Why a trampoline (fentry/fexit) cannot attach, if we know it cannot; undefined if it can. */
  fentryUnsupported?: string;
}

export interface SkbTracepoint {
  kind: 'tracepoint';
  /** Event name without system, as tp_btf attaches (`net_dev_queue`). */
  name: string;
  module?: string;
  /** TYPEDEF `btf_trace_<name>` id: the attach_btf_id of a tp_btf program. */
  btfId: number;
  /** Arguments after the hidden `void *__data`. */
  nrArgs: number;
  skbArg: number;
  skbSlot: number;
}

export type SkbTarget = SkbFunction | SkbTracepoint;

export interface Discovery {
  functions: SkbFunction[];
  tracepoints: SkbTracepoint[];
}

const SKB = 'sk_buff';

function isConstPointee(btf: Btf, id: number): boolean {
  const ptr = btf.strip(id);
  let t = btf.sizeOrType(ptr);
  for (let guard = 0; guard < 64 && t !== 0; guard++) {
    const k = btf.kind(t);
    if (k === BtfKind.Const) return true;
    if (k !== BtfKind.Typedef && k !== BtfKind.Volatile && k !== BtfKind.Restrict && k !== BtfKind.TypeTag) return false;
    t = btf.sizeOrType(t);
  }
  return false;
}

/** Slots taken by the parameters before `index`; -1 if one of them cannot be passed in slots. */
function slotOf(btf: Btf, params: { type: number }[], index: number): number {
  let slot = 0;
  for (let i = 0; i < index; i++) {
    const size = btf.byteSize(params[i].type);
    if (size <= 0 || size > 16) return -1;
    slot += size > 8 ? 2 : 1;
  }
  return slot;
}

/** What btf_distill_func_proto (kernel/bpf/btf.c) refuses, so those count as untraceable. */
function fentryUnsupported(btf: Btf, protoId: number, params: { type: number; name: string }[]): string | undefined {
  if (params.length > MAX_FENTRY_ARGS) return `${params.length} arguments (max ${MAX_FENTRY_ARGS})`;
  const last = params[params.length - 1];
  if (last && last.type === 0) return 'variadic';
  const check = (type: number, what: string): string | undefined => {
    const id = btf.strip(type);
    if (id === 0) return what === 'return value' ? undefined : `${what} is void`;
    const k = btf.kind(id);
    if (k === BtfKind.Int || k === BtfKind.Ptr || k === BtfKind.Enum || k === BtfKind.Enum64) return undefined;
    if ((k === BtfKind.Struct || k === BtfKind.Union) && btf.sizeOrType(id) <= 16) return undefined;
    return `${what} of kind ${BtfKind[k]}${k === BtfKind.Struct || k === BtfKind.Union ? ` (${btf.sizeOrType(id)} bytes)` : ''}`;
  };
  const ret = check(btf.sizeOrType(protoId), 'return value');
  if (ret) return ret;
  for (let i = 0; i < params.length; i++) {
    const why = check(params[i].type, `argument ${i + 1}`);
    if (why) return why;
  }
  return undefined;
}

/**
 * Functions and tracepoints of one BTF (vmlinux, or a module's split BTF with `module` set) that
 * take a `struct sk_buff *`. Functions are deduplicated by name (static functions of the same name
 * in several files share one kallsyms name: they cannot be told apart by name anyway).
 */
export function discoverSkbTargets(btf: Btf, module?: string): Discovery {
  const functions: SkbFunction[] = [];
  const tracepoints: SkbTracepoint[] = [];
  const seen = new Set<string>();
  for (const id of btf.ids()) {
    const kind = btf.kind(id);
    if (kind === BtfKind.Func) {
      const proto = btf.sizeOrType(id);
      if (btf.kind(proto) !== BtfKind.FuncProto) continue;
      const params = btf.params(proto);
      const skbArg = params.findIndex((p) => p.type !== 0 && btf.isPtrToStruct(p.type, SKB));
      if (skbArg < 0) continue;
      const name = btf.name(id);
      if (seen.has(name)) continue;
      seen.add(name);
      const fn: SkbFunction = {
        kind: 'function',
        name,
        btfId: id,
        nrArgs: params.length,
        skbArg,
        skbSlot: slotOf(btf, params, skbArg),
        constSkb: isConstPointee(btf, params[skbArg].type),
      };
      if (module) fn.module = module;
      const why = fentryUnsupported(btf, proto, params);
      if (why) fn.fentryUnsupported = why;
      functions.push(fn);
    } else if (kind === BtfKind.Typedef) {
      const name = btf.name(id);
      if (!name.startsWith('btf_trace_')) continue;
      const ptr = btf.strip(btf.sizeOrType(id));
      if (btf.kind(ptr) !== BtfKind.Ptr) continue;
      const proto = btf.strip(btf.sizeOrType(ptr));
      if (btf.kind(proto) !== BtfKind.FuncProto) continue;
      const args = btf.params(proto).slice(1); // the first is the hidden void *__data
      const skbArg = args.findIndex((p) => p.type !== 0 && btf.isPtrToStruct(p.type, SKB));
      if (skbArg < 0) continue;
      const tp: SkbTracepoint = {
        kind: 'tracepoint',
        name: name.slice('btf_trace_'.length),
        btfId: id,
        nrArgs: args.length,
        skbArg,
        skbSlot: slotOf(btf, args, skbArg),
      };
      if (module) tp.module = module;
      tracepoints.push(tp);
    }
  }
  functions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  tracepoints.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { functions, tracepoints };
}

/**
 * The running kernel's SKB_GSO_* flags: bit → name, lower case without the prefix
 * (`SKB_GSO_IPXIP6` → `ipxip6`; `__SKB_GSO_TCP_FIXEDID` → `__tcp_fixedid`). Read from the enum
 * that contains SKB_GSO_TCPV4, so renumbering (6.18 moved TCP_FIXEDID to bit 30) is followed.
 */
export function gsoTypeNames(btf: Btf): Map<number, string> {
  const out = new Map<number, string>();
  for (const id of btf.ids()) {
    const kind = btf.kind(id);
    if (kind !== BtfKind.Enum && kind !== BtfKind.Enum64) continue;
    const values = btf.enumValues(id);
    if (!values.some((v) => v.name === 'SKB_GSO_TCPV4')) continue;
    for (const v of values) {
      if (!v.name.includes('SKB_GSO_') || v.value === 0n) continue;
      const x = v.value;
      if ((x & (x - 1n)) !== 0n) continue; // not a single bit (a mask): no flag of its own
      const bit = x.toString(2).length - 1;
      const name = v.name.replace('SKB_GSO_', '').toLowerCase();
      // Prefer the public name when an internal alias (leading "__") shares the bit.
      if (!out.has(bit) || out.get(bit)!.startsWith('__')) out.set(bit, name);
    }
    return out;
  }
  return out;
}

/** Bit names of Linux 6.1–6.17 (SKB_GSO_* before 6.18 renumbered): used only without BTF. */
export const FALLBACK_GSO_NAMES: ReadonlyMap<number, string> = new Map(
  [
    'tcpv4',
    'dodgy',
    'tcp_ecn',
    'tcp_fixedid',
    'tcpv6',
    'fcoe',
    'gre',
    'gre_csum',
    'ipxip4',
    'ipxip6',
    'udp_tunnel',
    'udp_tunnel_csum',
    'partial',
    'tunnel_remcsum',
    'sctp',
    'esp',
    'udp',
    'udp_l4',
    'fraglist',
  ].map((n, i) => [i, n]),
);

// ---- the running system ----

export const SYS_BTF_DIR = '/sys/kernel/btf';

export interface KernelBtf {
  vmlinux: Btf;
  /** Modules' split BTF by module name. */
  modules: Map<string, Btf>;
}

/** Reads vmlinux BTF and (unless `modules: false`) every loaded module's split BTF. */
export function readKernelBtf(opts: { dir?: string; modules?: boolean } = {}): KernelBtf {
  const dir = opts.dir ?? SYS_BTF_DIR;
  const vmlinux = Btf.parse(readFileSync(join(dir, 'vmlinux')));
  const modules = new Map<string, Btf>();
  if (opts.modules !== false) {
    for (const name of readdirSync(dir)) {
      if (name === 'vmlinux') continue;
      try {
        modules.set(name, Btf.parse(readFileSync(join(dir, name)), vmlinux));
      } catch {
        /* a module unloaded meanwhile, or BTF we cannot read: its functions are simply absent */
      }
    }
  }
  return { vmlinux, modules };
}

export function discoverKernel(kbtf: KernelBtf): Discovery {
  const all = discoverSkbTargets(kbtf.vmlinux);
  const names = new Set(all.functions.map((f) => f.name));
  for (const [mod, btf] of kbtf.modules) {
    const d = discoverSkbTargets(btf, mod);
    for (const f of d.functions)
      if (!names.has(f.name)) {
        names.add(f.name);
        all.functions.push(f);
      }
    all.tracepoints.push(...d.tracepoints);
  }
  return all;
}

export interface KernelSymbols {
  /** Text symbols: name → number of entries (more than one: the name is ambiguous). */
  text: Map<string, number>;
  /** Names ftrace can patch (available_filter_functions), when readable; trampolines and
   *  kprobe-multi need it. */
  ftrace?: Set<string>;
  /** Functions kprobes refuse (debugfs kprobes/blacklist), when readable. */
  kprobeBlacklist?: Set<string>;
}

/** Parses /proc/kallsyms text: "addr type name [module]". */
export function parseKallsyms(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    // "ffffffff81000000 T _stext" or "ffffffffa0000000 t veth_xmit\t[veth]"
    const s1 = line.indexOf(' ');
    if (s1 < 0 || (line.charCodeAt(s1 + 1) | 0x20) !== 0x74) continue; // text symbols only (t/T)
    const tab = line.indexOf('\t', s1 + 3);
    const name = tab < 0 ? line.slice(s1 + 3) : line.slice(s1 + 3, tab);
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

function readOptional(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      if (existsSync(p)) return readFileSync(p, 'utf8');
    } catch {
      /* EPERM on some kernels even for root: optional */
    }
  }
  return undefined;
}

export function readKernelSymbols(): KernelSymbols {
  const syms: KernelSymbols = { text: parseKallsyms(readFileSync('/proc/kallsyms', 'utf8')) };
  const aff = readOptional(['/sys/kernel/tracing/available_filter_functions', '/sys/kernel/debug/tracing/available_filter_functions']);
  if (aff)
    syms.ftrace = new Set(
      aff
        .split('\n')
        .map((l) => l.split(/\s/)[0])
        .filter(Boolean),
    );
  const bl = readOptional(['/sys/kernel/debug/kprobes/blacklist']);
  if (bl)
    syms.kprobeBlacklist = new Set(
      bl
        .split('\n')
        .map((l) => l.split(/\s+/)[1])
        .filter(Boolean),
    );
  return syms;
}
