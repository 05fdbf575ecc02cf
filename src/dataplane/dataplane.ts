// The dataplane as one object: desired state on disk, jobs as state transitions, the reconciler,
// drift repair. Jobs run one at a time in submission order. The desired state is written ahead
// of the kernel changes, so a crash mid-apply is finished by the reconcile at the next start.
import { retryOf } from '../common/domain-error';
import { InvalidArgumentError } from '../netlink/errors';
import { Rtnetlink } from '../netlink/rtnetlink';
import { DesiredState } from './desired-state';
import { DataplaneMode, DEFAULT_OWNERSHIP, isNodeRule, Ownership, ruleKey } from './kernel-objects';
import type { OpFailure } from './applier';
import { allTransient, MissingInterfaceError, StateMissingError } from './errors';
export { StateMissingError };
import { DriftWatcher } from './drift-watcher';
import { mergeBookkeeping, withBookkeeping } from './bookkeeping';
import { Planned, ReconcileResult, Reconciler, SharedReads } from './reconciler';
import { DesiredStateStore } from './state-store';
import { changeRoutes, deleteTenant, upsertNode, upsertTenant } from './state-transitions';
import type { NodeSpecDto, RemoteRouteDto, TenantSpecDto } from './spec.dto';
import { FeatureReport, requireTenantFeatures } from './kernel-requirements';
import type { Offload } from './offload';
import { FIB_TBID_FEATURE, requireXdpOffloadCapabilities } from './offload-requirements';

export interface DataplaneOptions {
  nl: Rtnetlink;
  store: DesiredStateStore;
  mode: DataplaneMode;
  /** The netns the agent manages (for its monitor); undefined: its own. */
  netns?: string;
  ownership?: Ownership;
  /** Safety net behind the monitor (e.g. after an event overrun): a full reconcile this often. */
  resyncIntervalMs?: number;
  debounceMs?: number;
  /** Longest reuse of the node-wide reads of tenant plans between jobs (default 1 s; see CachedRead). */
  readCacheMaxAgeMs?: number;
  log?: (msg: string, detail?: object) => void;
  /** The offload (XDP) of tenants with xdpOffload (the caller closes it after stop()); none: not offloaded. */
  offload?: Offload;
  /**
   * What start() does when the store found no state at all but the kernel holds objects of the
   * agent's protocol (its state directory lost, or another agent's objects): 'refuse' (default)
   * fails with StateMissingError; 'wipe' lets the startup reconcile delete them.
   */
  orphans?: 'refuse' | 'wipe';
  /**
   * The capability report: a tenant job whose objects need a feature it names as not working is
   * refused before anything is saved or applied (kernel-requirements.ts; End.DT* XDP offloads
   * need bpf.fib_lookup_tbid). Features it does not name are not checked; none: nothing is.
   */
  features?: FeatureReport;
  /**
   * Kernel failures worth another try (busy, short of memory), retried right here before the
   * next job runs, so a retried job is never overtaken. Default: every failure with an errno of
   * TRANSIENT_ERRNO, 5 attempts from 100 ms.
   */
  retry?: { isTransient: (failed: OpFailure[]) => boolean; attempts: number; baseDelayMs: number };
}

/** What undoing a job the kernel refused part of did: its operations, and those the kernel refused too. */
/** What started a reconcile: a job, the startup resync, a drift repair, the periodic resync, a resync job, the undo of a refused job. */
export const RECONCILE_TRIGGERS = ['job', 'startup', 'drift', 'periodic', 'resync', 'undo'] as const;
export type ReconcileTrigger = (typeof RECONCILE_TRIGGERS)[number];
/** The drift watcher's reason for the periodic resync (a repair with this reason counts as 'periodic'). */
const PERIODIC_RESYNC = 'periodic resync';

export interface RollBack {
  operations: number;
  failed: OpFailure[];
}

export type JobResult = Omit<ReconcileResult, 'state' | 'bookkeeping'> & {
  /** The kernel refused part of the job (`failed`): it was undone, back to the previous version. */
  rolledBack?: RollBack;
  version: number;
  /** Applied as one with this many consecutive jobs about the same tenant (this one included): the changes are theirs together. */
  coalesced?: number;
};

export class Dataplane {
  private desired: DesiredState;
  private readonly reconciler: Reconciler;
  private readonly own: Ownership;
  private readonly pending: PendingJob[] = [];
  private pumping = false;
  private watcher?: DriftWatcher;
  private resyncTimer?: NodeJS.Timeout;
  /** Counters for metrics and tests; `byTrigger` counts reconciles by what started them. */
  readonly stats = { driftRepairs: 0, reconciles: 0, byTrigger: Object.fromEntries(RECONCILE_TRIGGERS.map((t) => [t, 0])) as Record<ReconcileTrigger, number> };
  /** Tenant interfaces missing at the last reconcile that covered them: left out until they appear. */
  private readonly missing = new Set<string>();

  constructor(private readonly opts: DataplaneOptions) {
    const counters = opts.features?.['seg6local.counters'];
    this.own = { ...(opts.ownership ?? DEFAULT_OWNERSHIP), ...(counters ? { counters: counters.supported === true } : {}) };
    this.reconciler = new Reconciler(opts.nl, opts.mode, this.own, opts.offload, opts.readCacheMaxAgeMs);
    this.desired = opts.store.load();
  }

  get mode(): DataplaneMode {
    return this.opts.mode;
  }

  get state(): DesiredState {
    return this.desired;
  }

  /** Tenant interfaces that do not exist (a VM's tap gone): that interface is degraded, nothing else. */
  get missingInterfaces(): ReadonlySet<string> {
    return this.missing;
  }

  /** After a reconcile: a full one replaces the set; one of a tenant (`names`: its interfaces, before and after) its part. */
  private noteMissing(missing: string[] | undefined, names?: string[]): void {
    if (names) for (const n of names) this.missing.delete(n);
    else this.missing.clear();
    for (const n of missing ?? []) this.missing.add(n);
    if (missing?.length) this.opts.log?.('tenant interfaces missing: left out until they appear', { interfaces: missing });
  }

  /** Startup reconcile from the stored state, then drift repair. */
  async start(): Promise<JobResult> {
    if (this.opts.store.foundNothing) await this.checkNoOrphans();
    const r = await this.resync('startup');
    this.watcher = new DriftWatcher(
      this.opts.netns,
      this.own,
      () => this.configuredInterfaces(),
      (reason) => this.repair(reason),
      this.opts.nl.socket.portId,
      this.opts.debounceMs,
    );
    this.watcher.onError = (e, reason) => this.opts.log?.('drift repair failed', { reason, error: (e as Error).message });
    this.watcher.onForeignChange = (e) => this.reconciler.kernelChanged(e);
    this.watcher.start();
    this.reconciler.enableReadCache(); // the monitor is subscribed: no change from here on goes unseen
    if (this.opts.resyncIntervalMs) this.resyncTimer = setInterval(() => this.watcher?.schedule(PERIODIC_RESYNC), this.opts.resyncIntervalMs).unref();
    return r;
  }

  /** With no state on disk, the startup reconcile would delete every object the agent owns in the kernel. */
  private async checkNoOrphans(): Promise<void> {
    const o = await this.reconciler.observe();
    const held = { routes: o.routes.size, rules: o.rules.size, nexthops: o.nexthops.size, addresses: o.addresses.size };
    if (!Object.values(held).some(Boolean)) return;
    if (this.opts.orphans !== 'wipe') throw new StateMissingError(this.opts.store.directory, this.own.protocol, held);
    this.opts.log?.('no desired state: deleting the objects of the agent the kernel holds, as told', held);
  }

  stop(): void {
    this.watcher?.stop();
    this.reconciler.disableReadCache(); // nothing reports changes any more
    this.reconciler.close();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.opts.store.close(); // reopened by a later save, should a job still finish after this
  }

  /**
   * The underlay interfaces must exist, with an MTU of at least underlayMtu: checked when the
   * job's turn comes, before its transition (the kernel would refuse only the sysctls of a missing
   * one, after the state was saved and the rules made).
   */
  upsertNode(dto: NodeSpecDto): Promise<JobResult> {
    const underlayFits = async () => {
      for (const name of dto.underlay) {
        const l = await this.opts.nl.link(name);
        if (!l) throw new MissingInterfaceError(name, 'underlay');
        // The tenant MTUs are computed from underlayMtu: one above the link's lets the VMs send
        // packets that, encapsulated, the underlay cannot carry.
        if (l.mtu < dto.underlayMtu)
          throw new InvalidArgumentError('underlayMtu', `${dto.underlayMtu} is more than ${name}'s MTU (${l.mtu}): encapsulated packets would not fit it`);
      }
    };
    return this.job((s) => upsertNode(s, dto), undefined, underlayFits);
  }

  upsertTenant(dto: TenantSpecDto): Promise<JobResult> {
    return this.job((s) => {
      const tbid = this.opts.features?.[FIB_TBID_FEATURE];
      if (tbid) requireXdpOffloadCapabilities(dto, this.opts.mode, tbid);
      return this.capable(upsertTenant(s, dto, this.opts.mode), dto.id);
    }, dto.id);
  }

  deleteTenant(id: string): Promise<JobResult> {
    return this.job((s) => deleteTenant(s, id), id);
  }

  changeRoutes(id: string, change: { set?: RemoteRouteDto[]; add?: RemoteRouteDto[]; remove?: string[] }): Promise<JobResult> {
    return this.job((s) => this.capable(changeRoutes(s, id, change), id), id);
  }

  /** `next`, if this kernel can carry out tenant `id` of it (else CapabilityMissingError, nothing saved). */
  private capable(next: DesiredState, id: string): DesiredState {
    if (this.opts.features) requireTenantFeatures(next.tenants[id], this.opts.mode, this.opts.features);
    return next;
  }

  /** Reconcile the kernel to the current desired state (no change to it). */
  resync(trigger: ReconcileTrigger = 'resync'): Promise<JobResult> {
    return this.job((s) => s, undefined, undefined, trigger);
  }

  private configuredInterfaces(): Set<string> {
    const names = new Set(Object.keys(this.desired.originalMtu));
    for (const t of Object.values(this.desired.tenants)) for (const i of t.interfaces) names.add(i.name);
    for (const n of this.opts.offload?.watchedInterfaces(this.desired) ?? []) names.add(n);
    return names;
  }

  private async repair(reason: string): Promise<void> {
    const r = await this.resync(reason === PERIODIC_RESYNC ? 'periodic' : 'drift');
    if (r.operations > 0) {
      this.stats.driftRepairs++;
      this.opts.log?.('drift repaired', { reason, operations: r.operations, failed: r.failed.length });
    }
  }

  /**
   * Queues a job. Jobs run one at a time in call order; validation errors reject before anything
   * is written or applied. A job about one tenant reconciles that tenant only; others (node,
   * resync) reconcile everything. Tenant jobs that queued up behind a running one are taken as a
   * group (see execute).
   */
  private job(
    transition: (s: DesiredState) => DesiredState,
    tenant?: string,
    check?: () => Promise<void>,
    trigger: ReconcileTrigger = 'job',
  ): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      this.pending.push({ transition, tenant, check, trigger, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length) await this.execute(this.takeGroup());
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next job, plus the tenant jobs right behind it: a run of jobs about one tenant is one
   * member (coalesced), and members continue while each is about another tenant. A job that is
   * not scoped to a tenant (node, resync, or any job before the first reconcile) goes alone.
   */
  private takeGroup(): PendingJob[][] {
    const scoped = (j: PendingJob) => j.tenant !== undefined && this.stats.reconciles > 0 && !!this.desired.node;
    const first = this.pending.shift()!;
    if (!scoped(first)) return [[first]];
    const group = [[first]];
    const tenants = new Set([first.tenant]);
    for (let n = 1; n < MAX_GROUP && this.pending.length && scoped(this.pending[0]); n++) {
      const j = this.pending[0];
      const last = group[group.length - 1];
      if (j.tenant === last[0].tenant && !j.alone && !last[0].alone) last.push(j);
      else if (tenants.has(j.tenant)) break;
      else {
        group.push([j]);
        tenants.add(j.tenant);
      }
      this.pending.shift();
    }
    return group;
  }

  /**
   * Runs a group of members (a single job is a group of one): each member's transitions applied
   * on top of the member before it (their objects do not overlap, so none needs the kernel changes
   * of another to be planned), every member planned and prepared, the result written ahead in ONE
   * save, then applied member by member with a result each. Consecutive jobs about one tenant are
   * one member: the kernel goes to the last of their states in one plan, every job of it gets the
   * member's result, marked `coalesced`. A job whose transition fails is rejected alone and leaves
   * no trace; a coalesced member whose plan fails runs again job by job; a member touching an
   * interface an earlier one touches goes back to the queue. A member the kernel refuses part of
   * is undone (its tenant, or everything for a node job, back as before: ADR 0014); one that
   * throws an error that may pass is undone and retried before any later job (failedOnTheWay).
   */
  private async execute(group: PendingJob[][]): Promise<void> {
    const ready: Member[] = [];
    let cur = this.desired;
    const interfaces = new Set<string>();
    const nodeRules = new Set<string>();
    const shared: SharedReads = {};
    for (const [i, jobsOfMember] of group.entries()) {
      // With no tenant left, node-wide objects go (the moved local rule, the table-mode
      // rp_filter): a member planned now would see them still there. It waits for the next round.
      if (ready.length && !Object.keys(cur.tenants).length) {
        this.pending.unshift(...group.slice(i).flat());
        break;
      }
      const tenant = jobsOfMember[0].tenant;
      let next = cur;
      const jobs: Member['jobs'] = [];
      for (const j of jobsOfMember) {
        try {
          await j.check?.();
          const before = next;
          next = unlessSame(next, j.transition(next), tenant);
          jobs.push({ j, version: next.version, changed: next !== before });
        } catch (e) {
          await this.failed([j], e);
        }
      }
      if (!jobs.length) continue;
      // The first job after start (or with no node yet) gets a full reconcile: it learns foreign ids.
      const scoped = tenant !== undefined && this.stats.reconciles > 0 && !!next.node;
      // An interface handed from one tenant to another: the second plan would read it before
      // the first apply releases it. Such a job waits for the next round.
      const names = scoped ? interfacesOf(tenant, cur, next) : [];
      if (names.some((n) => interfaces.has(n))) {
        this.pending.unshift(...jobs.map((x) => x.j), ...group.slice(i + 1).flat());
        break;
      }
      let planned: Planned;
      try {
        planned = this.reconciler.prepare(scoped ? await this.reconciler.planTenant(cur, next, tenant, shared) : await this.reconciler.plan(next));
      } catch (e) {
        if (jobs.length === 1) {
          await this.failed([jobs[0].j], e);
          continue;
        }
        // Which job made the plan fail is not known: each runs again on its own, in order.
        for (const x of jobs) x.j.alone = true;
        this.pending.unshift(...jobs.map((x) => x.j), ...group.slice(i + 1).flat());
        break;
      }
      for (const n of names) interfaces.add(n);
      // Node-wide rules (the moved local rule, the jumps) are planned by every member that sees them
      // missing; only the first one makes them, or the second gets EEXIST/ENOENT.
      planned.ops = planned.ops.filter((op) => op.kind !== 'rule' || !nodeRules.has(`${op.action}|${ruleKey(op.rule)}`) || !isNodeRule(op.rule, this.own));
      for (const op of planned.ops) if (op.kind === 'rule' && isNodeRule(op.rule, this.own)) nodeRules.add(`${op.action}|${ruleKey(op.rule)}`);
      ready.push({ jobs, scope: scoped ? tenant : undefined, planned, prev: cur });
      cur = planned.state;
    }
    if (!ready.length) return;
    try {
      await this.commit(cur); // the write-ahead of every member
    } catch (e) {
      for (const m of ready)
        await this.failed(
          m.jobs.map((x) => x.j),
          e,
        );
      return;
    }
    const done: { j: PendingJob; result: JobResult }[] = [];
    let live = cur;
    for (const [i, m] of ready.entries()) {
      const { jobs, scope, planned, prev } = m;
      const changed = jobs.some((x) => x.changed);
      // Undone: the member's tenant (everything, for a job of no tenant) back as before it; the
      // version too unless a later member of the group changed the state after it.
      const undo = () => this.rollBack(undoneState(live, prev, scope, !ready.slice(i + 1).some((n) => n.jobs.some((x) => x.changed))), live, scope);
      try {
        const again = () =>
          scope
            ? this.reconciler.reconcileTenant(prev, this.desired, scope, (s) => this.commit(s))
            : this.reconciler.reconcile(this.desired, (s) => this.commit(s));
        const r = await this.retried(await this.reconciler.apply(planned, scope ? 'tenant' : 'full'), again);
        const { state: _s, bookkeeping, ...result } = r;
        this.stats.reconciles++;
        this.stats.byTrigger[jobs[0].j.trigger]++; // a group's jobs are all 'job': only those coalesce
        this.noteMissing(result.missing, scope ? interfacesOf(scope, prev, planned.state) : undefined);
        live = withBookkeeping(live, bookkeeping);
        if (result.failed.length && changed) {
          const rolledBack = await undo();
          live = this.desired;
          for (const { j } of jobs) done.push({ j, result: { ...result, version: live.version, rolledBack } });
          continue;
        }
        for (const { j, version, changed: own } of jobs) {
          // A job that asked for nothing new (e.g. a re-run) changed nothing, whatever its neighbours did.
          const mine = jobs.length === 1 || own ? result : { ...result, created: {}, updated: {}, deleted: {}, operations: 0 };
          done.push({ j, result: { ...mine, version, ...(jobs.length > 1 ? { coalesced: jobs.length } : {}) } });
        }
      } catch (e) {
        // Thrown after the state was written ahead (a socket failure mid-apply): undone the same way.
        if (changed) await undo().catch(() => undefined);
        live = this.desired;
        await this.failed(
          jobs.map((x) => x.j),
          e,
        );
      }
    }
    try {
      await this.commit(live); // the bookkeeping of the applies: VRFs owned, MTUs and sysctls restored
    } catch (e) {
      for (const { j } of done) j.reject(e);
      return;
    }
    for (const { j, result } of done) j.resolve(result);
  }

  /**
   * Jobs that failed with `e` before or while being applied (undone already): an error that may
   * pass (the netlink socket, a busy kernel) sends them back to the front of the queue, alone,
   * after a backoff, up to the retry policy's attempts: retried from the back of the queue, an
   * older job about a tenant could overwrite a newer one. Anything else rejects them.
   */
  private async failed(jobs: PendingJob[], e: unknown): Promise<void> {
    const policy = this.opts.retry ?? DEFAULT_RETRY;
    const attempt = Math.max(...jobs.map((j) => j.attempt ?? 1));
    if (retryOf(e) !== 'transient' || attempt >= policy.attempts) {
      for (const j of jobs) j.reject(e);
      return;
    }
    this.opts.log?.('job failed on a transient error: retrying it in place', { attempt, tenant: jobs[0].tenant, error: (e as Error).message });
    await new Promise((res) => setTimeout(res, policy.baseDelayMs * 2 ** (attempt - 1)));
    for (const j of jobs) {
      j.alone = true;
      j.attempt = attempt + 1;
    }
    this.pending.unshift(...jobs);
  }

  /**
   * Undoes a job the kernel refused part of: `back`, the state before it (with the bookkeeping of
   * the failed apply: VRFs it created, MTUs and sysctls it saved, so that what it made is deleted
   * and what it changed restored), is written ahead and reconciled in the job's scope (`tenant`,
   * or everything). Returns what the undo did.
   */
  private async rollBack(back: DesiredState, attempted: DesiredState, tenant?: string): Promise<RollBack> {
    await this.commit(back);
    const commit = (s: DesiredState) => this.commit(s);
    const again = () => (tenant ? this.reconciler.reconcileTenant(attempted, this.desired, tenant, commit) : this.reconciler.reconcile(this.desired, commit));
    const undo = await this.retried(
      tenant ? await this.reconciler.reconcileTenant(attempted, back, tenant, commit) : await this.reconciler.reconcile(back, commit),
      again,
    );
    await this.commit(undo.state);
    this.stats.byTrigger.undo++;
    this.opts.log?.('job undone after a kernel refusal', { version: back.version, tenant, operations: undo.operations, failed: undo.failed.length });
    return { operations: undo.operations, failed: undo.failed };
  }

  /**
   * Runs `again` (a fresh reconcile of the same scope) while every failure is transient, with
   * exponential backoff; the result counts every attempt's changes and the last one's failures.
   */
  private async retried(r: ReconcileResult, again: () => Promise<ReconcileResult>): Promise<ReconcileResult> {
    const policy = this.opts.retry ?? DEFAULT_RETRY;
    for (let attempt = 1; policy && r.failed.length && attempt < policy.attempts && policy.isTransient(r.failed); attempt++) {
      this.opts.log?.('kernel busy, retrying in order', { attempt, failed: r.failed.length, first: r.failed[0].what });
      await new Promise((res) => setTimeout(res, policy.baseDelayMs * 2 ** (attempt - 1)));
      const next = await again();
      r = {
        ...next,
        bookkeeping: mergeBookkeeping(r.bookkeeping, next.bookkeeping),
        created: sum(r.created, next.created),
        updated: sum(r.updated, next.updated),
        deleted: sum(r.deleted, next.deleted),
        operations: r.operations + next.operations,
        durationMs: r.durationMs + next.durationMs,
      };
    }
    return r;
  }

  /** Makes `s` the desired state, on disk first (the store writes what changed, if anything). */
  private async commit(s: DesiredState): Promise<void> {
    if (s === this.desired) return;
    await this.opts.store.saveAsync(s);
    this.desired = s;
  }
}

const MAX_GROUP = 64;

const DEFAULT_RETRY: NonNullable<DataplaneOptions['retry']> = {
  isTransient: allTransient,
  attempts: 5,
  baseDelayMs: 100,
};

function sum(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The interface names of a tenant in any of the states. */
function interfacesOf(tenant: string, ...states: DesiredState[]): string[] {
  return [...new Set(states.flatMap((st) => st.tenants[tenant]?.interfaces.map((x) => x.name) ?? []))];
}

/** Jobs applied as one plan: one job, or consecutive jobs about one tenant (coalesced). */
interface Member {
  jobs: { j: PendingJob; version: number; changed: boolean }[];
  /** The tenant reconciled; undefined: everything (a node job, a resync, the first job after start). */
  scope?: string;
  planned: Planned;
  /** The desired state before the member. */
  prev: DesiredState;
}

interface PendingJob {
  transition: (s: DesiredState) => DesiredState;
  tenant?: string;
  /** What the kernel must show before the transition (node jobs: their underlay); only jobs that run alone have one. */
  check?: () => Promise<void>;
  trigger: ReconcileTrigger;
  /** Not coalesced with its neighbours (its member's plan failed once, or it is being retried). */
  alone?: boolean;
  /** The attempt this is, once retried after a transient error (failed()). */
  attempt?: number;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
}

/**
 * A job that asks for what is already desired (an orchestrator's periodic full push) returns the
 * state unchanged: no new version and nothing to write. Its reconcile still runs (drift repair).
 */
function unlessSame(prev: DesiredState, next: DesiredState, tenant?: string): DesiredState {
  if (next === prev) return prev;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(prev.node, next.node)) return next;
  if (tenant === undefined) return same(prev.tenants, next.tenants) ? prev : next;
  return same(prev.tenants[tenant], next.tenants[tenant]) ? prev : next;
}

/** `attempted` with the content of `prev` (version, node, tenants, nexthop ids): its bookkeeping stays. */
function withContentOf(attempted: DesiredState, prev: DesiredState): DesiredState {
  const back: DesiredState = { ...attempted, version: prev.version, node: prev.node, tenants: prev.tenants, nexthops: prev.nexthops };
  if (!prev.node) delete back.node;
  return back;
}

/** `s` with tenant `id` (and its nexthop ids) as in `prev`: gone if it was not there. */
function withTenantOf(s: DesiredState, prev: DesiredState, id: string): DesiredState {
  const tenants = { ...s.tenants };
  const nexthops = { ...s.nexthops };
  if (prev.tenants[id]) tenants[id] = prev.tenants[id];
  else delete tenants[id];
  if (prev.nexthops[id]) nexthops[id] = prev.nexthops[id];
  else delete nexthops[id];
  return { ...s, tenants, nexthops };
}

/**
 * What undoing a member leaves: `live` with the member's tenant as in `prev` (everything, for a
 * member of no tenant); the version of `prev` too when `last` (no later member changed the state).
 */
function undoneState(live: DesiredState, prev: DesiredState, tenant: string | undefined, last: boolean): DesiredState {
  if (tenant === undefined) return withContentOf(live, prev);
  const back = withTenantOf(live, prev, tenant);
  return last ? { ...back, version: prev.version } : back;
}
