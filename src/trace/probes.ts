// Typed access to the tracing half of the native addon (the "tracing probes" section of
// native/bpf-probes.c, bpf-probe-attach.c): per-program setup before load, instruction cloning and mass attach/detach of
// trampoline programs and kprobes into a probe set whose links die with the process.
import { BpfError, BpfObject } from '../bpf/libbpf';
import { toBpfError } from '../bpf/errors';
import { native as loadNative } from '../native/addon';

interface TracingAttachRequest {
  kind: 'tracing';
  insns: Buffer;
  marker: number;
  attachType: 'fentry' | 'fexit' | 'tp_btf';
  name?: string;
  btfIds: Uint32Array;
  btfObjFds: Int32Array;
  ids: Uint32Array;
}

interface KprobeAttachRequest {
  kind: 'kprobe' | 'kprobe_multi';
  progFd: number;
  retprobe?: boolean;
  syms: string[];
  cookies: Uint32Array;
}

interface NativeTrace {
  bpfProgramSetup(obj: unknown, name: string, opts: { autoload?: boolean; attachTarget?: string }): void;
  bpfProgramInsns(obj: unknown, name: string): Buffer;
  bpfProbeSetNew(): unknown;
  bpfProbeSetAttach(set: unknown, req: TracingAttachRequest | KprobeAttachRequest): Promise<{ errors: Int32Array; log?: string }>;
  bpfProbeSetSize(set: unknown): number;
  bpfProbeSetDetach(set: unknown, parts?: number): Promise<number>;
  bpfProbeSetCloseSync(set: unknown): number;
  bpfBtfObjFd(name: string): number;
  bpfKprobePmu(): { type: number; retprobeBit: number };
  closeFd(fd: number): void;
}

function n(): NativeTrace {
  return loadNative<NativeTrace>();
}

function call<T>(op: string, fn: (x: NativeTrace) => T): T {
  try {
    return fn(n());
  } catch (err) {
    throw toBpfError(err, op);
  }
}

async function callAsync<T>(op: string, fn: (x: NativeTrace) => Promise<T>): Promise<T> {
  try {
    return await fn(n());
  } catch (err) {
    throw toBpfError(err, op);
  }
}

/**
 * The addon handle inside a BpfObject. BpfObject keeps it private and has no per-program setup
 * yet; until it gets `setupProgram`/`programInsns` (see docs/tracing.md, "changes elsewhere"),
 * this is the one place that reaches in.
 */
function handleOf(obj: BpfObject): unknown {
  const h = (obj as unknown as { handle: unknown }).handle;
  if (h === undefined) throw new BpfError(`object ${obj.path} is closed`, 'bpfProgramSetup', 9, 'EBADF');
  return h;
}

/** Before load: whether `prog` is loaded, and (trampoline programs) what it is verified against. */
export function setupProgram(obj: BpfObject, prog: string, opts: { autoload?: boolean; attachTarget?: string }): void {
  call('bpfProgramSetup', (x) => x.bpfProgramSetup(handleOf(obj), prog, opts));
}

/** After load: the program's final instructions (8 bytes each). */
export function programInsns(obj: BpfObject, prog: string): Buffer {
  return call('bpfProgramInsns', (x) => x.bpfProgramInsns(handleOf(obj), prog));
}

const LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW

/** Index of the ld_imm64 instruction loading `marker` (exactly one must exist). */
export function findMarker(insns: Buffer, marker: bigint): number {
  const lo = Number(marker & 0xffffffffn) | 0;
  const hi = Number(marker >> 32n) | 0;
  let found = -1;
  for (let i = 0; i + 1 < insns.length / 8; i++) {
    if (insns[i * 8] !== LD_IMM64) continue;
    if (insns.readInt32LE(i * 8 + 4) === lo && insns.readInt32LE(i * 8 + 12) === hi) {
      if (found >= 0) throw new Error(`marker 0x${marker.toString(16)} appears more than once`);
      found = i;
    }
    i++; // the second half of an ld_imm64
  }
  if (found < 0) throw new Error(`marker 0x${marker.toString(16)} not found in the program`);
  return found;
}

export interface AttachBatchResult {
  /** Per target: 0, or the errno of its failure. kprobe-multi: one entry for the whole batch. */
  errors: Int32Array;
  /** The verifier's explanation of the first clone the kernel refused. */
  log?: string;
}

/**
 * bpf_link fds of one trace. The kernel detaches a link when its last fd closes, so nothing stays
 * attached once the process is gone; detach() is the orderly way, closeSync() the exit path.
 */
export class ProbeSet {
  private readonly handle = call('bpfProbeSetNew', (x) => x.bpfProbeSetNew());

  get size(): number {
    return call('bpfProbeSetSize', (x) => x.bpfProbeSetSize(this.handle));
  }

  /** Loads one clone of `insns` per target (target index written over the marker) and attaches it. */
  attachTracing(req: Omit<TracingAttachRequest, 'kind'>): Promise<AttachBatchResult> {
    // The kernel keeps 15 characters of a program name (the addon's string helper takes 14).
    const name = req.name?.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 14);
    return callAsync('bpfProbeSetAttach', (x) => x.bpfProbeSetAttach(this.handle, { kind: 'tracing', ...req, name }));
  }

  /** One kprobe (perf event + link) per symbol, cookie = target index. */
  attachKprobes(req: Omit<KprobeAttachRequest, 'kind'>): Promise<AttachBatchResult> {
    return callAsync('bpfProbeSetAttach', (x) => x.bpfProbeSetAttach(this.handle, { kind: 'kprobe', ...req }));
  }

  /** One kprobe-multi link for all symbols: all or nothing. */
  attachKprobeMulti(req: Omit<KprobeAttachRequest, 'kind'>): Promise<AttachBatchResult> {
    return callAsync('bpfProbeSetAttach', (x) => x.bpfProbeSetAttach(this.handle, { kind: 'kprobe_multi', ...req }));
  }

  /** Closes every link, in `parts` parallel works; resolves with how many were closed. */
  detach(parts = 1): Promise<number> {
    return callAsync('bpfProbeSetDetach', (x) => x.bpfProbeSetDetach(this.handle, parts));
  }

  /** Closes every link now, on this thread (for process exit). */
  closeSync(): number {
    return call('bpfProbeSetCloseSync', (x) => x.bpfProbeSetCloseSync(this.handle));
  }
}

/** fd of a kernel module's BTF object (for trampolines on module functions); closeFd() it. */
export function btfObjFd(module: string): number {
  return call('bpfBtfObjFd', (x) => x.bpfBtfObjFd(module));
}

export function closeFd(fd: number): void {
  call('close', (x) => x.closeFd(fd));
}

/** The kprobe PMU's perf type, -1 if the kernel has none (no CONFIG_KPROBES / kprobe events). */
export function kprobePmuType(): number {
  return call('bpfKprobePmu', (x) => x.bpfKprobePmu()).type;
}
