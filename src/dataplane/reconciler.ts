// Makes the kernel match the desired state: dump what the agent owns, plan, apply (drift-watcher.ts
// says when to, after foreign changes; a periodic resync catches anything an overrun hid).
import { Link } from '../netlink/link';
import type { Route } from '../netlink/route';
import type { Rule } from '../netlink/rule';
import type { MonitorEvent } from '../netlink/monitor';
import { Rtnetlink } from '../netlink/rtnetlink';
import type { KernelError } from '../netlink/errors';
import { Seg6Genl } from '../netlink/seg6-genl';
import { Applier, ApplyResult } from './applier';
import { CachedRead } from './cached-read';
import { DesiredState, encapKey } from './desired-state';
import { buildKernelObjects, DataplaneMode, KernelObjects, Ownership, routeKey, ruleKey, setLocalRules, setNodeSysctls, sysctlInterface, sysctlKey, sysctlPath, withoutDevices } from './kernel-objects';
import { Observed, Op, plan } from './planner';
import { allocateNexthops } from './state-transitions';
import { withTableModeXdpDecap } from '../xdp/table-mode';
import type { XdpReport, XdpSync } from '../xdp/xdp-sync';

export interface ReconcileResult extends ApplyResult {
  durationMs: number;
  /** Tenant interfaces that do not exist, left out (the rest reconciled); in the scope reconciled. */
  missing?: string[];
  /** The desired state with allocations the reconcile made (nexthop ids, owned VRFs, saved MTUs and sysctls). */
  state: DesiredState;
  /** What the XDP offload did, when it ran (some tenant has xdpOffload, or it was just detached). */
  xdp?: XdpReport;
}

/** The agent's routes in main, by routeKey: a plan looks up its few keys instead of scanning them all. */
type MainRoutes = Map<string, Route>;

/** What plans need of the rule list: the agent's rules by ruleKey, and the families whose local rule is at 0. */
interface RuleList {
  ours: Map<string, Rule>;
  localRuleAtZero: Set<number>;
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
    /** The XDP offload, kept in sync after every apply; without it no tenant is offloaded. */
    private readonly xdp?: XdpSync,
    readCacheMaxAgeMs = READ_CACHE_MAX_AGE_MS,
    /** The namespace's seg6 tunnel source (the node's encapSource), set by full reconciles. */
    private readonly seg6: Seg6Genl = new Seg6Genl(nl.socket.netns),
  ) {
    this.applier = new Applier(nl, own);
    this.cached = { rules: new CachedRead(() => this.ruleList(), readCacheMaxAgeMs), main: new CachedRead(() => this.mainRoutes(), readCacheMaxAgeMs) };
  }

  private async mainRoutes(): Promise<MainRoutes> {
    return new Map((await this.nl.routes({ table: 254, protocol: this.own.protocol })).map((r) => [routeKey(r), r]));
  }

  private async ruleList(): Promise<RuleList> {
    const rules = await this.nl.rules();
    return { ours: new Map(rules.filter((r) => r.protocol === this.own.protocol).map((r) => [ruleKey(r), r])), localRuleAtZero: localRuleAtZero(rules) };
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
    if (!e || e.kind !== 'rule' && (e.kind !== 'route' || (e.route.table ?? 254) === 254)) this.cached.main.invalidate();
  }

  /** After the agent's own apply: what its operations may have changed. */
  private changedByApply(ops: Op[]): void {
    const touches = (kinds: Op['kind'][]) => ops.some((op) => kinds.includes(op.kind));
    if (touches(['rule', 'vrf', 'link'])) this.cached.rules.invalidate();
    const main = ops.some((op) => (op.kind === 'route' && (op.route.table ?? 254) === 254) || (op.kind === 'nexthop' && op.action === 'delete'));
    if (main || touches(['vrf', 'link', 'address'])) this.cached.main.invalidate();
  }

  /** The kernel objects of a state; in table mode offloaded End.DT4/DT46 decapsulate in XDP (src/xdp/table-mode.ts). */
  private objects(s: DesiredState): KernelObjects {
    return withTableModeXdpDecap(buildKernelObjects(s, this.mode, this.own), s, this.mode, this.own);
  }

  /** The owned part of the kernel, plus every link (names); sysctls are read by readSysctls. */
  async observe(): Promise<Observed & { allNexthopIds: Set<number> }> {
    const p = this.own.protocol;
    const [links, addresses, nexthops, routes, rules] = await Promise.all([this.nl.links(), this.nl.addresses(), this.nl.nexthops(), this.nl.routes({ protocol: p }), this.nl.rules()]);
    const byName = new Map(links.map((l) => [l.name, l]));
    const byIndex = new Map(links.map((l) => [l.index, l.name]));
    const o: Observed & { allNexthopIds: Set<number> } = {
      links: byName,
      addresses: new Map(),
      nexthops: new Map(nexthops.filter((n) => n.protocol === p).map((n) => [n.id, n])),
      routes: new Map(routes.filter((r) => r.protocol === p).map((r) => [routeKey(r), r])),
      rules: new Map(rules.filter((r) => r.protocol === p).map((r) => [ruleKey(r), r])),
      sysctls: new Map(),
      localRuleAtZero: localRuleAtZero(rules),
      allNexthopIds: new Set(nexthops.map((n) => n.id)),
    };
    for (const a of addresses) {
      const ifname = byIndex.get(a.index);
      if (a.protocol === p && ifname) o.addresses.set(`${ifname}|${a.address}`, { ...a, ifname });
    }
    return o;
  }

  /** Current values of the sysctls the desired objects name. */
  readSysctls(desired: KernelObjects): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    for (const [key, s] of desired.sysctls) {
      try {
        out.set(key, this.nl.sysctl.get(s.path));
      } catch {
        out.set(key, undefined); // e.g. the interface is missing: the set will report it
      }
    }
    return out;
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
  async reconcileTenant(prev: DesiredState, next: DesiredState, id: string, commit: (s: DesiredState) => void | Promise<void> = () => undefined): Promise<ReconcileResult> {
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
    const p = this.own.protocol;
    const tables = new Set([prev.tenants[id]?.table, s.tenants[id]?.table].filter((t): t is number => t !== undefined));
    const names = new Set([...desired.links.keys(), ...before.links.keys(), ...desired.vrfs.keys(), ...before.vrfs.keys(), ...(s.node?.underlay ?? [])]);

    // Every read in flight at once: one job's plan waits for the slowest answer, not their sum.
    const linkNames = [...desired.links.keys(), ...before.links.keys()];
    const nexthopIds = [...new Set([...desired.nexthops.keys(), ...before.nexthops.keys()])];
    const [linkList, nexthops, tableRoutes, mainRoutes, rules] = await Promise.all([
      Promise.all([...names].map((n) => this.nl.link(n))),
      Promise.all(nexthopIds.map((id) => this.nl.nexthop(id))),
      Promise.all([...tables].map((table) => this.nl.routes({ table, protocol: p }))),
      shared ? (shared.main ??= this.readMain()) : this.readMain(),
      shared ? (shared.rules ??= this.readRules()) : this.readRules(),
    ]);
    const links = new Map<string, Link>();
    for (const l of linkList) if (l) links.set(l.name, l);
    const observed: Observed = { links, addresses: new Map(), nexthops: new Map(), routes: new Map(), rules: new Map(), sysctls: this.readSysctls(desired) };
    const withIndex = linkNames.filter((n, i) => links.has(n) && linkNames.indexOf(n) === i);
    const addrs = await Promise.all(withIndex.map((n) => this.nl.addresses(undefined, links.get(n)!.index)));
    withIndex.forEach((name, i) => {
      for (const a of addrs[i]) if (a.protocol === p) observed.addresses.set(`${name}|${a.address}`, { ...a, ifname: name });
    });
    for (const n of nexthops) if (n && n.protocol === p) observed.nexthops.set(n.id, n);
    // The tenant's tables whole (strays included), and its SID and cross-connect routes in main.
    const inScope = new Set([...desired.routes.keys(), ...before.routes.keys()]);
    for (const r of tableRoutes.flat()) observed.routes.set(routeKey(r), r);
    for (const k of inScope) {
      const r = mainRoutes.get(k);
      if (r) observed.routes.set(k, r);
    }
    for (const k of [...desired.rules.keys(), ...before.rules.keys()]) {
      const r = rules.ours.get(k);
      if (r) observed.rules.set(k, r);
    }
    observed.localRuleAtZero = rules.localRuleAtZero;

    const names2 = new Set([...desired.links.keys(), ...before.links.keys()]);
    const configured = new Map(Object.entries(s.originalMtu).filter(([k]) => names2.has(k)) as [string, number | undefined][]);
    // Saved sysctls in scope: the tenant's interfaces', and the node-wide ones (desired as the whole
    // state decides, setNodeSysctls); other interfaces' (an old underlay) stay to full reconciles.
    const originalSysctls = new Map(Object.entries(s.originalSysctl).filter(([k]) => {
      const ifname = sysctlInterface(sysctlPath(k));
      return ifname === undefined || names2.has(ifname);
    }));
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

  /**
   * The bookkeeping that must be on disk before the kernel changes: MTUs and sysctls the plan is
   * about to change for the first time, with their values before (a release or restore puts them back).
   */
  prepare(planned: Planned): Planned {
    const { ops, state, links, sysctls } = planned;
    const first = ops.filter((op): op is Extract<Op, { action: 'configure' }> => op.kind === 'link' && op.action === 'configure' && !(op.link.name in state.originalMtu));
    // A sysctl that could not be read has no value to save (its set fails the same way).
    const firstSet = ops.flatMap((op) => (op.kind === 'sysctl' && op.action === 'set' ? [sysctlKey(op.path)] : [])).filter((k) => !(k in state.originalSysctl) && sysctls?.get(k) !== undefined);
    // VRFs about to be made are owned from here: a crash after the create must not leave one the
    // restart takes for foreign (refused, never deleted). A create that fails is disowned after.
    const made = ops.flatMap((op) => (op.kind === 'vrf' && op.action === 'create' && !state.ownedVrfs.includes(op.name) ? [op.name] : []));
    // Unchanged bookkeeping keeps the state object (and each record): the caller's commit then writes nothing.
    if (!first.length && !firstSet.length && !made.length) return planned;
    const s: DesiredState = { ...state };
    if (made.length) s.ownedVrfs = [...state.ownedVrfs, ...made];
    if (first.length) {
      s.originalMtu = { ...state.originalMtu };
      for (const op of first) s.originalMtu[op.link.name] ??= links.get(op.link.name)?.mtu ?? 0;
    }
    if (firstSet.length) {
      s.originalSysctl = { ...state.originalSysctl };
      for (const k of firstSet) s.originalSysctl[k] = sysctls!.get(k)!;
    }
    return { ...planned, state: s };
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
      result.failed.push({ kind: 'tunsrc', action: 'set', what: `seg6 tunsrc ${address}`, errno: k.errno, code: k.code, extack: k.extack, message: (e as Error).message });
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
    // A restored sysctl's value from before is forgotten (a failed restore keeps it for the next reconcile).
    const failed = new Set(result.failed.map((f) => f.op));
    const restored = ops.flatMap((op) => (op.kind === 'sysctl' && op.action === 'restore' && !failed.has(op) ? [sysctlKey(op.path)] : []));
    const bookkeeping = forget.length > 0 || forgetSysctls.length > 0 || restored.length > 0 || ops.some((op) => (op.kind === 'link' && op.action === 'release') || op.kind === 'vrf');
    const s: DesiredState = bookkeeping ? { ...state, originalMtu: { ...state.originalMtu }, originalSysctl: { ...state.originalSysctl }, ownedVrfs: [...state.ownedVrfs] } : state;
    for (const n of forget) delete s.originalMtu[n];
    for (const k of [...forgetSysctls, ...restored]) delete s.originalSysctl[k];
    for (const op of bookkeeping ? ops : []) {
      if (op.kind === 'link' && op.action === 'release' && !failed.has(op)) delete s.originalMtu[op.name];
      if (op.kind === 'vrf' && op.action === 'create') s.ownedVrfs = failed.has(op) ? s.ownedVrfs.filter((n) => n !== op.name) : [...new Set([...s.ownedVrfs, op.name])];
      if (op.kind === 'vrf' && op.action === 'delete' && !failed.has(op)) s.ownedVrfs = s.ownedVrfs.filter((n) => n !== op.name);
    }
    // The node's encapSource as the outer source of every H.Encaps: one setting of the namespace,
    // node-wide, so full reconciles keep it (a tenant job never changes the node).
    if (scope === 'full' && s.node) await this.ensureTunsrc(s.node.encapSource, result);
    // The offload follows the same state; what it could not do fails the reconcile like an operation.
    const xdp = await this.xdp?.reconcile(s, links, scope);
    if (xdp) result.failed.push(...xdp.failed);
    return { ...result, ...(xdp?.report ? { xdp: xdp.report } : {}), ...(missing?.length ? { missing } : {}), durationMs: performance.now() - t0, state: s };
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

/** Families whose rule list has the kernel's `0: lookup local`. */
function localRuleAtZero(rules: Rule[]): Set<number> {
  return new Set(rules.filter((r) => (r.priority ?? 0) === 0 && r.table === 255).map((r) => r.family));
}
