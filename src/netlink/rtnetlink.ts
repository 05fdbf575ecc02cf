// The rtnetlink facade: one socket in one network namespace, with typed object operations.
// Requests are built by the pure object files; this class only sends them and decodes replies.
import { Address, AddressSpec, addressAddRequest, addressDeleteRequest, addressDumpRequest, decodeAddress } from './address';
import { RTM } from './constants';
import { Family } from './ip';
import { decodeLink, Link, LinkChange, linkChangeRequest, LinkCreate, linkCreateRequest, linkDeleteRequest, linkGetRequest } from './link';
import './link-veth';
import './link-vrf';
import { NetlinkMessage, NlRequest } from './message';
import { decodeNeighbour, Neighbour, neighbourDumpRequest } from './neighbour';
import { decodeNexthop, Nexthop, nexthopAddRequest, nexthopDeleteRequest, nexthopDumpRequest, nexthopGetRequest } from './nexthop';
import { decodeRoute, Route, routeAddRequest, routeDeleteRequest, routeDumpRequest, RouteFilter } from './route';
import { decodeRule, Rule, ruleAddRequest, ruleDeleteRequest, ruleDumpRequest } from './rule';
import { BatchOptions, BatchResult, NetlinkSocket, SocketOptions } from './socket';
import { Sysctl } from './sysctl';
import { KernelError } from './errors';

function decodeAll<T>(msgs: NetlinkMessage[], type: number, decode: (m: NetlinkMessage) => T): T[] {
  return msgs.filter((m) => m.type === type).map(decode);
}

export class Rtnetlink {
  readonly sysctl: Sysctl;

  constructor(readonly socket: NetlinkSocket) {
    this.sysctl = new Sysctl(socket.netns);
  }

  static open(opts: SocketOptions = {}): Rtnetlink {
    return new Rtnetlink(new NetlinkSocket(opts));
  }

  close(): void {
    this.socket.close();
  }

  exec(req: NlRequest): Promise<void> {
    return this.socket.exec(req);
  }

  batch(reqs: Iterable<NlRequest>, opts?: BatchOptions): Promise<BatchResult[]> {
    return this.socket.batch(reqs, opts);
  }

  // links
  async links(): Promise<Link[]> {
    return decodeAll(await this.socket.dump(linkGetRequest()), RTM.NEWLINK, decodeLink);
  }

  /** One link by name; undefined when it does not exist. */
  async link(name: string): Promise<Link | undefined> {
    try {
      const [m] = await this.socket.get(linkGetRequest(name));
      return m ? decodeLink(m) : undefined;
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENODEV') return undefined;
      throw e;
    }
  }

  createLink(spec: LinkCreate): Promise<void> {
    return this.exec(linkCreateRequest(spec));
  }

  setLink(link: number | string, change: LinkChange): Promise<void> {
    return this.exec(linkChangeRequest(link, change));
  }

  deleteLink(link: number | string): Promise<void> {
    return this.exec(linkDeleteRequest(link));
  }

  // addresses
  async addresses(family?: Family, index?: number): Promise<Address[]> {
    return decodeAll(await this.socket.dump(addressDumpRequest(family, index)), RTM.NEWADDR, decodeAddress);
  }

  addAddress(spec: AddressSpec, replace = false): Promise<void> {
    return this.exec(addressAddRequest(spec, replace));
  }

  deleteAddress(spec: AddressSpec): Promise<void> {
    return this.exec(addressDeleteRequest(spec));
  }

  // routes
  async routes(filter: RouteFilter = {}): Promise<Route[]> {
    try {
      return decodeAll(await this.socket.dump(routeDumpRequest(filter)), RTM.NEWROUTE, decodeRoute);
    } catch (e) {
      // A table that does not exist (yet) holds no routes; the kernel says ENOENT for IPv6.
      if (filter.table && e instanceof KernelError && e.code === 'ENOENT') return [];
      throw e;
    }
  }

  addRoute(r: Route, replace = false): Promise<void> {
    return this.exec(routeAddRequest(r, replace));
  }

  deleteRoute(r: Route): Promise<void> {
    return this.exec(routeDeleteRequest(r));
  }

  // nexthop objects
  async nexthops(filter: { oif?: number; groups?: boolean } = {}): Promise<Nexthop[]> {
    return decodeAll(await this.socket.dump(nexthopDumpRequest(filter)), RTM.NEWNEXTHOP, decodeNexthop);
  }

  /** One nexthop by id; undefined when there is none. */
  async nexthop(id: number): Promise<Nexthop | undefined> {
    try {
      const [m] = await this.socket.get(nexthopGetRequest(id));
      return m ? decodeNexthop(m) : undefined;
    } catch (e) {
      if (e instanceof KernelError && e.code === 'ENOENT') return undefined;
      throw e;
    }
  }

  addNexthop(n: Nexthop, replace = false): Promise<void> {
    return this.exec(nexthopAddRequest(n, replace));
  }

  deleteNexthop(id: number): Promise<void> {
    return this.exec(nexthopDeleteRequest(id));
  }

  // policy rules
  async rules(family?: Family): Promise<Rule[]> {
    return decodeAll(await this.socket.dump(ruleDumpRequest(family)), RTM.NEWRULE, decodeRule);
  }

  addRule(r: Rule): Promise<void> {
    return this.exec(ruleAddRequest(r));
  }

  deleteRule(r: Rule): Promise<void> {
    return this.exec(ruleDeleteRequest(r));
  }

  // neighbours
  async neighbours(family?: Family, index?: number): Promise<Neighbour[]> {
    return decodeAll(await this.socket.dump(neighbourDumpRequest(family, index)), RTM.NEWNEIGH, decodeNeighbour);
  }
}
