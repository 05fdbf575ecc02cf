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
  /** nexthop id per "<tenant>|<mode>|<sid,sid,...>", kept while any route uses it. */
  nexthops: Record<string, number>;
  /** MTUs of tenant interfaces before the agent changed them, restored when released. */
  originalMtu: Record<string, number>;
  /** VRF devices the agent created and has not deleted yet: the only links it ever deletes. */
  ownedVrfs: string[];
}

export function emptyState(): DesiredState {
  return { version: 0, tenants: {}, nexthops: {}, originalMtu: {}, ownedVrfs: [] };
}

export function nexthopKey(tenant: string, mode: EncapMode, sids: string[]): string {
  return `${tenant}|${mode}|${sids.join(',')}`;
}
