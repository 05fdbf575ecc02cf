// Holds what the kernel can do: probed once at start (logged as one summary line), re-probed on
// demand. Other services ask `require()` before relying on a feature.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { CapabilityMissingError } from '../common/errors';
import { Capabilities, Feature, srv6Role, summarize } from './capabilities.model';
import { CapabilityProbe } from './capability-probe';

@Injectable()
export class CapabilitiesService implements OnModuleInit {
  private readonly logger = new Logger(CapabilitiesService.name);
  private current?: Capabilities;

  constructor(private readonly probe: CapabilityProbe) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
  }

  /** Runs the probe again (it only ever touches its own throwaway namespace). */
  async refresh(): Promise<Capabilities> {
    const started = Date.now();
    this.current = await this.probe.run();
    this.logger.log(`${summarize(this.current)} (probed in ${Date.now() - started} ms)`);
    this.logger.log(`as an SRv6 node: ${this.current.srv6 ?? srv6Role(this.current)}`);
    return this.current;
  }

  get(): Capabilities {
    if (!this.current) throw new Error('capabilities requested before the probe ran');
    return this.current;
  }

  supports(feature: Feature): boolean {
    return this.get().features[feature].supported === true;
  }

  /** Throws CapabilityMissingError (HTTP 501) unless the feature works here. */
  require(feature: Feature, alternative?: string): void {
    const s = this.get().features[feature];
    if (s.supported !== true)
      throw new CapabilityMissingError(feature, alternative, s.reason ?? (s.supported === null ? 'could not be determined' : undefined));
  }
}
