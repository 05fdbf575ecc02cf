// Desired state on local disk, written ahead of every kernel change, so it must be both durable
// and cheap: two slot files written alternately, each `<header line>\n<state JSON>` with a
// sequence number, length and CRC-32. A save overwrites the older slot and ends with one
// fdatasync; the newer slot is never touched, so after a power loss at any point load() finds
// either the new state (complete and checksummed) or the previous one — never a mix. Against
// write-temp + fsync + rename + fsync-directory this is one flush instead of two, no rename and no
// directory update per job (measured: 1.9 ms → see docs/adr/0008).
import * as fs from 'node:fs';
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { DesiredState, emptyState } from './desired-state';

export class StateCorruptError extends Error {
  constructor(
    readonly path: string,
    cause: string,
  ) {
    super(`desired state ${path} is unreadable: ${cause}`);
    this.name = 'StateCorruptError';
  }
}

interface Header {
  seq: number;
  len: number;
  crc: number;
}

type Slot = { ok: true; seq: number; state: DesiredState } | { ok: false; why: string } | undefined;

export class DesiredStateStore {
  /** The two slots; `path` is the one holding the newest state after load() or save(). */
  private readonly slots: [string, string];
  /** Written by agents before the slot format; read once when no slot exists yet. */
  readonly legacyPath: string;
  private seq = 0;
  private newest = 0;
  private readonly fds: (number | undefined)[] = [undefined, undefined];

  constructor(private readonly dir: string) {
    this.slots = [join(dir, 'desired-state.0'), join(dir, 'desired-state.1')];
    this.legacyPath = join(dir, 'desired-state.json');
  }

  get path(): string {
    return this.slots[this.newest];
  }

  load(): DesiredState {
    const read = this.slots.map((p) => readSlot(p));
    let best: { i: number; seq: number; state: DesiredState } | undefined;
    read.forEach((r, i) => {
      if (r?.ok && (!best || r.seq > best.seq)) best = { i, seq: r.seq, state: r.state };
    });
    if (best) {
      this.seq = best.seq;
      this.newest = best.i;
      return best.state;
    }
    const broken = read.map((r, i) => (r && !r.ok ? `${this.slots[i]}: ${r.why}` : '')).filter(Boolean);
    // Refuse to start from a state we cannot read rather than "reconcile" the host to empty.
    if (broken.length) throw new StateCorruptError(this.dir, broken.join('; '));
    return this.loadLegacy();
  }

  /** `json`: the state's JSON when the caller has it already (it must be JSON.stringify(state)). */
  save(state: DesiredState, json?: string): void {
    const { buf, seq, i } = this.frame(state, json);
    const fd = this.open(i);
    writeSync(fd, buf, 0, buf.length, 0);
    if (fstatSync(fd).size > buf.length) ftruncateSync(fd, buf.length);
    fdatasyncSync(fd); // data and the size needed to read it: the one flush per save
    this.seq = seq;
    this.newest = i;
  }

  /**
   * save() with the write and the flush on libuv's thread pool: the flush takes 0.1–25 ms (a
   * journal commit), during which the agent keeps taking jobs from Redis. The caller must not
   * start another save before this one resolves.
   */
  async saveAsync(state: DesiredState, json?: string): Promise<void> {
    const { buf, seq, i } = this.frame(state, json);
    const fd = this.open(i);
    await fsp.write(fd, buf, 0, buf.length, 0);
    if ((await fsp.fstat(fd)).size > buf.length) await fsp.ftruncate(fd, buf.length);
    await fsp.fdatasync(fd);
    this.seq = seq;
    this.newest = i;
  }

  /** The slot image of a state and the slot it goes to (the older one). */
  private frame(state: DesiredState, json?: string): { buf: Buffer; seq: number; i: number } {
    const body = Buffer.from(json ?? JSON.stringify(state));
    const header: Header = { seq: this.seq + 1, len: body.length, crc: crc32(body) };
    return { buf: Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]), seq: header.seq, i: 1 - this.newest };
  }

  /** Releases the slot files (the agent keeps them open between saves). */
  close(): void {
    for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
    this.fds.fill(undefined);
  }

  private open(i: number): number {
    const have = this.fds[i];
    if (have !== undefined) return have;
    mkdirSync(this.dir, { recursive: true });
    let created = false;
    let fd: number;
    try {
      fd = openSync(this.slots[i], 'r+');
    } catch {
      fd = openSync(this.slots[i], 'w+', 0o600);
      created = true;
    }
    if (created) {
      // A new directory entry must itself survive a power loss: once per slot, not per save.
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
    let text: string;
    try {
      text = readFileSync(this.legacyPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw e;
    }
    try {
      return checked(JSON.parse(text));
    } catch (e) {
      throw new StateCorruptError(this.legacyPath, (e as Error).message);
    }
  }
}

/** The fd-based calls save() makes, on the thread pool. */
const fsp = {
  write: promisify(fs.write),
  fstat: promisify(fs.fstat),
  ftruncate: promisify(fs.ftruncate),
  fdatasync: promisify(fs.fdatasync),
};

function checked(s: DesiredState): DesiredState {
  if (!s || typeof s.version !== 'number' || typeof s.tenants !== 'object') throw new Error('missing version or tenants');
  return { ...emptyState(), ...s };
}

function readSlot(path: string): Slot {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (buf.length === 0) return undefined; // created, never completely written
  const nl = buf.indexOf(0x0a);
  try {
    if (nl < 0) throw new Error('no header line');
    const h = JSON.parse(buf.subarray(0, nl).toString()) as Header;
    const body = buf.subarray(nl + 1);
    if (body.length !== h.len) throw new Error(`${body.length} bytes, header says ${h.len}`);
    if (crc32(body) !== h.crc) throw new Error('checksum mismatch');
    return { ok: true, seq: h.seq, state: checked(JSON.parse(body.toString())) };
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
}
