// Typed change events from the kernel's rtnetlink multicast groups, on a socket of its own.
import { EventEmitter } from 'node:events';
import { RTM, RTNLGRP } from './constants';
import { decodeAddress, Address } from './address';
import { decodeLink, Link } from './link';
import { NetlinkMessage } from './message';
import { decodeNexthop, Nexthop } from './nexthop';
import { decodeRoute, Route } from './route';
import { decodeRule, Rule } from './rule';
import { NetlinkSocket } from './socket';
import { NetnsRef } from '../native/addon';

/**
 * `pid` is the netlink port of the socket whose request caused the change (0: the kernel itself,
 * e.g. routes removed with their link); it tells one's own changes from everybody else's.
 */
export type MonitorEvent = { pid: number } & (
  | { kind: 'link'; action: 'new' | 'del'; link: Link }
  | { kind: 'address'; action: 'new' | 'del'; address: Address }
  | { kind: 'route'; action: 'new' | 'del'; route: Route }
  | { kind: 'nexthop'; action: 'new' | 'del'; nexthop: Nexthop }
  | { kind: 'rule'; action: 'new' | 'del'; rule: Rule }
);

export const ALL_GROUPS = [
  RTNLGRP.LINK,
  RTNLGRP.IPV4_IFADDR,
  RTNLGRP.IPV6_IFADDR,
  RTNLGRP.IPV4_ROUTE,
  RTNLGRP.IPV6_ROUTE,
  RTNLGRP.NEXTHOP,
  RTNLGRP.IPV4_RULE,
  RTNLGRP.IPV6_RULE,
];

export function decodeEvent(m: NetlinkMessage): MonitorEvent | undefined {
  switch (m.type) {
    case RTM.NEWLINK:
    case RTM.DELLINK:
      return { pid: m.pid, kind: 'link', action: m.type === RTM.NEWLINK ? 'new' : 'del', link: decodeLink(m) };
    case RTM.NEWADDR:
    case RTM.DELADDR:
      return { pid: m.pid, kind: 'address', action: m.type === RTM.NEWADDR ? 'new' : 'del', address: decodeAddress(m) };
    case RTM.NEWROUTE:
    case RTM.DELROUTE:
      return { pid: m.pid, kind: 'route', action: m.type === RTM.NEWROUTE ? 'new' : 'del', route: decodeRoute(m) };
    case RTM.NEWNEXTHOP:
    case RTM.DELNEXTHOP:
      return { pid: m.pid, kind: 'nexthop', action: m.type === RTM.NEWNEXTHOP ? 'new' : 'del', nexthop: decodeNexthop(m) };
    case RTM.NEWRULE:
    case RTM.DELRULE:
      return { pid: m.pid, kind: 'rule', action: m.type === RTM.NEWRULE ? 'new' : 'del', rule: decodeRule(m) };
    default:
      return undefined;
  }
}

/**
 * Emits 'event' (MonitorEvent) and 'overrun' (the kernel dropped events: the listener must
 * re-dump what it cares about) and 'error' for undecodable messages.
 */
export class NetlinkMonitor extends EventEmitter {
  private readonly sock: NetlinkSocket;

  constructor(opts: { netns?: NetnsRef; groups?: number[] } = {}) {
    super();
    this.sock = new NetlinkSocket({ netns: opts.netns, groups: opts.groups ?? ALL_GROUPS });
    this.sock.onEvent((m) => {
      let ev: MonitorEvent | undefined;
      try {
        ev = decodeEvent(m);
      } catch (e) {
        this.emit('decode-error', e);
        return;
      }
      if (ev) this.emit('event', ev);
    });
    this.sock.onError((e) => this.emit('overrun', e));
  }

  close(): void {
    this.sock.close();
  }
}
