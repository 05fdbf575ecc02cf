// Domain errors of the agent that belong to no one layer (the netlink, bpf, dataplane, jobs and
// trace layers declare their own next to their code). Services throw these; DomainExceptionFilter
// answers them over HTTP, a job's failure carries them (jobs/job-failure.ts). Never throw HTTP
// exceptions from domain code.
import { DomainError } from './domain-error';

/** A job or request needs kernel features this host lacks (see GET /v1/capabilities). */
export class CapabilityMissingError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 501;
  readonly error = 'CapabilityMissing';
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

  override details() {
    return { feature: this.feature, features: this.features, alternative: this.alternative, reason: this.reason };
  }
}
