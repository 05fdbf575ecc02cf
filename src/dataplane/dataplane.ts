// The dataplane as one object: desired state on disk, jobs as state transitions, the reconciler,
// drift repair. Jobs run one at a time in submission order. The desired state is written ahead
// of the kernel changes, so a crash mid-apply is finished by the reconcile at the next start.
import { Rtnetlink } from '../netlink/rtnetlink';
import { DesiredState } from './desired-state';
import { DataplaneMode, DEFAULT_OWNERSHIP, Ownership } from './kernel-objects';
import { DriftWatcher, ReconcileResult, Reconciler } from './reconciler';
import { DesiredStateStore } from './state-store';
import { changeRoutes, deleteTenant, upsertNode, upsertTenant } from './state-transitions';
import type { NodeSpecDto, RemoteRouteDto, TenantSpecDto } from './spec.dto';
import type { XdpSync } from '../xdp/xdp-sync';

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
  log?: (msg: string, detail?: object) => void;
  /** The XDP offload of tenants with xdpOffload (the caller closes it after stop()); none: not offloaded. */
  xdp?: XdpSync;
}

export type JobResult = Omit<ReconcileResult, 'state'> & { version: number };

export class Dataplane {
  private desired: DesiredState;
  private readonly reconciler: Reconciler;
  private readonly own: Ownership;
  private queue: Promise<unknown> = Promise.resolve();
  private watcher?: DriftWatcher;
  private resyncTimer?: NodeJS.Timeout;
  /** Counters for metrics and tests. */
  readonly stats = { driftRepairs: 0, reconciles: 0 };

  constructor(private readonly opts: DataplaneOptions) {
    this.own = opts.ownership ?? DEFAULT_OWNERSHIP;
    this.reconciler = new Reconciler(opts.nl, opts.mode, this.own, opts.xdp);
    this.desired = opts.store.load();
  }

  get mode(): DataplaneMode {
    return this.opts.mode;
  }

  get state(): DesiredState {
    return this.desired;
  }

  get xdp(): XdpSync | undefined {
    return this.opts.xdp;
  }

  /** Startup reconcile from the stored state, then drift repair. */
  async start(): Promise<JobResult> {
    const r = await this.resync();
    this.watcher = new DriftWatcher(this.opts.netns, this.own, () => this.configuredInterfaces(), (reason) => this.repair(reason), this.opts.nl.socket.portId, this.opts.debounceMs);
    this.watcher.onError = (e, reason) => this.opts.log?.('drift repair failed', { reason, error: (e as Error).message });
    this.watcher.start();
    if (this.opts.resyncIntervalMs) this.resyncTimer = setInterval(() => this.watcher?.schedule('periodic resync'), this.opts.resyncIntervalMs).unref();
    return r;
  }

  stop(): void {
    this.watcher?.stop();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.opts.store.close(); // reopened by a later save, should a job still finish after this
  }

  upsertNode(dto: NodeSpecDto): Promise<JobResult> {
    return this.job((s) => upsertNode(s, dto));
  }

  upsertTenant(dto: TenantSpecDto): Promise<JobResult> {
    return this.job((s) => upsertTenant(s, dto, this.opts.mode), dto.id);
  }

  deleteTenant(id: string): Promise<JobResult> {
    return this.job((s) => deleteTenant(s, id), id);
  }

  changeRoutes(id: string, change: { set?: RemoteRouteDto[]; add?: RemoteRouteDto[]; remove?: string[] }): Promise<JobResult> {
    return this.job((s) => changeRoutes(s, id, change), id);
  }

  /** Reconcile the kernel to the current desired state (no change to it). */
  resync(): Promise<JobResult> {
    return this.job((s) => s);
  }

  private configuredInterfaces(): Set<string> {
    const names = new Set(Object.keys(this.desired.originalMtu));
    for (const t of Object.values(this.desired.tenants)) for (const i of t.interfaces) names.add(i.name);
    // An underlay re-created under an attached XDP program loses it: watch the underlay then too.
    if (Object.values(this.desired.tenants).some((t) => t.xdpOffload)) for (const u of this.desired.node?.underlay ?? []) names.add(u);
    return names;
  }

  private async repair(reason: string): Promise<void> {
    const r = await this.resync();
    if (r.operations > 0) {
      this.stats.driftRepairs++;
      this.opts.log?.('drift repaired', { reason, operations: r.operations, failed: r.failed.length });
    }
  }

  /**
   * Serialises jobs; validation errors throw before anything is written or applied. A job about
   * one tenant reconciles that tenant only; others (node, resync) reconcile everything.
   */
  private job(transition: (s: DesiredState) => DesiredState, tenant?: string): Promise<JobResult> {
    const run = async (): Promise<JobResult> => {
      const prev = this.desired;
      const next = transition(prev);
      let committed = this.desired;
      let committedText: string | undefined;
      const commit = (s: DesiredState) => {
        if (s === committed) return;
        // Bookkeeping-only differences (the same JSON) need no write.
        const text = JSON.stringify(s);
        if (text !== (committedText ??= JSON.stringify(committed))) this.opts.store.save(s);
        committed = s;
        committedText = text;
        this.desired = s;
      };
      // The first job after start (or with no node yet) gets a full reconcile: it learns foreign ids.
      const r = tenant && this.stats.reconciles > 0 && next.node ? await this.reconciler.reconcileTenant(prev, next, tenant, commit) : await this.reconciler.reconcile(next, commit);
      this.stats.reconciles++;
      commit(r.state); // bookkeeping of the apply: MTUs saved, VRFs owned
      const { state: _s, ...result } = r;
      return { ...result, version: this.desired.version };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
