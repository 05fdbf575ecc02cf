// Traces for the agent's REST API (POST /v1/traces, GET /v1/traces/:id, POST /v1/traces/:id/stop,
// GET /v1/traces): a plain class, Nest-free, testable with a fake tracer.
//
// - One trace at a time: a second start while one is starting, running or stopping is
//   TraceBusyError (HTTP 409). Attaching thousands of probes twice would double the overhead
//   on every packet of the host, and the backend probes would see each other.
// - Bounded memory: a trace keeps at most `maxEvents` events (request, capped by the service);
//   received events beyond that are counted (`notKept`), never silently dropped. A finished trace
//   keeps its events as raw 72-byte records (50,000 events: 3.6 MB) and is formatted when asked
//   for, a page of packets at a time; only the last `keepFinished` finished traces are kept.
// - Namespace: unless the request names one (`netnsInode`, 0 for all), only packets in the
//   agent's managed namespace are traced (`defaultNetnsInode`).
// - Every trace ends: by its duration (default 10 s, capped), its event limit, stop(), or the
//   service's shutdown() (wire it to onModuleDestroy / SIGTERM).
import { randomUUID } from 'node:crypto';

import { InvalidArgumentError } from '../netlink/errors';
import { Backend, BACKENDS, DEFAULT_MAX_PROBES, MAX_PROBES_LIMIT, TP_MODE_NOTE, TraceType, selectionSummary } from './backend';
import { decodeEvent, encodeEvent, EVENT_SIZE, TraceEvent } from './event';
import { eventRecord, formatPacket, Labels } from './format';
import { parseU32 } from './ipft-args';
import { nameFilterProblem } from './name-filter';
import { groupPackets } from './packets';
import { attachLine, AttachSummary, kernelViewCache, Tracer, TraceOptions, TraceSummary } from './tracer';
import { TraceError } from './trace-error';

/** One trace at a time: this one can start once the running one has stopped. */
export class TraceBusyError extends TraceError {
  override readonly name = 'TraceBusyError';
  readonly retry = 'transient';
  readonly status = 409;
  readonly error = 'TraceBusy';
  constructor(readonly running: string) {
    super(`trace ${running} is still running: stop it first (one trace at a time)`);
  }

  override details() {
    return { running: this.running };
  }
}

export class TraceNotFoundError extends TraceError {
  override readonly name = 'TraceNotFoundError';
  readonly retry = 'permanent';
  readonly status = 404;
  readonly error = 'TraceNotFound';
  constructor(readonly id: string) {
    super(`no trace ${id}`);
  }

  override details() {
    return { id: this.id };
  }
}

/** A request body that does not validate: every field with what is wrong with it. */
export class TraceRequestError extends TraceError {
  override readonly name = 'TraceRequestError';
  readonly retry = 'permanent';
  readonly status = 400;
  readonly error = 'InvalidTraceRequest';
  constructor(readonly errors: Array<{ field: string; messages: string[] }>) {
    super(`invalid trace request: ${errors.map((e) => `${e.field}: ${e.messages.join('; ')}`).join(' | ')}`.slice(0, 2000));
  }

  override details() {
    return { errors: this.errors };
  }
}

export interface TraceRequest {
  /** Number, or a string in hex (0x…) or decimal. */
  mark: number | string;
  mask?: number | string;
  /** RegExp syntax without backreferences and lookaround (name-filter.ts). */
  regex?: string;
  backend?: Backend;
  type?: TraceType;
  /** Probes the trace may attach; default DEFAULT_MAX_PROBES, at most MAX_PROBES_LIMIT. */
  maxProbes?: number;
  /** Only skbs in this network namespace (inode); 0: every namespace; default: the service's. */
  netnsInode?: number;
  ifindex?: number;
  /** Default 10 000 ms, at most the service's maxDurationMs. */
  durationMs?: number;
  /** Events to keep; default and cap: the service's maxEvents. */
  limit?: number;
}

export type TraceState = 'starting' | 'running' | 'stopping' | 'done' | 'failed';
export type StopReason = 'duration' | 'limit' | 'stopped' | 'shutdown' | 'error';

export interface TraceInfo {
  id: string;
  state: TraceState;
  request: Required<Pick<TraceRequest, 'durationMs' | 'limit' | 'maxProbes'>> & { mark: string; mask: string } & Omit<
      TraceRequest,
      'mark' | 'mask' | 'durationMs' | 'limit' | 'maxProbes'
    >;
  createdAt: string;
  readyAt?: string;
  stoppedAt?: string;
  backend?: Backend;
  /** Which backend runs and why the others did not. */
  backendSelection?: string;
  /** Tracepoint mode: what cannot be seen. */
  note?: string;
  attach?: Omit<AttachSummary, 'verifierLog' | 'failures'>;
  samples: number;
  lost: number;
  notKept: number;
  stopReason?: StopReason;
  error?: string;
}

export interface TracePacket {
  id: number;
  skb: string;
  events: Record<string, unknown>[];
}

export interface TraceResult extends TraceInfo {
  /** Packets so far (running) or in all (finished). */
  packetCount: number;
  /** Index of the first packet in `packets`. */
  offset: number;
  /** A page of packets (by first event), events in timestamp order. */
  packets: TracePacket[];
}

export interface PageOptions {
  /** First packet (0-based); default 0. */
  offset?: number;
  /** Packets at most; default and cap MAX_PACKETS_PER_PAGE. */
  limit?: number;
}

/** Packets per GET at most (the events in them are bounded by maxEvents). */
export const MAX_PACKETS_PER_PAGE = 10_000;

/** What the service needs of a Tracer (a fake in unit tests). */
export interface TracerLike {
  readonly backend: Backend;
  readonly attach: AttachSummary;
  readonly labels: string[];
  readonly targets: ReadonlyArray<{ name: string; module?: string }>;
  readonly gsoNames: ReadonlyMap<number, string>;
  readonly selection: Parameters<typeof selectionSummary>[0];
  readonly samples: number;
  on(event: 'limit', fn: () => void): unknown;
  on(event: 'error', fn: (e: Error) => void): unknown;
  /** Kept events, in arrival order. */
  events(): readonly TraceEvent[];
  halt(): Promise<TraceSummary>;
  stop(): Promise<TraceSummary>;
}

export interface TraceServiceOptions {
  /** Starts a tracer (default Tracer.start, with the kernel's targets cached between traces). */
  startTracer?: (opts: TraceOptions) => Promise<TracerLike>;
  /** Cap (and default) of events kept per trace; default 50 000. */
  maxEvents?: number;
  /** Cap of a trace's duration; default 600 000 ms. */
  maxDurationMs?: number;
  /** Finished traces kept for GET; default 4. */
  keepFinished?: number;
  /** The netns inode traced when a request names none (the agent's managed namespace). */
  defaultNetnsInode?: () => number;
}

/** What is kept of a trace's events: raw records and what it takes to name them. */
interface EventStore {
  /** Finished: every kept event, EVENT_SIZE bytes each, in arrival order. */
  raw?: Buffer;
  labels: Labels;
  /** Target names (packet splitting knows the free functions by name). */
  names: string[];
}

interface Entry {
  info: TraceInfo;
  /** Aborts attaching (shutdown while starting). */
  abort: AbortController;
  tracer?: TracerLike;
  timer?: NodeJS.Timeout;
  /** Set once finished; the tracer is released. */
  store?: EventStore;
  stopping?: Promise<void>;
}

export class TraceService {
  private readonly traces = new Map<string, Entry>();
  private readonly startTracer: (opts: TraceOptions) => Promise<TracerLike>;
  readonly maxEvents: number;
  readonly maxDurationMs: number;
  private readonly keepFinished: number;
  private readonly defaultNetnsInode?: () => number;
  private active?: string;

  constructor(opts: TraceServiceOptions = {}) {
    const kernel = kernelViewCache();
    this.startTracer = opts.startTracer ?? ((o) => Tracer.start({ ...o, kernel: kernel() }));
    this.maxEvents = opts.maxEvents ?? 50_000;
    this.maxDurationMs = opts.maxDurationMs ?? 600_000;
    this.keepFinished = opts.keepFinished ?? 4;
    this.defaultNetnsInode = opts.defaultNetnsInode;
  }

  /** Validates and normalizes a request; InvalidArgumentError (HTTP 400) names the field. */
  normalize(req: TraceRequest): TraceInfo['request'] {
    const num = (v: number | string | undefined, field: string, dflt: number) => {
      if (v === undefined) return dflt;
      try {
        return typeof v === 'number' ? parseU32(String(v), field) : parseU32(v, field);
      } catch (e) {
        throw new InvalidArgumentError(field, (e as Error).message.replace(`${field}: `, ''));
      }
    };
    if (req.mark === undefined || req.mark === null) throw new InvalidArgumentError('mark', 'is required');
    const mark = num(req.mark, 'mark', 0);
    const mask = num(req.mask, 'mask', 0xffffffff);
    if (req.regex !== undefined) {
      if (typeof req.regex !== 'string' || req.regex.length > 256) throw new InvalidArgumentError('regex', 'must be a string of at most 256 characters');
      const problem = nameFilterProblem(req.regex);
      if (problem) throw new InvalidArgumentError('regex', problem);
    }
    if (req.backend !== undefined && !(BACKENDS as readonly string[]).includes(req.backend))
      throw new InvalidArgumentError('backend', `must be one of ${BACKENDS.join(', ')}`);
    if (req.type !== undefined && req.type !== 'function' && req.type !== 'function_graph')
      throw new InvalidArgumentError('type', 'must be function or function_graph');
    for (const f of ['netnsInode', 'ifindex'] as const)
      if (req[f] !== undefined && (!Number.isInteger(req[f]) || req[f]! < 0 || req[f]! > 0xffffffff))
        throw new InvalidArgumentError(f, 'must be a 32-bit unsigned integer');
    const durationMs = req.durationMs ?? 10_000;
    if (!Number.isInteger(durationMs) || durationMs < 1 || durationMs > this.maxDurationMs)
      throw new InvalidArgumentError('durationMs', `must be an integer between 1 and ${this.maxDurationMs}`);
    const limit = req.limit ?? this.maxEvents;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.maxEvents)
      throw new InvalidArgumentError('limit', `must be an integer between 1 and ${this.maxEvents}`);
    const maxProbes = req.maxProbes ?? DEFAULT_MAX_PROBES;
    if (!Number.isInteger(maxProbes) || maxProbes < 1 || maxProbes > MAX_PROBES_LIMIT)
      throw new InvalidArgumentError('maxProbes', `must be an integer between 1 and ${MAX_PROBES_LIMIT}`);
    const out: TraceInfo['request'] = { mark: `0x${mark.toString(16)}`, mask: `0x${mask.toString(16)}`, durationMs, limit, maxProbes };
    for (const f of ['regex', 'backend', 'type', 'netnsInode', 'ifindex'] as const) if (req[f] !== undefined) (out as Record<string, unknown>)[f] = req[f];
    return out;
  }

  /** Starts a trace; resolves once every probe is attached (state running) or the start failed
   *  (state failed, with the error; the error is thrown as well). */
  async start(req: TraceRequest): Promise<TraceInfo> {
    const request = this.normalize(req);
    if (this.active) throw new TraceBusyError(this.active);
    if (request.netnsInode === undefined && this.defaultNetnsInode) request.netnsInode = this.defaultNetnsInode();
    const id = randomUUID();
    const entry: Entry = {
      info: { id, state: 'starting', request, createdAt: new Date().toISOString(), samples: 0, lost: 0, notKept: 0 },
      abort: new AbortController(),
    };
    this.active = id;
    this.traces.set(id, entry);
    this.evict();
    try {
      const tracer = await this.startTracer({
        mark: Number(request.mark),
        mask: Number(request.mask),
        regex: request.regex,
        backend: request.backend,
        type: request.type,
        maxProbes: request.maxProbes,
        netnsInode: request.netnsInode,
        ifindex: request.ifindex,
        collect: true,
        maxEvents: request.limit,
        limit: request.limit,
        signal: entry.abort.signal,
      });
      entry.tracer = tracer;
      Object.assign(entry.info, {
        state: 'running',
        readyAt: new Date().toISOString(),
        backend: tracer.backend,
        backendSelection: selectionSummary(tracer.selection),
        attach: summaryOf(tracer.attach),
      });
      if (tracer.backend === 'tp_btf') entry.info.note = TP_MODE_NOTE;
      tracer.on('limit', () => void this.finish(entry, 'limit'));
      tracer.on('error', (e) => {
        entry.info.error = e.message;
        void this.finish(entry, 'error');
      });
      entry.timer = setTimeout(() => void this.finish(entry, 'duration'), request.durationMs);
      entry.timer.unref?.();
      if (entry.abort.signal.aborted) await this.finish(entry, 'shutdown'); // shut down meanwhile
      return { ...entry.info };
    } catch (e) {
      Object.assign(entry.info, { state: 'failed', stoppedAt: new Date().toISOString(), error: e instanceof Error ? e.message : String(e) });
      this.active = undefined;
      throw e;
    }
  }

  /** A trace with a page of its packets (a running one: what was received so far). */
  get(id: string, page: PageOptions = {}): TraceResult {
    const entry = this.entry(id);
    const { offset, limit } = checkPage(page);
    const info = this.info(entry);
    const store = this.store(entry);
    if (!store) return { ...info, packetCount: 0, offset, packets: [] };
    const packets = this.group(entry, store);
    const shown = packets.slice(offset, offset + limit).map((p) => ({
      id: p.id,
      skb: `0x${p.skb.toString(16)}`,
      events: p.events.map((e: TraceEvent) => eventRecord(e, p.id, store.labels)),
    }));
    return { ...info, packetCount: packets.length, offset, packets: shown };
  }

  /** The whole trace as ipft prints it: status lines, `Samples: N Lost: N`, packet blocks. */
  text(id: string): string {
    const entry = this.entry(id);
    const info = this.info(entry);
    const lines: string[] = [];
    if (info.backendSelection) lines.push(info.backendSelection);
    if (info.attach) lines.push(attachLine(info.attach));
    if (info.note) lines.push(`Note: ${info.note}`);
    lines.push(`State: ${info.state}${info.stopReason ? ` (${info.stopReason})` : ''}${info.error ? `: ${info.error}` : ''}`);
    lines.push(`Samples: ${info.samples} Lost: ${info.lost}`);
    if (info.notKept) lines.push(`Not kept: ${info.notKept} received events beyond the limit are missing below`);
    const store = this.store(entry);
    const blocks = store ? this.group(entry, store).map((p) => formatPacket(p, store.labels)) : [];
    return [lines.join('\n'), ...blocks].join('\n\n') + '\n';
  }

  private entry(id: string): Entry {
    const entry = this.traces.get(id);
    if (!entry) throw new TraceNotFoundError(id);
    return entry;
  }

  private info(entry: Entry): TraceInfo {
    const info = { ...entry.info };
    if (entry.tracer && entry.info.state === 'running') info.samples = entry.tracer.samples;
    return info;
  }

  private store(entry: Entry): EventStore | undefined {
    return entry.store ?? (entry.tracer ? storeOf(entry.tracer) : undefined);
  }

  private group(entry: Entry, store: EventStore) {
    const events = store.raw ? decodeAll(store.raw) : entry.tracer!.events();
    return groupPackets(events, { names: store.names });
  }

  /** Every trace kept, newest first, without packets. */
  list(): TraceInfo[] {
    return [...this.traces.values()].map((e) => ({ ...e.info })).reverse();
  }

  /** Stops a running trace (idempotent for finished ones) and returns its result. */
  async stop(id: string, page: PageOptions = {}): Promise<TraceResult> {
    checkPage(page); // a bad page is refused before anything stops
    await this.finish(this.entry(id), 'stopped');
    return this.get(id, page);
  }

  /** Stops the running trace, if any (service shutdown: nothing may stay attached). */
  async shutdown(): Promise<void> {
    const entry = this.active ? this.traces.get(this.active) : undefined;
    if (!entry) return;
    entry.abort.abort(); // a start in flight detaches what it attached and fails
    await this.finish(entry, 'shutdown');
  }

  private finish(entry: Entry, reason: StopReason): Promise<void> {
    if (entry.stopping) return entry.stopping;
    if (entry.info.state !== 'running' || !entry.tracer) return Promise.resolve();
    const tracer = entry.tracer;
    entry.info.state = 'stopping';
    entry.info.stopReason = reason;
    if (entry.timer) clearTimeout(entry.timer);
    entry.stopping = (async () => {
      try {
        // halt: final results at once; stop: detach (slow for thousands of fentry probes) before
        // the next trace may start.
        const s = await tracer.halt();
        entry.store = { ...storeOf(tracer), raw: encodeAll(tracer.events()) };
        Object.assign(entry.info, { samples: s.samples, lost: s.lost + s.undelivered, notKept: s.notKept });
        await tracer.stop();
        entry.info.state = reason === 'error' ? 'failed' : 'done';
      } catch (e) {
        Object.assign(entry.info, { state: 'failed', error: e instanceof Error ? e.message : String(e) });
      } finally {
        entry.info.stoppedAt = new Date().toISOString();
        entry.tracer = undefined; // what is kept: the raw events (entry.store)
        if (this.active === entry.info.id) this.active = undefined;
      }
    })();
    return entry.stopping;
  }

  /** Drops the oldest finished traces beyond keepFinished. */
  private evict(): void {
    const finished = [...this.traces.values()].filter((e) => e.info.state === 'done' || e.info.state === 'failed');
    for (const e of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.traces.delete(e.info.id);
  }
}

/** Page bounds; InvalidArgumentError names the field. A limit above the cap is capped. */
function checkPage(page: PageOptions): { offset: number; limit: number } {
  const offset = page.offset ?? 0;
  const limit = Math.min(page.limit ?? MAX_PACKETS_PER_PAGE, MAX_PACKETS_PER_PAGE);
  if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError('offset', 'must be an integer ≥ 0');
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError('limit', `must be an integer between 1 and ${MAX_PACKETS_PER_PAGE}`);
  return { offset, limit };
}

function storeOf(tracer: TracerLike): EventStore {
  return {
    labels: { labels: tracer.labels, modules: tracer.targets.map((t) => t.module), gsoNames: tracer.gsoNames },
    names: tracer.targets.map((t) => t.name),
  };
}

function encodeAll(events: readonly TraceEvent[]): Buffer {
  const raw = Buffer.allocUnsafe(events.length * EVENT_SIZE);
  events.forEach((e, i) => encodeEvent(e).copy(raw, i * EVENT_SIZE));
  return raw;
}

function decodeAll(raw: Buffer): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (let o = 0; o + EVENT_SIZE <= raw.length; o += EVENT_SIZE) out.push(decodeEvent(raw.subarray(o, o + EVENT_SIZE)));
  return out;
}

function summaryOf(a: AttachSummary): Omit<AttachSummary, 'verifierLog' | 'failures'> {
  const { verifierLog: _v, failures: _f, ...rest } = a;
  return { ...rest, attachMs: Math.round(a.attachMs * 10) / 10 };
}
