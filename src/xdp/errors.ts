// The offload's own domain error: what a reconcile reports when the XDP side could not follow the
// desired state. It wraps the cause (a BpfError from libbpf, an InvalidArgumentError for an input
// the map or the attach refused) and keeps its errno, so a job knows whether retrying can help.
import { BpfError } from '../bpf/errors';
import { InvalidArgumentError, KernelError } from '../netlink/errors';

/** load: opening/loading the program and its pinned maps; apply: SID map, egress list or links. */
export type XdpStep = 'load' | 'apply';

export class XdpOffloadError extends Error {
  override readonly name = 'XdpOffloadError';
  /** Symbolic errno when the kernel or libbpf gave one (EBUSY, EPERM, ...). */
  readonly code?: string;
  readonly errno?: number;
  /** The last line of libbpf's log (the verifier's verdict for a load), when there is one. */
  readonly detail?: string;

  constructor(
    readonly step: XdpStep,
    override readonly cause: unknown,
  ) {
    const c = cause as Error;
    super(`xdp offload ${step === 'load' ? 'could not be loaded' : 'could not be applied'}: ${c?.message ?? String(cause)}`, { cause });
    if (cause instanceof BpfError) {
      this.code = cause.code;
      this.errno = cause.errno;
      this.detail = cause.log?.trim().split('\n').pop() || undefined;
    } else if (cause instanceof KernelError) {
      this.code = cause.code;
      this.errno = cause.errno;
      this.detail = cause.extack;
    } else if (cause instanceof InvalidArgumentError) {
      this.code = 'EINVAL';
      this.errno = 22;
    }
  }
}
