// What the XDP offload needs from the kernel for a tenant, checked when the tenant is accepted
// (before any state changes), like the other missing capabilities.
//
// End.DT4/DT6/DT46 look the inner destination up in the tenant's table with
// BPF_FIB_LOOKUP_TBID (kernel 6.8). An older kernel refuses the flag (EINVAL): the program would
// load and attach, then pass every packet to the kernel. With a VRF that is only a useless
// offload; in table mode, where the kernel has no End.DT4 and the SID route catches what XDP
// passes (src/dataplane/table-mode-decap.ts), it would drop every IPv4 packet of the tenant.
import type { FeatureStatus } from '../capabilities/capabilities.model';
import { CapabilityMissingError } from '../common/errors';
import type { DataplaneMode } from './kernel-objects';

export const FIB_TBID_FEATURE = 'bpf.fib_lookup_tbid';

/**
 * Throws CapabilityMissingError (feature bpf.fib_lookup_tbid) for an End.DT* tenant with
 * `xdpOffload` when the capability report does not show BPF_FIB_LOOKUP_TBID working.
 * `tbid`: the report's entry (undefined: not probed, treated as missing).
 */
export function requireXdpOffloadCapabilities(t: { behaviour: string; xdpOffload?: boolean }, mode: DataplaneMode, tbid: FeatureStatus | undefined): void {
  if (!t.xdpOffload || !t.behaviour.startsWith('End.DT') || tbid?.supported === true) return;
  const ipv4 = t.behaviour === 'End.DT4' || t.behaviour === 'End.DT46';
  const alternative =
    mode === 'table' && ipv4
      ? `a kernel >= 6.8 (the offload is this tenant's only IPv4 decapsulation in table mode), or one with CONFIG_NET_VRF, or End.DT6/End.DX4/End.DX6`
      : 'xdpOffload: false (the kernel path), or a kernel >= 6.8';
  const why = tbid?.reason ?? 'not probed';
  throw new CapabilityMissingError(FIB_TBID_FEATURE, alternative, `XDP ${t.behaviour} looks up the tenant table with BPF_FIB_LOOKUP_TBID: ${why}`);
}
