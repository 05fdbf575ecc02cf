// The agent's rtnetlink socket in the network namespace it manages (config kernel.netns; empty =
// its own). The only injectable that talks rtnetlink to the managed namespace; services get it
// injected and tests replace it with a strict fake.
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';

import { Link, Rtnetlink } from '../netlink';
import { AgentConfig } from '../config/agent.config';
import { netnsExists, netnsPath } from './named-netns';

@Injectable()
export class RtnetlinkRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RtnetlinkRepository.name);
  private rt?: Rtnetlink;

  constructor(private readonly config: AgentConfig) {}

  /** The managed namespace's name, or undefined for the agent's own. */
  get netns(): string | undefined {
    return this.config.kernel.netns || undefined;
  }

  /** Opens the socket at start: a missing namespace stops the agent with a clear message. */
  onModuleInit(): void {
    const ns = this.netns;
    if (ns !== undefined && !netnsExists(ns))
      throw new Error(`network namespace ${JSON.stringify(ns)} (kernel.netns / SRV6_NETNS) does not exist: no ${netnsPath(ns)}`);
    this.rt = Rtnetlink.open({ netns: ns });
    this.logger.log(`rtnetlink open in ${ns ? `netns ${ns}` : "the agent's own netns"}`);
  }

  /** Last of all (after onModuleDestroy hooks, where the job queue lets its running job finish). */
  onApplicationShutdown(): void {
    this.rt?.close();
    this.rt = undefined;
  }

  get rtnetlink(): Rtnetlink {
    if (!this.rt) throw new Error('RtnetlinkRepository used before init or after shutdown');
    return this.rt;
  }

  links(): Promise<Link[]> {
    return this.rtnetlink.links();
  }
}
