// Desired state on local disk, written ahead of every kernel change, so it must be both durable
// and cheap. Two snapshot slots written alternately, each `<header line>\n<state JSON>` with a
// sequence number, length and CRC-32, and a journal of changes since the newer snapshot, records
// of the same form holding a StateDelta. A save appends the change to the journal and ends with
// one fdatasync; when the journal has grown to the size of a snapshot, the save writes a snapshot
// to the older slot instead and starts the journal over with a mark saying that snapshot is
// durable (so a later damaged slot is a refusal to start, not a silent step back). Nothing acknowledged is ever overwritten
// before a newer copy is flushed, so after a power loss at any point load() finds the last
// acknowledged state or, for a save that was cut, the one before it (docs/adr/0008).
import * as fs from 'node:fs';
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { DesiredState, emptyState, stateJson, upgradeState } from './desired-state';
import { applyDelta, diffState, isEmptyDelta, StateDelta } from './state-delta';
import { StateCorruptError, StateWriteError } from './errors';
export { StateCorruptError };

interface Header {
  seq: number;
  len: number;
  crc: number;
}

type Slot = { ok: true; seq: number; state: DesiredState; bytes: number } | { ok: false; why: string } | undefined;

/** What one save writes: a snapshot into a slot (then the journal is emptied), or a journal record. */
type Write =
  | { kind: 'snapshot'; slot: number; buf: Buffer; seq: number; state: DesiredState }
  | { kind: 'append'; buf: Buffer; seq: number; state: DesiredState }
  | { kind: 'none' };

/** One file operation of a save (see DesiredStateStore.steps); `size` answers the file's size. */
type IoStep =
  | { op: 'write'; fd: number; buf: Buffer; at: number }
  | { op: 'datasync'; fd: number }
  | { op: 'size'; fd: number }
  | { op: 'truncate'; fd: number; len: number };

export class DesiredStateStore {
  /** The two slots; `path` is the one holding the newest snapshot after load() or save(). */
  private readonly slots: [string, string];
  readonly journalPath: string;
  /** Written by agents before the slot format; read once when no slot exists yet. */
  readonly legacyPath: string;
  private seq = 0;
  private newest = 0;
  /** Slot 0, slot 1, journal. */
  private readonly fds: (number | undefined)[] = [undefined, undefined, undefined];
  /** The state as last loaded or saved: the next save writes its difference from this one. */
  private saved?: DesiredState;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private empty = false;

  constructor(
    private readonly dir: string,
    /**
     * The journal is folded into a snapshot once it would pass this size or the snapshot's,
     * whichever is larger; 0: every save is a snapshot (the journal holds only its mark).
     */
    private readonly journalMinBytes = 256 * 1024,
  ) {
    this.slots = [join(dir, 'desired-state.0'), join(dir, 'desired-state.1')];
    this.journalPath = join(dir, 'desired-state.journal');
    this.legacyPath = join(dir, 'desired-state.json');
  }

  get directory(): string {
    return this.dir;
  }

  /** Whether load() found no state at all: a new host, or a state directory lost (see Dataplane.start). */
  get foundNothing(): boolean {
    return this.empty;
  }

  get path(): string {
    return this.slots[this.newest];
  }

  load(): DesiredState {
    const read = this.slots.map((p) => readSlot(p));
    let best: { i: number; seq: number; state: DesiredState; bytes: number } | undefined;
    read.forEach((r, i) => {
      if (r?.ok && (!best || r.seq > best.seq)) best = { i, seq: r.seq, state: r.state, bytes: r.bytes };
    });
    if (!best) {
      const broken = read.map((r, i) => (r && !r.ok ? `${this.slots[i]}: ${r.why}` : '')).filter(Boolean);
      // Refuse to start from a state we cannot read rather than "reconcile" the host to empty.
      if (broken.length) throw new StateCorruptError(this.dir, broken.join('; '));
      // Records without any snapshot: the slots were removed, and what they held is lost.
      if (readRecord(readOptional(this.journalPath) ?? Buffer.alloc(0), 0))
        throw new StateCorruptError(this.dir, `${this.journalPath} holds records but no snapshot exists`);
      return this.loadLegacy();
    }
    this.seq = best.seq;
    this.newest = best.i;
    this.snapshotBytes = best.bytes;
    this.saved = this.replayJournal(best.state);
    return this.saved;
  }

  /** Writes the state (what changed since the last save) and flushes it, before returning. */
  save(state: DesiredState): void {
    const w = this.plan(state);
    const steps = this.steps(w);
    try {
      for (let r = steps.next(); !r.done; r = steps.next(runSync(r.value)));
    } catch (e) {
      this.failed(w);
      throw new StateWriteError(this.dir, e);
    }
  }

  /**
   * save() for the agent's event loop. A journal record (a job's change, a few hundred bytes) is
   * written and flushed in place: the flush itself takes ~0.1 ms, while each round trip through
   * libuv's thread pool cost up to 7 ms at p99 on a busy 2-core VM (waking an idle worker thread).
   * A snapshot (up to megabytes) goes to the thread pool, step by step, while the agent keeps
   * taking jobs from Redis. The caller must not start another save before this one resolves.
   */
  async saveAsync(state: DesiredState): Promise<void> {
    const w = this.plan(state);
    const steps = this.steps(w);
    const run = w.kind === 'snapshot' ? runOnPool : async (step: IoStep) => runSync(step);
    try {
      for (let r = steps.next(); !r.done; r = steps.next(await run(r.value)));
    } catch (e) {
      this.failed(w);
      throw new StateWriteError(this.dir, e);
    }
  }

  /**
   * A save that failed part-way (EIO, ENOSPC) may have left a complete snapshot or record with
   * its sequence number on disk, unacknowledged. Its number is used up and the next save is a
   * snapshot with a higher one, into the slot that is not known to be good: whatever landed is
   * then outranked, never replayed on top of the acknowledged state.
   */
  private failed(w: Write): void {
    if (w.kind === 'none') return;
    this.seq = Math.max(this.seq, w.seq);
    this.saved = undefined;
    this.journalBytes = Math.max(this.journalBytes, 1); // the journal may hold a torn record: emptied with that snapshot
  }

  /**
   * The writes and flushes of one save, in order; each step's result (bytes or file size) is sent
   * back in. Bookkeeping changes only once the flush that makes the write durable has returned.
   */
  private *steps(w: Write): Generator<IoStep, void, number> {
    if (w.kind === 'none') return;
    if (w.kind === 'append') {
      const fd = this.open(2);
      written(yield { op: 'write', fd, buf: w.buf, at: this.journalBytes }, w.buf);
      yield { op: 'datasync', fd };
      this.journalBytes += w.buf.length;
    } else {
      const fd = this.open(w.slot);
      written(yield { op: 'write', fd, buf: w.buf, at: 0 }, w.buf);
      if ((yield { op: 'size', fd }) > w.buf.length) yield { op: 'truncate', fd, len: w.buf.length };
      yield { op: 'datasync', fd }; // data and the size needed to read it: the one flush of the snapshot
      this.newest = w.slot;
      this.snapshotBytes = w.buf.length;
      // The journal starts over with a mark that snapshot w.seq is durable: should that slot be
      // damaged later, load() knows an acknowledged state is lost instead of taking the older slot.
      // Records left after the mark, should the truncation not land, are older and skipped.
      const j = this.open(2);
      const mark = frame(w.seq, MARK);
      written(yield { op: 'write', fd: j, buf: mark, at: 0 }, mark);
      if ((yield { op: 'size', fd: j }) > mark.length) yield { op: 'truncate', fd: j, len: mark.length };
      yield { op: 'datasync', fd: j };
      this.journalBytes = mark.length;
    }
    this.seq = w.seq;
    this.saved = w.state;
  }

  /** The journal record of the change since the last save, or a snapshot when that is due. */
  private plan(state: DesiredState): Write {
    if (this.saved) {
      if (state === this.saved) return { kind: 'none' };
      const delta = diffState(this.saved, state);
      if (isEmptyDelta(delta)) return { kind: 'none' };
      const buf = frame(this.seq + 1, Buffer.from(JSON.stringify(delta)));
      const limit = this.journalMinBytes && Math.max(this.journalMinBytes, this.snapshotBytes);
      if (this.journalBytes + buf.length <= limit) return { kind: 'append', buf, seq: this.seq + 1, state };
    }
    return { kind: 'snapshot', slot: 1 - this.newest, buf: frame(this.seq + 1, Buffer.from(stateJson(state))), seq: this.seq + 1, state };
  }

  /**
   * The snapshot with the journal's records after it applied, in sequence. A record that is
   * torn or out of sequence ends the replay (a save cut by a power loss: never acknowledged),
   * and is cut off so that appends continue after the last good record.
   */
  private replayJournal(snapshot: DesiredState): DesiredState {
    const buf = readOptional(this.journalPath);
    if (!buf) return snapshot;
    let state = snapshot;
    let at = 0;
    for (;;) {
      const rec = readRecord(buf, at);
      if (!rec) break;
      if (rec.seq > this.seq) {
        // A mark is written once its snapshot is durable, a record once the save before it was
        // acknowledged: either one beyond what the slots and records before it reach means an
        // acknowledged state is unreadable. Starting from an older one would make the startup
        // reconcile delete everything added since, so the operator decides (docs/operations.md).
        if (isMark(rec.body) || rec.seq !== this.seq + 1)
          throw new StateCorruptError(
            this.dir,
            `the journal records state #${rec.seq}${isMark(rec.body) ? ' (a snapshot)' : ''}, the readable files reach only #${this.seq}`,
          );
        state = applyDelta(state, JSON.parse(rec.body.toString()) as StateDelta);
        this.seq = rec.seq;
      }
      at = rec.end;
    }
    if (at < buf.length) {
      const fd = this.open(2);
      ftruncateSync(fd, at);
      fdatasyncSync(fd);
    }
    this.journalBytes = at;
    return checked(state);
  }

  /** Releases the files (the agent keeps them open between saves). */
  close(): void {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.fill(undefined);
  }

  /** Slot 0, slot 1 or (2) the journal, opened once and kept open. */
  private open(i: number): number {
    const have = this.fds[i];
    if (have !== undefined) return have;
    const path = i === 2 ? this.journalPath : this.slots[i];
    mkdirSync(this.dir, { recursive: true });
    let created = false;
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (e) {
      // Only a file that is not there is made; any other failure (EACCES, EMFILE, EIO) is the
      // caller's: 'w+' here truncated an existing state file.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fd = openSync(path, 'wx+', 0o600);
      created = true;
    }
    if (created) {
      // A new directory entry must itself survive a power loss: once per file, not per save.
      const dfd = openSync(this.dir, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
    this.fds[i] = fd;
    return fd;
  }

  private loadLegacy(): DesiredState {
    const buf = readOptional(this.legacyPath);
    if (!buf) {
      this.empty = true;
      return emptyState();
    }
    const text = buf.toString();
    try {
      return checked(JSON.parse(text));
    } catch (e) {
      throw new StateCorruptError(this.legacyPath, (e as Error).message);
    }
  }
}

/** `<header line>\n<body>`: the form of both snapshots and journal records (a record ends with a newline too). */
function frame(seq: number, body: Buffer): Buffer {
  const header: Header = { seq, len: body.length, crc: crc32(body) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');

/** The body of the journal's first record after a snapshot: that snapshot (its sequence number) is durable. */
const MARK = Buffer.from('{"durable":"snapshot"}');

function isMark(body: Buffer): boolean {
  return body.equals(MARK);
}

/** The checked record at `at`, or undefined where the journal ends or a record is damaged. */
function readRecord(buf: Buffer, at: number): { seq: number; body: Buffer; end: number } | undefined {
  const nl = buf.indexOf(0x0a, at);
  if (nl < 0) return undefined;
  try {
    const h = JSON.parse(buf.subarray(at, nl).toString()) as Header;
    const body = buf.subarray(nl + 1, nl + 1 + h.len);
    if (body.length !== h.len || buf[nl + 1 + h.len] !== 0x0a || crc32(body) !== h.crc) return undefined;
    return { seq: h.seq, body, end: nl + 2 + h.len };
  } catch {
    return undefined;
  }
}

/** A write that wrote less than asked (a full disk) is a failed save, not a torn file to flush. */
function written(bytes: number, buf: Buffer): void {
  if (bytes !== buf.length) throw Object.assign(new Error(`short write: ${bytes} of ${buf.length} bytes`), { code: 'EIO' });
}

function runSync(s: IoStep): number {
  switch (s.op) {
    case 'write':
      return writeSync(s.fd, s.buf, 0, s.buf.length, s.at);
    case 'datasync':
      fdatasyncSync(s.fd);
      return 0;
    case 'size':
      return fstatSync(s.fd).size;
    case 'truncate':
      ftruncateSync(s.fd, s.len);
      return 0;
  }
}

const fsp = { write: promisify(fs.write), fstat: promisify(fs.fstat), ftruncate: promisify(fs.ftruncate), fdatasync: promisify(fs.fdatasync) };

/** The same step on libuv's thread pool. */
async function runOnPool(s: IoStep): Promise<number> {
  switch (s.op) {
    case 'write':
      return (await fsp.write(s.fd, s.buf, 0, s.buf.length, s.at)).bytesWritten;
    case 'datasync':
      await fsp.fdatasync(s.fd);
      return 0;
    case 'size':
      return (await fsp.fstat(s.fd)).size;
    case 'truncate':
      await fsp.ftruncate(s.fd, s.len);
      return 0;
  }
}

function checked(s: DesiredState): DesiredState {
  if (!s || typeof s.version !== 'number' || typeof s.tenants !== 'object') throw new Error('missing version or tenants');
  return upgradeState({ ...emptyState(), ...s });
}

/** The file's bytes, or undefined if it does not exist. */
function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function readSlot(path: string): Slot {
  const buf = readOptional(path);
  if (!buf) return undefined;
  if (buf.length === 0) return undefined; // created, never completely written
  const nl = buf.indexOf(0x0a);
  try {
    if (nl < 0) throw new Error('no header line');
    const h = JSON.parse(buf.subarray(0, nl).toString()) as Header;
    // Snapshots end with a newline since the journal came; older ones do not.
    const body = buf.subarray(nl + 1, nl + 1 + h.len);
    const rest = buf.length - (nl + 1 + h.len);
    if (body.length !== h.len || rest < 0 || rest > 1) throw new Error(`${buf.length - nl - 1} bytes, header says ${h.len}`);
    if (crc32(body) !== h.crc) throw new Error('checksum mismatch');
    return { ok: true, seq: h.seq, state: checked(JSON.parse(body.toString())), bytes: buf.length };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}
