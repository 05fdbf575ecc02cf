// Makes the kernel match the desired state: dump what the agent owns, plan, apply (drift-watcher.ts
// says when to, after foreign changes; a periodic resync catches anything an overrun hid).
import { Link } from '../netlink/link';
import type { MonitorEvent } from '../netlink/monitor';
import { Rtnetlink } from '../netlink/rtnetlink';
import type { KernelError } from '../netlink/errors';
import { Seg6Genl } from '../netlink/seg6-genl';
import { Applier, ApplyResult } from './applier';
import { afterApply, beforeApply, Bookkeeping, withBookkeeping } from './bookkeeping';
import { CachedRead } from './cached-read';
import { DesiredState, encapKey } from './desired-state';
import {
  buildKernelObjects,
  DataplaneMode,
  KernelObjects,
  Ownership,
  setLocalRules,
  setNodeSysctls,
  sysctlInterface,
  sysctlPath,
  withoutDevices,
} from './kernel-objects';
import { descriptorOf, KIND_LIST } from './kinds';
import type { FullObserved, KeptRead, Observed, TenantReads } from './kinds/kind';
import { MainRoutes, readMainRoutes } from './kinds/route';
import { readRuleList, RuleList } from './kinds/rule';
import { readSysctls } from './kinds/sysctl';
import { Op, plan } from './planner';
import { allocateNexthops } from './state-transitions';
import type { Offload, OffloadReport } from './offload';
import { withTableModeXdpDecap } from './table-mode-decap';

export interface ReconcileResult extends ApplyResult {
  durationMs: number;
  /** Tenant interfaces that do not exist, left out (the rest reconciled); in the scope reconciled. */
  missing?: string[];
  /** The desired state with allocations the reconcile made (nexthop ids, owned VRFs, saved MTUs and sysctls). */
  state: DesiredState;
  /** What the apply changed in the bookkeeping (`state` has it already; a group carries it into its own). */
  bookkeeping: Bookkeeping;
  /** What the XDP offload did, when it ran (some tenant has xdpOffload, or it was just detached). */
  xdp?: OffloadReport;
}

/** Node-wide kernel reads shared by the tenant plans of one group (see planTenant). */
export interface SharedReads {
  main?: Promise<MainRoutes>;
  rules?: Promise<RuleList>;
}

/** Operations for a desired state, the state with its allocations, and the links as observed. */
export interface Planned {
  ops: Op[];
  state: DesiredState;
  links: Map<string, Link>;
  /** Tenant interfaces of the state that do not exist: left out of the plan (withoutDevices). */
  missing?: string[];
  /**
   * Interfaces the agent configured, no longer desired, that do not exist: nothing to restore, so
   * their saved MTU goes (kept, a foreign interface given the name later would be "released").
   */
  forget?: string[];
  /** Current values of the sysctls the plan sets (prepare saves them as their value from before). */
  sysctls?: Map<string, string | undefined>;
  /** The same as `forget` for saved sysctls (keys): per-interface ones, not desired, their interface gone. */
  forgetSysctls?: string[];
}

export class Reconciler {
  private readonly applier: Applier;
  /** Nexthop ids taken by others, as of the last full observation (new ids avoid them). */
  private foreignNexthops = new Set<number>();
  /** The objects of the last fully planned state (never mutated by planning). */
  private lastFull?: { state: DesiredState; objects: KernelObjects };
  /** Node-wide reads of tenant plans, kept between jobs once the drift watcher reports changes (enableReadCache). */
  private readonly cached: { rules: CachedRead<RuleList>; main: CachedRead<MainRoutes> };
  private caching = false;

  constructor(
    private readonly nl: Rtnetlink,
    readonly mode: DataplaneMode,
    private readonly own: Ownership,
    /** The offload (XDP), kept in sync after every apply; without it no tenant is offloaded. */
    private readonly offload?: Offload,
    readCacheMaxAgeMs = READ_CACHE_MAX_AGE_MS,
    /** The namespace's seg6 tunnel source (the node's encapSource), set by full reconciles. */
    private readonly seg6: Seg6Genl = new Seg6Genl(nl.socket.netns),
  ) {
    this.applier = new Applier(nl, own);
    this.cached = { rules: new CachedRead(() => this.ruleList(), readCacheMaxAgeMs), main: new CachedRead(() => this.mainRoutes(), readCacheMaxAgeMs) };
  }

  private mainRoutes(): Promise<MainRoutes> {
    return readMainRoutes(this.nl, this.own.protocol);
  }

  private ruleList(): Promise<RuleList> {
    return readRuleList(this.nl, this.own.protocol);
  }

  /**
   * From now on tenant plans reuse the rule list and the agent's main routes between jobs; the
   * caller reports every change it sees made by others (kernelChanged). The agent's own applies
   * invalidate what they touch.
   */
  enableReadCache(): void {
    this.caching = true;
    this.kernelChanged();
  }

  /** Back to reading the kernel for every plan (the monitor is gone). */
  disableReadCache(): void {
    this.caching = false;
    this.kernelChanged();
  }

  /** A change by someone else (undefined: unknown, e.g. the monitor lost events). */
  kernelChanged(e?: MonitorEvent): void {
    if (!e || e.kind === 'rule') this.cached.rules.invalidate();
    // Routes in main go with their device or nexthop too, for IPv4 without a route event.
    if (!e || (e.kind !== 'rule' && (e.kind !== 'route' || (e.route.table ?? 254) === 254))) this.cached.main.invalidate();
  }

  /** After the agent's own apply: what its operations may have changed (each kind's `invalidates`). */
  private changedByApply(ops: Op[]): void {
    const stale = new Set<KeptRead>();
    for (const op of ops) {
      for (const read of descriptorOf(op).invalidates(op)) stale.add(read);
      if (stale.size === Object.keys(this.cached).length) break;
    }
    for (const read of stale) this.cached[read].invalidate();
  }

  /** The kernel objects of a state; in table mode offloaded End.DT4/DT46 decapsulate in XDP (src/dataplane/table-mode-decap.ts). */
  private objects(s: DesiredState): KernelObjects {
    return withTableModeXdpDecap(buildKernelObjects(s, this.mode, this.own), s, this.mode, this.own);
  }

  /** The owned part of the kernel, plus every link (names); sysctls are read by readSysctls. */
  async observe(): Promise<FullObserved> {
    const links = this.nl.links();
    const reads = { nl: this.nl, protocol: this.own.protocol, links };
    const [all, ...parts] = await Promise.all([links, ...KIND_LIST.map((k) => (k.observe.via === 'kernel' ? k.observe.all(reads) : {}))]);
    return Object.assign({ links: new Map(all.map((l) => [l.name, l])) }, ...parts) as FullObserved;
  }

  /** Current values of the sysctls the desired objects name. */
  readSysctls(desired: KernelObjects): Map<string, string | undefined> {
    return readSysctls(this.nl, desired);
  }

  /** Plans without applying (for dry runs and tests). */
  async plan(state: DesiredState): Promise<Planned> {
    const observed = await this.observe();
    this.foreignNexthops = new Set([...observed.allNexthopIds].filter((id) => !observed.nexthops.has(id)));
    const s = allocateNexthops(state, this.foreignNexthops, this.lastFull?.state);
    // A resync of an unchanged state (drift repair, periodic, no-op job) reuses its objects: they
    // are made of the node, the tenants and the nexthop ids only (bookkeeping changes don't count).
    const l = this.lastFull?.state;
    const same = !!l && l.node === s.node && l.tenants === s.tenants && l.nexthops === s.nexthops;
    const all = same ? this.lastFull!.objects : this.objects(s);
    this.lastFull = { state: s, objects: all };
    // A tenant interface that is gone (a VM's tap deleted while the agent was down) degrades that
    // interface only: the rest reconciles, and the monitor's link event brings it back in.
    const missing = [...all.links.keys()].filter((n) => !observed.links.has(n));
    const desired = withoutDevices(all, new Set(missing));
    observed.sysctls = this.readSysctls(desired);
    const configured = new Map(Object.entries(s.originalMtu).map(([k, v]) => [k, v] as [string, number | undefined]));
    const originalSysctls = new Map(Object.entries(s.originalSysctl));
    const ops = plan(desired, observed, { ownedVrfs: new Set(s.ownedVrfs), configured, originalSysctls });
    const forget = [...configured.keys()].filter((n) => !all.links.has(n) && !observed.links.has(n));
    const forgetSysctls = interfaceGone([...originalSysctls.keys()], all, observed.links);
    return { ops, state: s, links: observed.links, missing, forget, sysctls: observed.sysctls, forgetSysctls };
  }

  /**
   * `commit` runs after planning succeeded and before the kernel is touched: a state that cannot
   * be planned (a tenant interface that does not exist, a name taken by a foreign link) is never
   * acknowledged, and one that can is written ahead of the changes.
   */
  async reconcile(state: DesiredState, commit: (s: DesiredState) => void | Promise<void> = () => undefined): Promise<ReconcileResult> {
    return this.execute(await this.plan(state), commit, 'full');
  }

  /**
   * Reconciles one tenant only: the objects of its previous and its new version, read with
   * targeted requests (its tables, its links, its nexthops by id) instead of full dumps, so a job
   * costs what the tenant has, not what the hypervisor has. Node-wide objects stay to full reconciles.
   */
  async reconcileTenant(
    prev: DesiredState,
    next: DesiredState,
    id: string,
    commit: (s: DesiredState) => void | Promise<void> = () => undefined,
  ): Promise<ReconcileResult> {
    return this.execute(await this.planTenant(prev, next, id), commit, 'tenant');
  }

  /**
   * `shared`: node-wide reads (rules, main) made once for several tenant plans of one group, all
   * planned before any of them is applied, so each would read the same answers anyway.
   */
  async planTenant(prev: DesiredState, next: DesiredState, id: string, shared?: SharedReads): Promise<Planned> {
    const s = allocateNexthops(next, this.foreignNexthops, prev);
    const only = (st: DesiredState): DesiredState => ({ ...st, tenants: st.tenants[id] ? { [id]: st.tenants[id] } : {} });
    const desired = this.objects(only(s));
    // The tenant's previous routes with their nexthop ids (a key dropped since: its old id).
    const old = prev.tenants[id];
    const beforeIds: Record<string, number> = {};
    for (const r of Object.values(old?.routes ?? {})) {
      const k = encapKey(r.mode, r.sids);
      const nh = s.nexthops[id]?.[k] ?? prev.nexthops[id]?.[k];
      if (nh !== undefined) beforeIds[k] = nh;
    }
    const before = this.objects(only({ ...prev, nexthops: { [id]: beforeIds } }));
    // Node-wide, decided by all tenants, not by this one alone.
    setLocalRules(desired, s, this.mode, this.own);
    setLocalRules(before, prev, this.mode, this.own);
    setNodeSysctls(desired, s, this.mode);
    const tables = [...new Set([prev.tenants[id]?.table, s.tenants[id]?.table].filter((t): t is number => t !== undefined))];
    // The devices both versions name, and the underlay (nexthops and routes go out of it).
    const names = new Set<string>();
    for (const kind of KIND_LIST) if (kind.observe.via === 'links') for (const o of [desired, before]) for (const n of kind.observe.names(o)) names.add(n);
    for (const n of s.node?.underlay ?? []) names.add(n);

    // Every read in flight at once: one job's plan waits for the slowest answer, not their sum.
    const reads: TenantReads = {
      nl: this.nl,
      protocol: this.own.protocol,
      desired,
      before,
      tables,
      links: Promise.all([...names].map((n) => this.nl.link(n))).then((list) => new Map(list.flatMap((l) => (l ? [[l.name, l]] : [])))),
      kept: {
        main: () => (shared ? (shared.main ??= this.readMain()) : this.readMain()),
        rules: () => (shared ? (shared.rules ??= this.readRules()) : this.readRules()),
      },
    };
    const [links, ...parts] = await Promise.all([reads.links, ...KIND_LIST.map((k) => (k.observe.via === 'kernel' ? k.observe.tenant(reads) : {}))]);
    const observed = Object.assign({ links }, ...parts) as Observed;

    const names2 = new Set([...desired.links.keys(), ...before.links.keys()]);
    const configured = new Map(Object.entries(s.originalMtu).filter(([k]) => names2.has(k)) as [string, number | undefined][]);
    // Saved sysctls in scope: the tenant's interfaces', and the node-wide ones (desired as the whole
    // state decides, setNodeSysctls); other interfaces' (an old underlay) stay to full reconciles.
    const originalSysctls = new Map(
      Object.entries(s.originalSysctl).filter(([k]) => {
        const ifname = sysctlInterface(sysctlPath(k));
        return ifname === undefined || names2.has(ifname);
      }),
    );
    const vrfs = new Set(s.ownedVrfs.filter((v) => desired.vrfs.has(v) || before.vrfs.has(v)));
    // An interface the tenant already had may be missing (degraded, as in a full reconcile); one
    // this job adds must exist (the plan fails with MissingInterfaceError).
    const had = new Set(prev.tenants[id]?.interfaces.map((i) => i.name) ?? []);
    const missing = [...desired.links.keys()].filter((n) => !links.has(n) && had.has(n));
    const forget = [...configured.keys()].filter((n) => !desired.links.has(n) && !links.has(n));
    const forgetSysctls = interfaceGone([...originalSysctls.keys()], desired, links);
    const ops = plan(withoutDevices(desired, new Set(missing)), observed, { ownedVrfs: vrfs, configured, originalSysctls });
    return { ops, state: s, links, missing, forget, sysctls: observed.sysctls, forgetSysctls };
  }

  private readMain(): Promise<MainRoutes> {
    return this.caching ? this.cached.main.get() : this.mainRoutes();
  }

  private readRules(): Promise<RuleList> {
    return this.caching ? this.cached.rules.get() : this.ruleList();
  }

  private async execute(planned: Planned, commit: (s: DesiredState) => void | Promise<void>, scope: 'full' | 'tenant'): Promise<ReconcileResult> {
    const t0 = performance.now();
    const p = this.prepare(planned);
    await commit(p.state);
    return { ...(await this.apply(p, scope)), durationMs: performance.now() - t0 };
  }

  /** The plan with its bookkeeping written into its state, to be on disk before the kernel changes (bookkeeping.ts). */
  prepare(planned: Planned): Planned {
    const state = withBookkeeping(planned.state, beforeApply(planned.ops, planned.state, planned.links, planned.sysctls));
    return state === planned.state ? planned : { ...planned, state };
  }

  /** Releases what the reconciler opened itself (the seg6 genl socket; opened again if used after). */
  close(): void {
    this.seg6.close();
  }

  /** Sets the namespace's seg6 tunnel source to `address` unless it is; a kernel without seg6 has none to set. */
  private async ensureTunsrc(address: string, result: ApplyResult): Promise<void> {
    try {
      const now = await this.seg6.tunsrc();
      if (now === undefined || now === address) return;
      await this.seg6.setTunsrc(address);
      result.updated.tunsrc = (result.updated.tunsrc ?? 0) + 1;
      result.operations++;
    } catch (e) {
      const k = e as Partial<KernelError>;
      result.failed.push({
        kind: 'tunsrc',
        action: 'set',
        what: `seg6 tunsrc ${address}`,
        errno: k.errno,
        code: k.code,
        extack: k.extack,
        message: (e as Error).message,
      });
    }
  }

  /** Applies a prepared plan. The returned state is a new object carrying what the apply did: VRFs now owned or gone, MTUs and sysctls restored. */
  async apply({ ops, state, links, missing, forget = [], forgetSysctls = [] }: Planned, scope: 'full' | 'tenant'): Promise<ReconcileResult> {
    const t0 = performance.now();
    let result: ApplyResult;
    try {
      result = await this.applier.apply(ops, links);
    } finally {
      this.changedByApply(ops);
    }
    const bookkeeping = afterApply(ops, new Set(result.failed.map((f) => f.op)), forget, forgetSysctls);
    const s: DesiredState = withBookkeeping(state, bookkeeping);
    // The node's encapSource as the outer source of every H.Encaps: one setting of the namespace,
    // node-wide, so full reconciles keep it (a tenant job never changes the node).
    if (scope === 'full' && s.node) await this.ensureTunsrc(s.node.encapSource, result);
    // The offload follows the same state; what it could not do fails the reconcile like an operation.
    const xdp = await this.offload?.reconcile(s, links, scope);
    if (xdp) result.failed.push(...xdp.failed);
    return {
      ...result,
      ...(xdp?.report ? { xdp: xdp.report } : {}),
      ...(missing?.length ? { missing } : {}),
      durationMs: performance.now() - t0,
      state: s,
      bookkeeping,
    };
  }
}

/** How long a kept node-wide read may be used without a fresh one, whatever the monitor says (a lost event costs at most this). */
const READ_CACHE_MAX_AGE_MS = 1000;

/** Of the saved sysctls `keys`, the per-interface ones `all` (the objects before withoutDevices) no longer has, whose interface is gone. */
function interfaceGone(keys: string[], all: KernelObjects, links: Map<string, Link>): string[] {
  return keys.filter((k) => {
    const ifname = sysctlInterface(sysctlPath(k));
    return ifname !== undefined && !all.sysctls.has(k) && !links.has(ifname);
  });
}
