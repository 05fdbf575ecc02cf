// The desired state: the single source of truth for what the agent owns. Jobs change it; the
// reconciler makes the kernel match it. Allocations (tables, SIDs, nexthop ids) live here so they
// are stable across restarts.
import type { DecapBehaviour, EncapMode } from './spec.dto';

export interface NodeState {
  underlay: string[];
  locator: string;
  encapSource: string;
  underlayMtu: number;
}

export interface RemoteRouteState {
  prefix: string;
  sids: string[];
  mode: EncapMode;
}

export interface TenantState {
  id: string;
  table: number;
  behaviour: DecapBehaviour;
  sid: string;
  dx?: { nexthop: string; interface: string };
  interfaces: { name: string; gateways: string[] }[];
  /** Keyed by prefix: a prefix has one route per tenant. */
  routes: Record<string, RemoteRouteState>;
  xdpOffload: boolean;
  description?: string;
}

export interface DesiredState {
  /** Bumped on every acknowledged change. */
  version: number;
  node?: NodeState;
  tenants: Record<string, TenantState>;
  /**
   * Nexthop ids per tenant, per encapsulation ("<mode>|<sid,sid,...>", encapKey), kept while any
   * route of the tenant uses it. Nested by tenant so that a job copies its tenant's ids, not all.
   */
  nexthops: Record<string, Record<string, number>>;
  /** MTUs of tenant interfaces before the agent changed them, restored when released. */
  originalMtu: Record<string, number>;
  /**
   * Values of sysctls before the agent first changed them, by key ("net/ipv6/conf/ul0/seg6_enabled",
   * see sysctlKey): written back once the sysctl is no longer desired (an old underlay, the last
   * tenant gone, a released tenant interface), then forgotten; forgotten too when its interface is gone.
   */
  originalSysctl: Record<string, string>;
  /** VRF devices the agent created and has not deleted yet: the only links it ever deletes. */
  ownedVrfs: string[];
}

export function emptyState(): DesiredState {
  return { version: 0, tenants: {}, nexthops: {}, originalMtu: {}, originalSysctl: {}, ownedVrfs: [] };
}

export function encapKey(mode: EncapMode, sids: string[]): string {
  return `${mode}|${sids.join(',')}`;
}

/** The nexthop id allocated for a tenant's (mode, SID list), if any. */
export function nexthopId(s: DesiredState, tenant: string, mode: EncapMode, sids: string[]): number | undefined {
  return s.nexthops[tenant]?.[encapKey(mode, sids)];
}

/**
 * States written before nexthop ids were nested by tenant held them flat, keyed
 * "<tenant>|<mode>|<sids>" (tenant ids never contain "|"): nested here when such a state is read.
 * States written before sysctls were restored have no originalSysctl: what the agent set then has
 * no value from before, and stays as it is when no longer desired.
 */
export function upgradeState(s: DesiredState): DesiredState {
  if (!s.originalSysctl) s = { ...s, originalSysctl: {} };
  const flat = Object.entries(s.nexthops ?? {}).filter(([, v]) => typeof v === 'number') as unknown as [string, number][];
  if (!flat.length) return s;
  const nexthops: DesiredState['nexthops'] = {};
  for (const [k, id] of flat) {
    const at = k.indexOf('|');
    (nexthops[k.slice(0, at)] ??= {})[k.slice(at + 1)] = id;
  }
  return { ...s, nexthops };
}

/**
 * JSON.stringify(state), with the text of each part remembered: parts are never mutated, and a job
 * changes one of them, so writing the state of a hypervisor with 50k routes costs one tenant's
 * text plus the small fields, not 5 MB of serialization.
 */
export function stateJson(s: DesiredState): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (k !== 'tenants') parts.push(`${JSON.stringify(k)}:${json(v)}`);
    else
      parts.push(
        `"tenants":{${Object.entries(v as DesiredState['tenants'])
          .map(([id, t]) => `${JSON.stringify(id)}:${json(t)}`)
          .join(',')}}`,
      );
  }
  return `{${parts.join(',')}}`;
}

/** Texts of the state's objects (tenants, the nexthop ids, ...), which are replaced, never mutated. */
const texts = new WeakMap<object, string>();

function json(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  let text = texts.get(v);
  if (text === undefined) texts.set(v, (text = JSON.stringify(v)));
  return text;
}
