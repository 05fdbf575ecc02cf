// Makes the validated AgentConfig injectable everywhere (inject the class itself).
import { DynamicModule, Global, Module } from '@nestjs/common';

import { AgentConfig } from './agent.config';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AgentConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: AgentConfig, useValue: config }], exports: [AgentConfig] };
  }
}
