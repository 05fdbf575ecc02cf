// Traces for the agent's REST API (POST /v1/traces, GET /v1/traces/:id, POST /v1/traces/:id/stop,
// GET /v1/traces): a plain class, Nest-free, testable with a fake tracer.
//
// - One trace at a time: a second start while one is starting, running or stopping is
//   TraceBusyError (HTTP 409). Attaching thousands of probes twice would double the overhead
//   on every packet of the host, and the backend probes would see each other.
// - Bounded memory: a trace keeps at most `maxEvents` events (request, capped by the service);
//   received events beyond that are counted (`notKept`), never silently dropped. Finished traces
//   keep their packets (already formatted) and only the last `keepFinished` are kept.
// - Every trace ends: by its duration (default 10 s, capped), its event limit, stop(), or the
//   service's shutdown() (wire it to onModuleDestroy / SIGTERM).
import { randomUUID } from 'node:crypto';

import { InvalidArgumentError } from '../netlink/errors';
import { Backend, BACKENDS, TP_MODE_NOTE, TraceType, selectionSummary } from './backend';
import type { TraceEvent } from './event';
import { eventRecord, Labels } from './format';
import { parseU32 } from './ipft-args';
import type { Packet } from './packets';
import { AttachSummary, Tracer, TraceOptions, TraceSummary } from './tracer';

export class TraceBusyError extends Error {
  override readonly name = 'TraceBusyError';
  constructor(readonly running: string) {
    super(`trace ${running} is still running: stop it first (one trace at a time)`);
  }
}

export class TraceNotFoundError extends Error {
  override readonly name = 'TraceNotFoundError';
  constructor(readonly id: string) {
    super(`no trace ${id}`);
  }
}

export interface TraceRequest {
  /** Number, or a string in hex (0x…) or decimal. */
  mark: number | string;
  mask?: number | string;
  regex?: string;
  backend?: Backend;
  type?: TraceType;
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
  request: Required<Pick<TraceRequest, 'durationMs' | 'limit'>> & { mark: string; mask: string } & Omit<TraceRequest, 'mark' | 'mask' | 'durationMs' | 'limit'>;
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
  /** Packets so far (running) or final (done), events in timestamp order. */
  packets: TracePacket[];
}

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
  packets(): Packet[];
  halt(): Promise<TraceSummary>;
  stop(): Promise<TraceSummary>;
}

export interface TraceServiceOptions {
  /** Starts a tracer (default Tracer.start). */
  startTracer?: (opts: TraceOptions) => Promise<TracerLike>;
  /** Cap (and default) of events kept per trace; default 50 000. */
  maxEvents?: number;
  /** Cap of a trace's duration; default 600 000 ms. */
  maxDurationMs?: number;
  /** Finished traces kept for GET; default 4. */
  keepFinished?: number;
}

interface Entry {
  info: TraceInfo;
  /** Aborts attaching (shutdown while starting). */
  abort: AbortController;
  tracer?: TracerLike;
  timer?: NodeJS.Timeout;
  packets?: TracePacket[];
  stopping?: Promise<void>;
}

const MAX_PACKETS_PER_RESPONSE = 10_000;

export class TraceService {
  private readonly traces = new Map<string, Entry>();
  private readonly startTracer: (opts: TraceOptions) => Promise<TracerLike>;
  readonly maxEvents: number;
  readonly maxDurationMs: number;
  private readonly keepFinished: number;
  private active?: string;

  constructor(opts: TraceServiceOptions = {}) {
    this.startTracer = opts.startTracer ?? ((o) => Tracer.start(o));
    this.maxEvents = opts.maxEvents ?? 50_000;
    this.maxDurationMs = opts.maxDurationMs ?? 600_000;
    this.keepFinished = opts.keepFinished ?? 4;
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
      try {
        new RegExp(req.regex);
      } catch (e) {
        throw new InvalidArgumentError('regex', (e as Error).message);
      }
    }
    if (req.backend !== undefined && !(BACKENDS as readonly string[]).includes(req.backend))
      throw new InvalidArgumentError('backend', `must be one of ${BACKENDS.join(', ')}`);
    if (req.type !== undefined && req.type !== 'function' && req.type !== 'function_graph')
      throw new InvalidArgumentError('type', 'must be function or function_graph');
    for (const f of ['netnsInode', 'ifindex'] as const)
      if (req[f] !== undefined && (!Number.isInteger(req[f]) || req[f]! < 0 || req[f]! > 0xffffffff)) throw new InvalidArgumentError(f, 'must be a 32-bit unsigned integer');
    const durationMs = req.durationMs ?? 10_000;
    if (!Number.isInteger(durationMs) || durationMs < 1 || durationMs > this.maxDurationMs)
      throw new InvalidArgumentError('durationMs', `must be an integer between 1 and ${this.maxDurationMs}`);
    const limit = req.limit ?? this.maxEvents;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.maxEvents) throw new InvalidArgumentError('limit', `must be an integer between 1 and ${this.maxEvents}`);
    const out: TraceInfo['request'] = { mark: `0x${mark.toString(16)}`, mask: `0x${mask.toString(16)}`, durationMs, limit };
    for (const f of ['regex', 'backend', 'type', 'netnsInode', 'ifindex'] as const) if (req[f] !== undefined) (out as Record<string, unknown>)[f] = req[f];
    return out;
  }

  /** Starts a trace; resolves once every probe is attached (state running) or the start failed
   *  (state failed, with the error; the error is thrown as well). */
  async start(req: TraceRequest): Promise<TraceInfo> {
    const request = this.normalize(req);
    if (this.active) throw new TraceBusyError(this.active);
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

  /** A trace with its packets (a running one: what was received so far). */
  get(id: string): TraceResult {
    const entry = this.traces.get(id);
    if (!entry) throw new TraceNotFoundError(id);
    const info = { ...entry.info };
    if (entry.tracer && entry.info.state === 'running') info.samples = entry.tracer.samples;
    return { ...info, packets: entry.packets ?? (entry.tracer ? this.format(entry.tracer) : []) };
  }

  /** Every trace kept, newest first, without packets. */
  list(): TraceInfo[] {
    return [...this.traces.values()].map((e) => ({ ...e.info })).reverse();
  }

  /** Stops a running trace (idempotent for finished ones) and returns its result. */
  async stop(id: string): Promise<TraceResult> {
    const entry = this.traces.get(id);
    if (!entry) throw new TraceNotFoundError(id);
    await this.finish(entry, 'stopped');
    return this.get(id);
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
        entry.packets = this.format(tracer);
        Object.assign(entry.info, { samples: s.samples, lost: s.lost + s.undelivered, notKept: s.notKept });
        await tracer.stop();
        entry.info.state = reason === 'error' ? 'failed' : 'done';
      } catch (e) {
        Object.assign(entry.info, { state: 'failed', error: e instanceof Error ? e.message : String(e) });
      } finally {
        entry.info.stoppedAt = new Date().toISOString();
        entry.tracer = undefined; // the kept result is the formatted packets only
        if (this.active === entry.info.id) this.active = undefined;
      }
    })();
    return entry.stopping;
  }

  private format(tracer: TracerLike): TracePacket[] {
    const labels: Labels = { labels: tracer.labels, modules: tracer.targets.map((t) => t.module), gsoNames: tracer.gsoNames };
    return tracer
      .packets()
      .slice(0, MAX_PACKETS_PER_RESPONSE)
      .map((p) => ({ id: p.id, skb: `0x${p.skb.toString(16)}`, events: p.events.map((e: TraceEvent) => eventRecord(e, p.id, labels)) }));
  }

  /** Drops the oldest finished traces beyond keepFinished. */
  private evict(): void {
    const finished = [...this.traces.values()].filter((e) => e.info.state === 'done' || e.info.state === 'failed');
    for (const e of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) this.traces.delete(e.info.id);
  }
}

function summaryOf(a: AttachSummary): Omit<AttachSummary, 'verifierLog' | 'failures'> {
  const { verifierLog: _v, failures: _f, ...rest } = a;
  return rest;
}
