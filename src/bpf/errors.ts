// Domain error for everything that goes through libbpf or the bpf(2) syscall.
// The addon throws plain Errors carrying {errno, code, op?, log?}; the wrapper turns them into this.
import { DomainError, Retry } from '../common/domain-error';
import { errnoName, TRANSIENT_ERRNO } from '../common/errno';

export class BpfError extends DomainError {
  override readonly name = 'BpfError';
  readonly status = 502;
  readonly error = 'BpfError';

  constructor(
    message: string,
    /** What failed: a libbpf function or wrapper operation, e.g. `bpf_object__load`. */
    readonly op: string,
    /** Positive errno, as the kernel or libbpf reported it. */
    readonly errno: number,
    /** Symbolic errno (`ENOENT`, `EACCES`, …). */
    readonly code: string,
    /** libbpf's messages for this call (for a load: the verifier log), when there were any. */
    readonly log?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Busy or short of memory (a map update under pressure): the same call may pass later. */
  get retry(): Retry {
    return TRANSIENT_ERRNO.has(this.code) ? 'transient' : 'permanent';
  }

  /** The log stays out: the message already carries it. */
  override details() {
    return { errno: this.errno, code: this.code, op: this.op };
  }

  /** True if `err` is a BpfError, optionally with the given code (`isBpfError(e, 'ENOENT')`). */
  static is(err: unknown, code?: string): err is BpfError {
    return err instanceof BpfError && (code === undefined || err.code === code);
  }
}

interface NativeErrorShape {
  message: string;
  errno: number;
  code?: string;
  op?: string;
  log?: string;
}

// Duck-typed: the addon's errors come from Node's own realm, so under jest (a vm context)
// `instanceof Error` is false for them.
function isNativeError(err: unknown): err is NativeErrorShape {
  const e = err as Partial<NativeErrorShape> | null;
  return typeof e === 'object' && e !== null && typeof e.errno === 'number' && typeof e.message === 'string';
}

/**
 * Maps an addon error carrying an errno to a BpfError (glibc has no name for the kernel's own
 * errnos, e.g. 524 ENOTSUPP: errnoName has); anything else (a TypeError for a wrong
 * argument type, a bug) is returned unchanged so it is not disguised as a kernel failure.
 */
export function toBpfError(err: unknown, op: string): unknown {
  if (err instanceof BpfError || !isNativeError(err)) return err;
  return new BpfError(err.message, err.op ?? op, err.errno, err.code ?? errnoName(err.errno), err.log, {
    cause: err,
  });
}
