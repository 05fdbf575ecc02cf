import { Module } from '@nestjs/common';
import { CapabilitiesModule } from '../capabilities/capabilities.module';
import { DataplaneService } from './dataplane.service';

@Module({ imports: [CapabilitiesModule], providers: [DataplaneService], exports: [DataplaneService] })
export class DataplaneModule {}
