import { Controller, Get } from '@nestjs/common';

import { Capabilities } from './capabilities.model';
import { CapabilitiesService } from './capabilities.service';

@Controller('v1/capabilities')
export class CapabilitiesController {
  constructor(private readonly capabilities: CapabilitiesService) {}

  /** What the kernel of this host supports and the mode the agent runs in. */
  @Get()
  get(): Capabilities {
    return this.capabilities.get();
  }
}
