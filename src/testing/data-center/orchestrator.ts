// The cloud controller's side, as a production orchestrator drives the agents: it knows where
// every VM runs (the placement), derives each hypervisor's node and tenant specs from it, submits
// them as jobs to each hypervisor's Bull queue (HypervisorClient, through Redis), and learns the
// SIDs the agents allocated from their REST API (GET /v1/state), to route other HVs' traffic there.
//
// Decapsulation per mode (the one place a scenario's per-mode choice is made):
//   VRF mode (lab kernel):   End.DT46 (kernel, vrftable); with the offload: End.DT46 + xdpOffload
//   table mode (host):       End.DT46 + xdpOffload: IPv4 is decapsulated by XDP only (the kernel
//                            has no End.DT4 without a VRF), IPv6 by XDP or, for what XDP passes,
//                            the kernel's End.DT6; without the offload: End.DT6, IPv6 only
import type { DecapBehaviour } from '../../dataplane/spec.dto';
import type { Job, TenantSpec, UpsertNodeJob } from '../../client/job-types';
import { scaled } from '../time-scale';
import { DataCenter, Hypervisor } from './data-center';
import { Family, tapName, Vm, VmNic } from './vm';

export type Mode = 'vrf' | 'table';

export type DecapPlan = 'End.DT46' | 'End.DT46+xdp' | 'End.DT6';

/** The mode's plan, with the XDP offload on or off (default: the kernel path where there is one). */
export function decapPlan(mode: Mode, opts: { xdp?: boolean } = {}): DecapPlan {
  if (mode === 'vrf') return opts.xdp ? 'End.DT46+xdp' : 'End.DT46';
  return opts.xdp === false ? 'End.DT6' : 'End.DT46+xdp';
}

/** The families a plan decapsulates. */
export function planFamilies(plan: DecapPlan): Family[] {
  return plan === 'End.DT6' ? [6] : [4, 6];
}

/** One tenant as the agents know it. */
export interface AgentTenant {
  id: string;
  /** The customer tenant it carries (the VMs' probes report it). */
  customer: string;
  behaviour: DecapBehaviour;
  xdpOffload?: boolean;
  /** What it decapsulates (what the tests expect to cross HVs). */
  families: Family[];
  /** Gateway on the HV side of every NIC of the tenant, per family. */
  gateways: Partial<Record<Family, string>>;
}

export function agentTenant(plan: DecapPlan, customer: string, gateways: Record<Family, string>): AgentTenant {
  const behaviour: DecapBehaviour = plan === 'End.DT6' ? 'End.DT6' : 'End.DT46';
  return { id: customer, customer, behaviour, ...(plan === 'End.DT46+xdp' ? { xdpOffload: true } : {}), families: planFamilies(plan), gateways };
}

/** A VM's NIC on its tenant, with host addresses of both families. */
export function vmNic(tenant: AgentTenant, addresses: Partial<Record<Family, string>>): VmNic {
  return { tenant: tenant.id, addresses, gateways: tenant.gateways };
}

export interface RouteSpec {
  prefix: string;
  sids: string[];
}

export class Orchestrator {
  /** SID of each tenant on each HV, as the agent allocated it: key `${hv}|${tenant}`. */
  readonly sids = new Map<string, string>();
  /** Tenants each HV's agent has (what was upserted and not deleted): key `${hv}|${tenant}`. */
  private readonly present = new Set<string>();
  private byId: Map<string, AgentTenant>;

  constructor(
    readonly dc: DataCenter,
    public tenants: AgentTenant[],
    /** VMs that exist only as routes (scale): tenant, HV and addresses, no namespace. */
    readonly virtualVms: { tenant: string; hv: number; prefixes: string[] }[] = [],
  ) {
    this.byId = new Map(tenants.map((t) => [t.id, t]));
  }

  /** Another decapsulation for these tenants (the caller pushes the specs: reconcileTenants). */
  replaceTenants(tenants: AgentTenant[]): void {
    this.tenants = this.tenants.map((t) => tenants.find((n) => n.id === t.id) ?? t);
    this.byId = new Map(this.tenants.map((t) => [t.id, t]));
  }

  tenant(id: string): AgentTenant {
    const t = this.byId.get(id);
    if (!t) throw new Error(`no tenant ${id}`);
    return t;
  }

  nodeJob(h: Hypervisor): UpsertNodeJob {
    return { type: 'upsert-node', node: { underlay: ['ul0'], locator: h.locator, encapSource: h.underlayAddress, underlayMtu: 1500 } };
  }

  /** NICs of a tenant plugged into HV n, by VM. */
  localNics(n: number, tenant: string): { vm: Vm; nic: VmNic; index: number }[] {
    const out: { vm: Vm; nic: VmNic; index: number }[] = [];
    for (const vm of this.dc.vms.values()) if (vm.hv === n) vm.nics.forEach((nic, index) => nic.tenant === tenant && out.push({ vm, nic, index }));
    return out;
  }

  /** Tenants HV n needs: those with a NIC there, and those with virtual VMs there. */
  tenantsOn(n: number): AgentTenant[] {
    return this.tenants.filter((t) => this.localNics(n, t.id).length > 0 || this.virtualVms.some((v) => v.hv === n && v.tenant === t.id));
  }

  /** Routes HV n needs for a tenant: every address of the tenant behind another HV, to that HV's SID. */
  routes(n: number, tenant: string): RouteSpec[] {
    const out: RouteSpec[] = [];
    const add = (hv: number, prefixes: string[]) => {
      const sid = this.sids.get(`${hv}|${tenant}`);
      if (hv === n || !sid) return;
      for (const p of prefixes) out.push({ prefix: p, sids: [sid] });
    };
    for (const vm of this.dc.vms.values())
      for (const nic of vm.nics)
        if (nic.tenant === tenant)
          add(
            vm.hv,
            Object.entries(nic.addresses).map(([f, a]) => `${a}/${f === '4' ? 32 : 128}`),
          );
    for (const v of this.virtualVms) if (v.tenant === tenant) add(v.hv, v.prefixes);
    return out;
  }

  /** The whole tenant spec for HV n (interfaces of the VMs there, routes to the VMs elsewhere). */
  tenantSpec(n: number, tenant: string, opts: { routes?: boolean } = {}): TenantSpec {
    const t = this.tenant(tenant);
    const nics = this.localNics(n, tenant);
    const gateways = ([4, 6] as const).map((f) => t.gateways[f]).filter((g): g is string => !!g);
    const interfaces = nics.map(({ vm, index }) => ({ name: tapName(vm.name, index), gateways }));
    for (const v of this.virtualVms) if (v.hv === n && v.tenant === tenant && !interfaces.length) interfaces.push({ name: virtualTap(tenant), gateways });
    return {
      id: t.id,
      behaviour: t.behaviour,
      interfaces,
      routes: opts.routes === false ? [] : this.routes(n, tenant),
      ...(t.xdpOffload ? { xdpOffload: true } : {}),
    };
  }

  /**
   * What the cloud's DHCP (or router advertisements) tells each VM: the MTU of its HV-side
   * interface, which the agent set to the underlay's minus the SRv6 overhead. A VM left at 1500
   * would send frames its tap drops.
   */
  configureVmMtus(): void {
    for (const vm of this.dc.vms.values())
      vm.nics.forEach((_, i) => {
        const mtu = this.dc.hv(vm.hv).ns.ipJson(['link', 'show', tapName(vm.name, i)])[0].mtu as number;
        vm.ns.ip(['link', 'set', `eth${i}`, 'mtu', String(mtu)]);
      });
  }

  /** Reads the SIDs HV n's agent allocated (GET /v1/state over the management network). */
  async learnSids(h: Hypervisor): Promise<void> {
    const r = await h.agent.rest('GET', '/v1/state');
    if (r.status !== 200) throw new Error(`GET /v1/state on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
    for (const t of r.body.tenants as { id: string; sid: string }[]) this.sids.set(`${h.n}|${t.id}`, t.sid);
  }

  /**
   * Brings every HV to the placement: node and tenants first (their SIDs get allocated), SIDs
   * learned, then every tenant's routes. Returns how long each phase took.
   */
  async converge(): Promise<{ tenantsMs: number; routesMs: number; totalMs: number; jobs: number; operations: number }> {
    const t0 = performance.now();
    let jobs = 0;
    let operations = 0;
    await Promise.all(
      this.dc.hvs.map(async (h) => {
        // Whole specs, with the routes whose SIDs are known already (none on a first sync).
        const list = [this.nodeJob(h), ...this.tenantsOn(h.n).map((t) => ({ type: 'upsert-tenant' as const, tenant: this.tenantSpec(h.n, t.id) }))];
        jobs += list.length;
        for (const r of await h.client.submitAll(list, { timeoutMs: scaled(120_000) })) operations += r.operations;
        for (const t of this.tenantsOn(h.n)) this.present.add(`${h.n}|${t.id}`);
        await this.learnSids(h);
      }),
    );
    const t1 = performance.now();
    await Promise.all(
      this.dc.hvs.map(async (h) => {
        const list = this.tenantsOn(h.n).map((t) => ({ type: 'routes' as const, tenant: t.id, set: this.routes(h.n, t.id) }));
        jobs += list.length;
        for (const r of await h.client.submitAll(list, { timeoutMs: scaled(120_000) })) operations += r.operations;
      }),
    );
    const t2 = performance.now();
    return { tenantsMs: t1 - t0, routesMs: t2 - t1, totalMs: t2 - t0, jobs, operations };
  }

  /**
   * After VMs of these tenants moved: the tenant on HVs that newly host it first (SID allocated
   * and learned), then every HV's whole tenant spec (upsert), or delete-tenant where no VM is left.
   */
  async reconcileTenants(ids: string[]): Promise<void> {
    await Promise.all(
      this.dc.hvs.map(async (h) => {
        const fresh = ids.filter((id) => !this.present.has(`${h.n}|${id}`) && this.tenantsOn(h.n).some((t) => t.id === id));
        if (!fresh.length) return;
        await h.client.submitAll(fresh.map((id) => ({ type: 'upsert-tenant' as const, tenant: this.tenantSpec(h.n, id, { routes: false }) })));
        for (const id of fresh) this.present.add(`${h.n}|${id}`);
        await this.learnSids(h);
      }),
    );
    await Promise.all(
      this.dc.hvs.map(async (h) => {
        const jobs: Job[] = [];
        for (const id of ids) {
          const wanted = this.tenantsOn(h.n).some((t) => t.id === id);
          if (wanted) jobs.push({ type: 'upsert-tenant' as const, tenant: this.tenantSpec(h.n, id) });
          else if (this.present.has(`${h.n}|${id}`)) {
            jobs.push({ type: 'delete-tenant', tenant: id });
            this.present.delete(`${h.n}|${id}`);
            this.sids.delete(`${h.n}|${id}`);
          }
        }
        if (jobs.length) await h.client.submitAll(jobs);
      }),
    );
  }
}

/** The one interface a tenant with only virtual VMs has on an HV (scale: a bridge-like port). */
export const virtualTap = (tenant: string) => `x-${tenant}`;
