// The dataplane inside the application: opened on the managed netns's rtnetlink socket, in the mode
// the capability probe decided, started (startup reconcile + drift repair) when the app starts,
// and stopped — never torn down — when it stops: tenant traffic must survive an agent restart.
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { CapabilitiesService } from '../capabilities/capabilities.service';
import { AgentConfig } from '../config/agent.config';
import { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { Dataplane } from './dataplane';
import { DesiredStateStore } from './state-store';
import { Offload, OFFLOAD } from './offload';

@Injectable()
export class DataplaneService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Dataplane');
  private dp?: Dataplane;
  private started!: (dp: Dataplane) => void;
  private failed!: (e: unknown) => void;
  /** Settles once the startup reconcile is done: the queue may hand out jobs before that. */
  readonly ready = new Promise<Dataplane>((resolve, reject) => {
    this.started = resolve;
    this.failed = reject;
  });

  constructor(
    private readonly config: AgentConfig,
    private readonly kernel: RtnetlinkRepository,
    private readonly capabilities: CapabilitiesService,
    /** The XDP offload (src/xdp/xdp.module.ts); none: no tenant is offloaded. */
    @Optional() @Inject(OFFLOAD) private readonly offload?: Offload,
  ) {}

  async onModuleInit(): Promise<void> {
    this.ready.catch(() => undefined); // observed by whoever awaits it
    try {
      this.started(await this.start());
    } catch (e) {
      this.failed(e);
      throw e;
    }
  }

  private async start(): Promise<Dataplane> {
    const mode = this.capabilities.get().mode;
    this.dp = new Dataplane({
      nl: this.kernel.rtnetlink,
      store: new DesiredStateStore(this.config.state.dir),
      mode,
      netns: this.kernel.netns,
      resyncIntervalMs: this.config.dataplane.resyncSeconds * 1000,
      log: (msg, detail) => this.logger.log(`${msg} ${JSON.stringify(detail ?? {})}`),
      offload: this.offload,
      features: this.capabilities.get().features,
      orphans: this.config.state.orphans,
    });
    const r = await this.dp.start();
    this.logger.log(
      `startup reconcile in ${mode} mode: state v${r.version}, ${r.operations} operations, ${r.failed.length} failed, ${r.durationMs.toFixed(0)} ms`,
    );
    for (const f of r.failed.slice(0, 10)) this.logger.warn(`startup reconcile: ${f.what}: ${f.message}`);
    return this.dp;
  }

  onApplicationShutdown(): void {
    this.dp?.stop(); // the kernel objects stay: they carry tenant traffic
    this.offload?.close(); // so do the pinned XDP links
  }

  get dataplane(): Dataplane {
    if (!this.dp) throw new Error('dataplane used before start');
    return this.dp;
  }
}
