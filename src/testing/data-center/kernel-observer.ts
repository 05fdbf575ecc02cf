// What a hypervisor's kernel holds of the agent's, read with iproute2 (the independent observer:
// a bug in the agent's own netlink decoder cannot hide here).
import { DEFAULT_OWNERSHIP } from '../../dataplane/kernel-objects';
import { TestNetns } from '../netns';

export const AGENT_PROTO = String(DEFAULT_OWNERSHIP.protocol);

export interface IpRoute {
  dst: string;
  table?: string;
  type?: string;
  dev?: string;
  nhid?: number;
  encap?: string;
  segs?: string[];
  action?: string;
  protocol?: string;
  [k: string]: unknown;
}

/**
 * Every route of the agent's protocol, both families, every table (`ip -d -j route show table all
 * proto 196`); host routes with their length ("10.0.0.21/32": iproute2 prints them without).
 */
export function ownedRoutes(ns: TestNetns): IpRoute[] {
  return [4, 6].flatMap((f) =>
    ns
      .ipJson<IpRoute[]>([`-${f}`, '-d', 'route', 'show', 'table', 'all', 'proto', AGENT_PROTO])
      .map((r) => ({ ...r, dst: r.dst === 'default' || r.dst.includes('/') ? r.dst : `${r.dst}/${f === 4 ? 32 : 128}`, family: f })),
  );
}

export interface IpNexthop {
  id: number;
  dev?: string;
  encap?: string;
  segs?: string[];
  protocol?: string;
  [k: string]: unknown;
}

export function ownedNexthops(ns: TestNetns): IpNexthop[] {
  return ns.ipJson<IpNexthop[]>(['-d', 'nexthop', 'show']).filter((n) => String(n.protocol) === AGENT_PROTO);
}

export interface IpRule {
  priority: number;
  iif?: string;
  table: string;
  protocol?: string;
  [k: string]: unknown;
}

export function ownedRules(ns: TestNetns): IpRule[] {
  return [4, 6].flatMap((f) => ns.ipJson<IpRule[]>([`-${f}`, 'rule', 'show']).filter((r) => String(r.protocol) === AGENT_PROTO));
}

/** Everything the agent owns, as sorted printable lines (comparable across runs; ids normalised). */
export function ownedKernelState(ns: TestNetns): string[] {
  const lines = [
    ...ns.ip(['-4', 'route', 'show', 'table', 'all', 'proto', AGENT_PROTO]).split('\n'),
    ...ns.ip(['-6', 'route', 'show', 'table', 'all', 'proto', AGENT_PROTO]).split('\n'),
    ...ns
      .ip(['nexthop', 'show'])
      .split('\n')
      .filter((l) => l.includes(`proto ${AGENT_PROTO}`)),
    ...ns
      .ip(['-4', 'rule', 'show'])
      .split('\n')
      .filter((l) => l.includes(`proto ${AGENT_PROTO}`)),
    ...ns
      .ip(['-6', 'rule', 'show'])
      .split('\n')
      .filter((l) => l.includes(`proto ${AGENT_PROTO}`)),
  ];
  return lines
    .map((l) => l.trim().replace(/\b(nhid|id) \d+/g, '$1 N'))
    .filter(Boolean)
    .sort();
}

/** Any owned object that mentions one of these strings (a SID, an interface): what a stale leftover looks like. */
export function ownedMentioning(ns: TestNetns, needles: string[]): string[] {
  return ownedKernelState(ns).filter((l) => needles.some((n) => l.includes(n)));
}

/** ICMP echo requests a namespace's own stack received, per family (the kernel's SNMP counters). */
export function icmpInEchos(ns: TestNetns): { 4: number; 6: number } {
  const snmp = ns
    .exec('cat', ['/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Icmp:'));
  const keys = snmp[0].split(/\s+/);
  const v4 = Number(snmp[1].split(/\s+/)[keys.indexOf('InEchos')]);
  const m = /^Icmp6InEchos\s+(\d+)$/m.exec(ns.exec('cat', ['/proc/net/snmp6']));
  return { 4: v4, 6: m ? Number(m[1]) : 0 };
}
