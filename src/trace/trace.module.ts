// The tracer inside the agent: POST/GET /v1/traces. The trace is kernel-wide (BPF probes see
// every namespace); by default it is filtered to the namespace the agent manages.
import { Module, OnModuleDestroy } from '@nestjs/common';

import { AgentConfig } from '../config/agent.config';
import { managedNetnsInode } from './managed-netns';
import { TraceController } from './trace.controller';
import { TraceService } from './trace.service';

@Module({
  controllers: [TraceController],
  providers: [
    {
      provide: TraceService,
      inject: [AgentConfig],
      // Resolved per trace: the namespace may be recreated (new inode) while the agent runs.
      useFactory: (config: AgentConfig) => new TraceService({ defaultNetnsInode: () => managedNetnsInode(config.kernel.netns) }),
    },
  ],
  exports: [TraceService],
})
export class TraceModule implements OnModuleDestroy {
  constructor(private readonly traces: TraceService) {}

  /** SIGTERM, app.close(): the running trace stops and every probe is detached. */
  onModuleDestroy(): Promise<void> {
    return this.traces.shutdown();
  }
}
