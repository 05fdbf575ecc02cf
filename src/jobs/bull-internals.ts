// The parts of a Bull 4 queue the agent relies on beyond Bull's typings, in one place: its Redis
// keys (the active list's pop order, the finished sets compaction trims), its lock token and
// duration, and the subscription promise of its global events. A Bull update that renames any
// of them fails here, by name, when a queue is opened (bull-internals.kernel.ts checks each one
// against a real queue), instead of as a job stuck in a gate or a completion never heard.
import type Bull from 'bull';

export type BullKey = 'active' | 'wait' | 'paused' | 'meta-paused' | 'completed' | 'failed';

export interface BullInternals {
  /** Redis key of each list or set of the queue. */
  key(name: BullKey): string;
  /** The queue's lock token (Bull's own reprocess script takes it). */
  readonly token: string;
  /** Redis key of one job's hash. */
  jobKey(id: string): string;
  /** How long a job's lock lasts without renewal (ms). */
  readonly lockDurationMs: number;
  /** Resolves once Redis confirms the subscription to a global event. */
  registerEvent(event: 'global:completed' | 'global:failed'): Promise<unknown>;
}

/** What Bull 4's Queue holds beyond its typings (see bull/lib/queue.js). */
interface RawQueue {
  keys?: Partial<Record<BullKey, string>>;
  token?: string;
  toKey?: (id: string) => string;
  settings?: { lockDuration?: number };
  _registerEvent?: (event: string) => Promise<unknown>;
}

export class BullInternalsError extends Error {
  constructor(what: string) {
    super(`this Bull version has no ${what}: src/jobs/bull-internals.ts needs an update`);
    this.name = 'BullInternalsError';
  }
}

/** The internals of `queue`, each checked now: a missing one throws BullInternalsError naming it. */
export function bullInternals(queue: Bull.Queue): BullInternals {
  const q = queue as unknown as RawQueue;
  const keys = q.keys;
  for (const k of ['active', 'wait', 'paused', 'meta-paused', 'completed', 'failed'] as const)
    if (typeof keys?.[k] !== 'string') throw new BullInternalsError(`queue.keys['${k}']`);
  if (typeof q.token !== 'string') throw new BullInternalsError('queue.token');
  if (typeof q.toKey !== 'function') throw new BullInternalsError('queue.toKey()');
  if (typeof q._registerEvent !== 'function') throw new BullInternalsError('queue._registerEvent()');
  const toKey = q.toKey.bind(queue);
  const register = q._registerEvent.bind(queue);
  return {
    key: (name) => keys![name]!,
    token: q.token,
    jobKey: (id) => toKey(id),
    lockDurationMs: q.settings?.lockDuration ?? 30_000,
    registerEvent: (event) => register(event),
  };
}
