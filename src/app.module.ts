// The application's modules. Built per start from the validated config (ConfigModule.forRoot) and
// the options of the command that starts it.
import { DynamicModule, Module } from '@nestjs/common';

import { CapabilitiesModule } from './capabilities/capabilities.module';
import { AgentConfig } from './config/agent.config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { KernelModule } from './kernel/kernel.module';
import { LocalRedisModule } from './redis/local-redis.module';

export interface AppOptions {
  /** Start a child redis-server when none answers at a loopback redis.url (`serve` does). */
  startLocalRedis?: boolean;
}

@Module({})
export class AppModule {
  static forRoot(config: AgentConfig, opts: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), KernelModule, CapabilitiesModule, HealthModule, ...(opts.startLocalRedis ? [LocalRedisModule] : [])],
    };
  }
}
