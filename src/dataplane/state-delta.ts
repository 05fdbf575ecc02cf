// What changed between two desired states, as a small JSON record for the state store's journal.
// States are immutable and share every part a transition did not touch, so "changed" is decided
// by identity first: a job about one tenant on a hypervisor of 50k routes yields that tenant's
// text, the version, and the nexthop ids that came or went.
import type { DesiredState } from './desired-state';

/** Top-level fields diffed key by key (records); every other field is carried whole when it changed. */
const RECORDS = ['tenants', 'nexthops', 'originalMtu', 'originalSysctl'] as const;

export interface StateDelta {
  /** Fields replaced whole (a value of null: the field is gone). */
  set: Record<string, unknown>;
  /** Record fields changed key by key (a value of null: the key is gone). */
  keys: Record<string, Record<string, unknown>>;
}

export function diffState(prev: DesiredState, next: DesiredState): StateDelta {
  const d: StateDelta = { set: {}, keys: {} };
  const a = prev as unknown as Record<string, unknown>;
  const b = next as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[k] === b[k]) continue;
    if ((RECORDS as readonly string[]).includes(k) && isRecord(a[k]) && isRecord(b[k])) {
      const x = a[k] as Record<string, unknown>;
      const y = b[k] as Record<string, unknown>;
      const changed: Record<string, unknown> = {};
      for (const kk of Object.keys(x)) if (!(kk in y)) changed[kk] = null;
      for (const [kk, v] of Object.entries(y)) if (x[kk] !== v) changed[kk] = v;
      if (Object.keys(changed).length) d.keys[k] = changed;
    } else if (b[k] === undefined) {
      if (a[k] !== undefined) d.set[k] = null;
    } else if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) d.set[k] = b[k];
  }
  return d;
}

export function isEmptyDelta(d: StateDelta): boolean {
  return !Object.keys(d.set).length && !Object.keys(d.keys).length;
}

/** `prev` with `d` applied; `prev` is left as it is. */
export function applyDelta(prev: DesiredState, d: StateDelta): DesiredState {
  const s = { ...prev } as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(d.set)) {
    if (v === null) delete s[k];
    else s[k] = v;
  }
  for (const [k, changes] of Object.entries(d.keys)) {
    const rec = { ...((s[k] as Record<string, unknown>) ?? {}) };
    for (const [kk, v] of Object.entries(changes)) {
      if (v === null) delete rec[kk];
      else rec[kk] = v;
    }
    s[k] = rec;
  }
  return s as unknown as DesiredState;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
