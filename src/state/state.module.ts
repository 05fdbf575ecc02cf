import { Module } from '@nestjs/common';
import { DataplaneModule } from '../dataplane/dataplane.module';
import { StateController } from './state.controller';
import { StateService } from './state.service';

@Module({ imports: [DataplaneModule], controllers: [StateController], providers: [StateService] })
export class StateModule {}
