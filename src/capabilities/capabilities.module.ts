import { Module } from '@nestjs/common';

import { CapabilitiesController } from './capabilities.controller';
import { CapabilitiesService } from './capabilities.service';
import { CapabilityProbe } from './capability-probe';

@Module({
  controllers: [CapabilitiesController],
  providers: [CapabilitiesService, { provide: CapabilityProbe, useFactory: () => new CapabilityProbe() }],
  exports: [CapabilitiesService],
})
export class CapabilitiesModule {}
