// The application's modules. Built per start from the validated config (ConfigModule.forRoot) and
// the options of the command that starts it.
import { DynamicModule, Module } from '@nestjs/common';

import { CapabilitiesModule } from './capabilities/capabilities.module';
import { AgentConfig } from './config/agent.config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { KernelModule } from './kernel/kernel.module';
import { LocalRedisModule } from './redis/local-redis.module';
import { DataplaneModule } from './dataplane/dataplane.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { StateModule } from './state/state.module';
import { TraceModule } from './trace/trace.module';
import { XdpModule } from './xdp/xdp.module';

export interface AppOptions {
  /** Start a child redis-server when none answers at a loopback redis.url (`serve` does). */
  startLocalRedis?: boolean;
}

@Module({})
export class AppModule {
  static forRoot(config: AgentConfig, opts: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      // LocalRedisModule first: the queue connects to the Redis it may start.
      imports: [
        ConfigModule.forRoot(config),
        ...(opts.startLocalRedis ? [LocalRedisModule] : []),
        KernelModule,
        CapabilitiesModule,
        MetricsModule,
        XdpModule,
        DataplaneModule,
        JobsModule,
        StateModule,
        TraceModule,
        HealthModule,
      ],
    };
  }
}
