// The offload's SID entries for a desired state: what the reconciler hands XdpOffload.apply()
// after every dataplane apply. Pure: interface indexes come from the caller (the reconciler has
// just observed the links).
import type { DesiredState } from '../dataplane/desired-state';
import type { XdpSidEntry } from './xdp-offload';

export interface XdpDesired {
  underlay: string[];
  entries: XdpSidEntry[];
  /** Offloaded tenants left out, and why (an interface that does not exist yet). */
  skipped: { tenant: string; reason: string }[];
}

/**
 * One entry per tenant with `xdpOffload`: its SID and behaviour, the table (End.DT*) or the VM
 * next hop and interface (End.DX*), and the tenant's interfaces as the only egress. A tenant
 * whose interfaces cannot all be resolved is left out (its packets take the kernel path).
 */
export function xdpDesired(state: DesiredState, ifindex: (name: string) => number | undefined, opts: { dxMainTable?: boolean } = {}): XdpDesired {
  const entries: XdpSidEntry[] = [];
  const skipped: XdpDesired['skipped'] = [];
  for (const t of Object.values(state.tenants)) {
    if (!t.xdpOffload) continue;
    const names = [...t.interfaces.map((i) => i.name), ...(t.dx ? [t.dx.interface] : [])];
    const missing = names.filter((n) => !ifindex(n));
    if (missing.length) {
      skipped.push({ tenant: t.id, reason: `no interface ${missing.join(', ')}` });
      continue;
    }
    const egress = [...new Set(names.map((n) => ifindex(n)!))].sort((a, b) => a - b);
    const e: XdpSidEntry = { sid: t.sid, action: t.behaviour, egress };
    if (t.behaviour === 'End.DX4' || t.behaviour === 'End.DX6') {
      if (!t.dx) {
        skipped.push({ tenant: t.id, reason: `${t.behaviour} without a next hop` });
        continue;
      }
      if (t.behaviour === 'End.DX4') e.nh4 = t.dx.nexthop;
      else e.nh6 = t.dx.nexthop;
      e.oif = ifindex(t.dx.interface)!;
      if (opts.dxMainTable) e.dxMainTable = true;
    } else e.table = t.table;
    entries.push(e);
  }
  entries.sort((a, b) => a.sid.localeCompare(b.sid));
  return { underlay: state.node?.underlay ?? [], entries, skipped };
}
