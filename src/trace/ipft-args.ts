// Command-line parsing for `ipft` (node:util parseArgs, no dependency). Pure: unit-tested.
// The options follow ipftrace2 (-m/--mark, --mask, -r/--regex, -l/--list, -o, -b, -t) plus
// pwru-style filters and script helpers.
import { parseArgs } from 'node:util';

import { Backend, BACKENDS, DEFAULT_MAX_PROBES, MAX_PROBES_LIMIT, TraceType } from './backend';
import { nameFilterProblem } from './name-filter';

export const EXIT = { OK: 0, RUNTIME: 1, USAGE: 2 } as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface IpftArgs {
  help: boolean;
  /** -V/--version: print the version (JSON with -j) and exit. */
  version?: true;
  list: boolean;
  /** Check every backend (load + attach a probe) and report; nothing is traced. */
  checkBackends: boolean;
  mark?: number;
  mask: number;
  regex?: string;
  /** -j/--json is -o json (and makes -l and --version print JSON too). */
  output: 'aggregate' | 'json';
  backend?: Backend;
  type: TraceType;
  /** Refuse to attach more probes (Tracer default when unset). */
  maxProbes?: number;
  netnsInode?: number;
  ifindex?: number;
  /** Seconds. */
  duration?: number;
  limit?: number;
  readyFile?: string;
  ringBufferBytes?: number;
  maxEvents?: number;
  /** Packet id split after this long without events for an skb address; 0 disables. */
  splitGapMs: number;
  verbose: boolean;
}

export const USAGE = `Usage: ipft -m MARK [options]      trace packets whose skb->mark matches
       ipft -l [-b BACKEND] [-r REGEX]   list what can be traced here
       ipft -V|--version [-j]

Marks, filters:
  -m, --mark MARK        skb mark to trace (hex 0x... or decimal); set it with iptables/nft
                         (raw table), tc, or SO_MARK: see docs/tracing.md
      --mask MASK        compare (skb->mark & MASK) == (MARK & MASK); default 0xffffffff
      --netns-inode N    only skbs in this network namespace (inode, as in ls -Li /proc/PID/ns/net)
      --ifindex N        only skbs whose device has this ifindex
  -r, --regex REGEX      only functions/tracepoints whose name matches (RegExp syntax without
                         backreferences, lookaround or \\b: matched in linear time)

Tracing:
  -b, --backend NAME     fentry | kprobe-multi | kprobe | tp_btf ("ftrace" = fentry);
                         default: the first of these that really loads and attaches here
                         (kprobe-multi before fentry for more than 32 functions: ADR 0006)
  -t, --tracer TYPE      function (default) | function_graph (also returns; fentry only)
      --max-probes N     refuse to trace when more than N probes would be attached
                         (default ${DEFAULT_MAX_PROBES}, at most ${MAX_PROBES_LIMIT}; function_graph: 2 per function)
  -o, --output FORMAT    aggregate (default: per packet, at the end) | json (a line per event, live)
  -j, --json             JSON output: -o json; with -l the targets, with -V the version as JSON
      --duration SECONDS stop after this long (default: until Ctrl-C or SIGTERM)
      --limit N          stop after N events
      --ready-file PATH  create PATH once every probe is attached (for scripts)
      --ringbuf-size N   BPF ring buffer bytes, power of two (K/M suffix ok; default 8M)
      --max-events N     aggregate mode keeps at most N events (default 1000000)
      --split-gap-ms N   new packet id when an skb address is quiet this long (default 500; 0: off)
  -l, --list             list the targets (and, with -v, why others are untraceable)
      --check-backends   try every backend here and say which work and why not (-o json: JSON)
  -v, --verbose          attach failures and backend details
  -V, --version          the version and the commit it was built from
  -h, --help

Output: "Attaching program (total N, succeeded N, failed N, filtered: N, untraceable: N)",
"Trace ready!" (stderr), then at the end "Samples: N Lost: N" and the packets (stdout).
Exit status: 0 success, 1 runtime error, 2 usage error.
`;

/** Every option: what parseIpftArgs parses and what shell completion offers. */
export const IPFT_OPTIONS = {
  mark: { type: 'string', short: 'm' },
  mask: { type: 'string' },
  regex: { type: 'string', short: 'r' },
  list: { type: 'boolean', short: 'l' },
  'check-backends': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean', short: 'j' },
  backend: { type: 'string', short: 'b' },
  tracer: { type: 'string', short: 't' },
  'max-probes': { type: 'string' },
  'netns-inode': { type: 'string' },
  ifindex: { type: 'string' },
  duration: { type: 'string' },
  limit: { type: 'string' },
  'ready-file': { type: 'string' },
  'ringbuf-size': { type: 'string' },
  'max-events': { type: 'string' },
  'split-gap-ms': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What an option's value is, for shell completion: a fixed list or a file. */
export const IPFT_OPTION_VALUES: Partial<Record<keyof typeof IPFT_OPTIONS, readonly string[] | 'file'>> = {
  backend: [...BACKENDS, 'auto', 'ftrace'],
  tracer: ['function', 'function_graph'],
  output: ['aggregate', 'json'],
  'ready-file': 'file',
};

/** A 32-bit unsigned number: hex (0x…) or decimal. */
export function parseU32(s: string, what: string): number {
  const t = s.trim();
  const ok = /^0x[0-9a-f]{1,8}$/i.test(t) || /^[0-9]{1,10}$/.test(t);
  const v = ok ? Number(t) : NaN;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new UsageError(`${what}: expected a 32-bit number (hex 0x... or decimal), got ${JSON.stringify(s)}`);
  return v;
}

function parsePositive(s: string, what: string, { integer = true, allowZero = false } = {}): number {
  const v = Number(s);
  if (!/^[0-9.]+$/.test(s.trim()) || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < 0 || (!allowZero && v === 0))
    throw new UsageError(`${what}: expected a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got ${JSON.stringify(s)}`);
  return v;
}

/** `8M`, `512K`, `4096`: a power of two ≥ 4096. */
export function parseSize(s: string, what: string): number {
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: expected bytes with an optional K/M/G suffix, got ${JSON.stringify(s)}`);
  const mult = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const v = Number(m[1]) * mult;
  if (v < 4096 || (v & (v - 1)) !== 0 || v > 1 << 30) throw new UsageError(`${what}: must be a power of two between 4K and 1G, got ${s}`);
  return v;
}

export function parseIpftArgs(argv: string[]): IpftArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: IPFT_OPTIONS, strict: true, allowPositionals: false }) as {
      values: Record<string, string | boolean | undefined>;
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const args: IpftArgs = {
    help: values.help === true,
    list: values.list === true,
    checkBackends: values['check-backends'] === true,
    mask: 0xffffffff,
    output: 'aggregate',
    type: 'function',
    splitGapMs: 500,
    verbose: values.verbose === true,
  };
  if (args.help) return args;
  const out = str('output');
  if (values.json && out !== undefined && out !== 'json') throw new UsageError(`--json contradicts --output ${out}`);
  if (values.json) args.output = 'json';
  if (values.version) {
    args.version = true;
    if (out === 'json') args.output = 'json';
    return args;
  }
  if (str('mark') !== undefined) args.mark = parseU32(str('mark')!, '--mark');
  if (str('mask') !== undefined) args.mask = parseU32(str('mask')!, '--mask');
  if (!args.list && !args.checkBackends && args.mark === undefined) throw new UsageError('-m/--mark is required (or -l to list targets)');
  if (str('regex') !== undefined) {
    const problem = nameFilterProblem(str('regex')!);
    if (problem) throw new UsageError(`--regex: ${problem}`);
    args.regex = str('regex');
  }
  if (out !== undefined) {
    if (out !== 'aggregate' && out !== 'json') throw new UsageError(`--output: aggregate or json, got ${JSON.stringify(out)}`);
    args.output = out;
  }
  const be = str('backend');
  if (be !== undefined && be !== 'auto') {
    const name = be === 'ftrace' ? 'fentry' : be === 'kprobe_multi' ? 'kprobe-multi' : be;
    if (!(BACKENDS as readonly string[]).includes(name)) throw new UsageError(`--backend: one of ${BACKENDS.join(', ')} (or auto), got ${JSON.stringify(be)}`);
    args.backend = name as Backend;
  }
  const t = str('tracer');
  if (t !== undefined) {
    if (t !== 'function' && t !== 'function_graph') throw new UsageError(`--tracer: function or function_graph, got ${JSON.stringify(t)}`);
    args.type = t;
    if (t === 'function_graph' && args.backend && args.backend !== 'fentry')
      throw new UsageError(`--tracer function_graph needs the fentry backend (return probes that see the arguments); ${args.backend} has none`);
  }
  if (str('max-probes') !== undefined) {
    args.maxProbes = parsePositive(str('max-probes')!, '--max-probes');
    if (args.maxProbes > MAX_PROBES_LIMIT) throw new UsageError(`--max-probes: at most ${MAX_PROBES_LIMIT}, got ${args.maxProbes}`);
  }
  if (str('netns-inode') !== undefined) args.netnsInode = parseU32(str('netns-inode')!, '--netns-inode');
  if (str('ifindex') !== undefined) args.ifindex = parseU32(str('ifindex')!, '--ifindex');
  if (str('duration') !== undefined) args.duration = parsePositive(str('duration')!, '--duration', { integer: false });
  if (str('limit') !== undefined) args.limit = parsePositive(str('limit')!, '--limit');
  if (str('ready-file') !== undefined) {
    if (!str('ready-file')) throw new UsageError('--ready-file needs a path');
    args.readyFile = str('ready-file');
  }
  if (str('ringbuf-size') !== undefined) args.ringBufferBytes = parseSize(str('ringbuf-size')!, '--ringbuf-size');
  if (str('max-events') !== undefined) args.maxEvents = parsePositive(str('max-events')!, '--max-events');
  if (str('split-gap-ms') !== undefined) args.splitGapMs = parsePositive(str('split-gap-ms')!, '--split-gap-ms', { allowZero: true });
  return args;
}
