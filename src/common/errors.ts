// Domain errors of the agent itself (the netlink and bpf layers have their own in src/netlink/errors.ts
// and src/bpf/errors.ts). Services throw these; DomainExceptionFilter maps them to HTTP, the job
// processor (later) to retry/fail. Never throw HTTP exceptions from domain code.

/** A job or request needs a kernel feature this host lacks (see GET /v1/capabilities). */
export class CapabilityMissingError extends Error {
  constructor(
    /** Feature key as in the capability report, e.g. "seg6local.End.DT4". */
    readonly feature: string,
    /** What the caller can do instead, e.g. "use End.DX4 or table mode". */
    readonly alternative?: string,
    /** Why the probe found it missing (errno/extack text), when known. */
    readonly reason?: string,
  ) {
    super(`kernel feature ${feature} is not available${reason ? ` (${reason})` : ''}${alternative ? `; alternative: ${alternative}` : ''}`);
    this.name = 'CapabilityMissingError';
  }
}
