// What the kernel must be able to do for a tenant's objects, checked against the capability report
// before a job is saved: a job this kernel cannot carry out fails with every missing feature named,
// and neither the desired state nor the kernel changes (nothing is half-applied and then refused).
import type { Feature, FeatureStatus } from '../capabilities/capabilities.model';
import { CapabilityMissingError } from '../common/errors';
import type { TenantState } from './desired-state';
import { DataplaneMode, decapRoute } from './kernel-objects';

export type FeatureReport = Partial<Record<Feature, FeatureStatus>>;

/** The report's features the kernel objects of `t` use in `mode` (see buildKernelObjects). */
export function tenantFeatures(t: TenantState, mode: DataplaneMode): Feature[] {
  const need = new Set<Feature>();
  if (mode === 'vrf') need.add('vrf');
  const encap = decapRoute(t, mode, mode === 'vrf' ? 'vrf' : null, 'underlay').encap;
  if (encap?.type === 'seg6local') {
    if (encap.vrftable !== undefined && mode === 'table')
      need.add('seg6local.End'); // a placeholder XDP decapsulates in front of (src/dataplane/table-mode-decap.ts)
    else if (encap.vrftable !== undefined && encap.action === 'End.DT6') need.add('seg6local.End.DT6.vrftable');
    else need.add(`seg6local.${encap.action}` as Feature);
  }
  for (const r of Object.values(t.routes)) {
    need.add('nexthop.seg6');
    need.add(r.mode === 'encap.red' ? 'seg6.encap.red' : 'seg6.encap');
  }
  return [...need];
}

/**
 * Throws CapabilityMissingError naming every feature `t` needs that the report does not show
 * working. Only the features the report names are checked (a test may pass a partial report).
 */
export function requireTenantFeatures(t: TenantState, mode: DataplaneMode, report: FeatureReport): void {
  const missing = tenantFeatures(t, mode).filter((f) => report[f] !== undefined && report[f]!.supported !== true);
  if (!missing.length) return;
  const reasons = [...new Set(missing.map((f) => report[f]!.reason ?? (report[f]!.supported === null ? 'could not be determined' : 'refused by the kernel')))];
  throw new CapabilityMissingError(missing, alternativeFor(missing), `tenant ${t.id}: ${reasons.join('; ')}`);
}

function alternativeFor(missing: Feature[]): string {
  if (missing.some((f) => f === 'nexthop.seg6' || f.startsWith('seg6')))
    return 'a kernel with CONFIG_IPV6_SEG6_LWTUNNEL (seg6 and seg6local lwtunnels); `srv6-agent capabilities` shows what this one has';
  if (missing.includes('vrf')) return 'a kernel with CONFIG_NET_VRF, or table mode';
  return '`srv6-agent capabilities` shows what this kernel has';
}
