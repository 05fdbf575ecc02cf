// Ready when the managed namespace still exists under its name and the agent's rtnetlink socket
// in it answers a link dump.
import { Injectable } from '@nestjs/common';

import { netnsExists, netnsPath } from '../kernel/named-netns';
import { RtnetlinkRepository } from '../kernel/rtnetlink.repository';
import { HealthCheck } from './health-check';

@Injectable()
export class NetlinkHealthCheck implements HealthCheck {
  readonly name = 'netlink';

  constructor(private readonly rtnetlink: RtnetlinkRepository) {}

  async check(): Promise<void> {
    const ns = this.rtnetlink.netns;
    // The socket keeps an unnamed namespace alive: detect that it was deleted from under us.
    if (ns !== undefined && !netnsExists(ns)) throw new Error(`netns ${ns} is gone (${netnsPath(ns)})`);
    const links = await this.rtnetlink.links();
    if (!links.some((l) => l.name === 'lo')) throw new Error('link dump answered without lo');
  }
}
