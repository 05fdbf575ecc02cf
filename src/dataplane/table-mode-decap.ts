// Table mode (kernels without CONFIG_NET_VRF) has no End.DT4: the kernel's needs a VRF device.
// There the XDP offload IS the IPv4 decapsulation path of an End.DT4/End.DT46 tenant, and the
// tenant's SID route in main only catches what XDP passes to the kernel (ADR 0004, "Table mode"):
//   End.DT4  → blackhole: nothing the kernel could do for it is the same as End.DT4 (End.DT6
//              would decapsulate IPv6 into the tenant, which End.DT4 never does; without a
//              route the locator route would send the packet back to the fabric);
//   End.DT46 → seg6local End.DT6 with the tenant's table (the legacy lookup table mode uses
//              for End.DT6 anyway): passed IPv6 is handled exactly as End.DT46 would, passed
//              IPv4 is dropped by End.DT6 and counted in its seg6local `errors`.
// So in table mode an IPv4 packet XDP passes is dropped without ICMP: a VM whose neighbour entry
// is not (yet) known on the HV, an inner TTL of 1, a packet that needs fragmenting, an unreachable
// destination, outer fragments or extension headers. The pass reasons stay visible in the XDP
// counters (srv6_agent_xdp_sid_passed_total{reason=...}).
//
// Applied by the reconciler on top of buildKernelObjects(): pure, and a no-op in VRF mode and
// for tenants without the offload (state-transitions refuses those End.DT4/DT46 in table mode).
import { DesiredState } from './desired-state';
import { DataplaneMode, KernelObjects, NamedRoute, Ownership, routeKey } from './kernel-objects';

/** The SID route of an offloaded End.DT4/End.DT46 tenant in table mode; undefined: no change. */
export function tableModeSidRoute(t: DesiredState['tenants'][string], mode: DataplaneMode, uplink: string, own: Ownership): NamedRoute | undefined {
  if (mode !== 'table' || !t.xdpOffload) return undefined;
  const base = { family: 6 as const, dst: `${t.sid}/128`, table: 254, protocol: own.protocol };
  if (t.behaviour === 'End.DT4') return { ...base, type: 'blackhole' };
  if (t.behaviour === 'End.DT46')
    return { ...base, oifName: uplink, encap: { type: 'seg6local', action: 'End.DT6', table: t.table, ...((own.counters ?? true) ? { counters: true } : {}) } };
  return undefined;
}

/** Replaces, in place, the SID routes buildKernelObjects() gave offloaded End.DT4/DT46 tenants. */
export function withTableModeXdpDecap(o: KernelObjects, state: DesiredState, mode: DataplaneMode, own: Ownership): KernelObjects {
  const uplink = state.node?.underlay[0];
  if (mode !== 'table' || !uplink) return o;
  for (const t of Object.values(state.tenants)) {
    const r = tableModeSidRoute(t, mode, uplink, own);
    if (r) o.routes.set(routeKey(r), r);
  }
  return o;
}
