// Domain errors of the agent itself (the netlink and bpf layers have their own in src/netlink/errors.ts
// and src/bpf/errors.ts). Services throw these; DomainExceptionFilter maps them to HTTP, the job
// processor (later) to retry/fail. Never throw HTTP exceptions from domain code.

/** A job or request needs kernel features this host lacks (see GET /v1/capabilities). */
export class CapabilityMissingError extends Error {
  /** Every missing feature, in report order; `feature` is the first. */
  readonly features: string[];
  constructor(
    /** Feature key(s) as in the capability report, e.g. "seg6local.End.DT4". */
    feature: string | string[],
    /** What the caller can do instead, e.g. "use End.DX4 or table mode". */
    readonly alternative?: string,
    /** Why the probe found it missing (errno/extack text), when known. */
    readonly reason?: string,
  ) {
    const features = typeof feature === 'string' ? [feature] : feature;
    const what = features.length === 1 ? `kernel feature ${features[0]} is` : `kernel features ${features.join(', ')} are`;
    super(`${what} not available${reason ? ` (${reason})` : ''}${alternative ? `; alternative: ${alternative}` : ''}`);
    this.name = 'CapabilityMissingError';
    this.features = features;
  }

  get feature(): string {
    return this.features[0];
  }
}
