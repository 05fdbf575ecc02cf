// Netlink attributes (struct nlattr): a growable writer with typed puts and nesting, and a
// bounds-checked reader. Alignment is 4 bytes; lengths exclude padding.
import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants';
import { NetlinkDecodeError } from './errors';

const align4 = (n: number) => (n + 3) & ~3;

// Requests are built in one reusable scratch area and copied out once at finish(): encoding is on
// the hot path of route programming (tens of thousands of requests per reconcile).
let scratch = Buffer.allocUnsafe(64 * 1024);
let scratchBusy = false;
let releaseScheduled = false;

// Encoding is synchronous, so once the current task ends no writer can still be using the scratch
// area: a writer abandoned by an exception (validation) is released then.
function takeScratch(): boolean {
  if (scratchBusy) return false;
  scratchBusy = true;
  if (!releaseScheduled) {
    releaseScheduled = true;
    queueMicrotask(() => {
      scratchBusy = false;
      releaseScheduled = false;
    });
  }
  return true;
}

export class AttrWriter {
  private buf: Buffer;
  private len = 0;
  private ownsScratch = false;

  constructor(initial = 256) {
    if (initial <= scratch.length && takeScratch()) {
      this.ownsScratch = true;
      this.buf = scratch;
    } else {
      this.buf = Buffer.allocUnsafe(initial);
    }
  }

  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      if (this.ownsScratch) scratch = next;
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    // Padding and reserved header bytes must be zero: the scratch area holds old requests.
    this.buf.fill(0, at, at + n);
    return at;
  }

  /** Raw fixed-size header bytes (ifinfomsg, rtmsg, ...) at the current position. */
  header(bytes: Buffer): this {
    const at = this.reserve(align4(bytes.length));
    bytes.copy(this.buf, at);
    return this;
  }

  bytes(type: number, data: Uint8Array): this {
    const at = this.reserve(align4(4 + data.length));
    this.buf.writeUInt16LE(4 + data.length, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.set(data, at + 4);
    return this;
  }

  u8(type: number, v: number): this {
    return this.bytes(type, Uint8Array.of(v));
  }

  private fixed(type: number, size: number): number {
    const at = this.reserve(align4(4 + size));
    this.buf.writeUInt16LE(4 + size, at);
    this.buf.writeUInt16LE(type, at + 2);
    return at + 4;
  }

  u16(type: number, v: number): this {
    this.buf.writeUInt16LE(v, this.fixed(type, 2));
    return this;
  }

  u32(type: number, v: number): this {
    this.buf.writeUInt32LE(v >>> 0, this.fixed(type, 4));
    return this;
  }

  s32(type: number, v: number): this {
    this.buf.writeInt32LE(v, this.fixed(type, 4));
    return this;
  }

  u64(type: number, v: bigint): this {
    this.buf.writeBigUInt64LE(v, this.fixed(type, 8));
    return this;
  }

  /** NUL-terminated string, as the kernel's NLA_STRING/NLA_NUL_STRING policies expect. */
  string(type: number, s: string): this {
    return this.bytes(type, Buffer.from(`${s}\0`, 'utf8'));
  }

  flag(type: number): this {
    return this.bytes(type, new Uint8Array(0));
  }

  /** A nested attribute; `nestedFlag` sets NLA_F_NESTED as iproute2's rta_nest does. */
  nested(type: number, fill: (w: AttrWriter) => void, nestedFlag = true): this {
    const at = this.reserve(4);
    fill(this);
    this.buf.writeUInt16LE(this.len - at, at);
    this.buf.writeUInt16LE(type | (nestedFlag ? NLA_F_NESTED : 0), at + 2);
    return this;
  }

  /** A region whose length is patched afterwards (rtnexthop in RTA_MULTIPATH). */
  lengthPrefixed(fill: (w: AttrWriter) => void, writeLen: (buf: Buffer, at: number, len: number) => void): this {
    const at = this.len;
    fill(this);
    writeLen(this.buf, at, this.len - at);
    return this;
  }

  get length(): number {
    return this.len;
  }

  /** The encoded bytes, copied out of the scratch area. The writer must not be used afterwards. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    if (this.ownsScratch) {
      scratchBusy = false;
      this.ownsScratch = false;
    }
    return out;
  }
}

export interface Attr {
  type: number;
  nested: boolean;
  data: Buffer;
}

/**
 * Parses a run of attributes. Truncated or overlong attributes throw NetlinkDecodeError.
 * Only offsets are recorded (no object or Buffer view per attribute): dumps of tens of thousands
 * of routes decode without feeding the garbage collector.
 */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Attrs {
  if (start < 0 || end > buf.length || start > end) throw new NetlinkDecodeError(`attribute range ${start}..${end} outside ${buf.length} bytes`);
  const a = new Attrs(buf);
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > end) throw new NetlinkDecodeError(`attribute type ${rawType & NLA_TYPE_MASK} has bad length ${len} at offset ${off}`);
    a.add(rawType, off + 4, len - 4);
    off += align4(len);
  }
  if (off < end && end - off >= 4) throw new NetlinkDecodeError(`trailing bytes after attributes at offset ${off}`);
  return a;
}

/** Typed access to parsed attributes; getters check sizes and throw NetlinkDecodeError. */
export class Attrs {
  // Indexed by attribute type: offset of the payload in buf, and its length (the last one wins).
  private readonly offs: number[] = [];
  private readonly lens: number[] = [];
  private readonly raws: number[] = [];

  constructor(private readonly buf: Buffer) {}

  /** @internal */
  add(rawType: number, off: number, len: number): void {
    const type = rawType & NLA_TYPE_MASK;
    this.offs[type] = off;
    this.lens[type] = len;
    this.raws.push(rawType, off, len);
  }

  /** Every attribute in order (duplicates included), for generic walkers. */
  get list(): Attr[] {
    const out: Attr[] = [];
    for (let i = 0; i < this.raws.length; i += 3) {
      const raw = this.raws[i];
      out.push({
        type: raw & NLA_TYPE_MASK,
        nested: (raw & NLA_F_NESTED) !== 0,
        data: this.buf.subarray(this.raws[i + 1], this.raws[i + 1] + this.raws[i + 2]),
      });
    }
    return out;
  }

  has(type: number): boolean {
    return this.offs[type] !== undefined;
  }

  raw(type: number): Buffer | undefined {
    const off = this.offs[type];
    return off === undefined ? undefined : this.buf.subarray(off, off + this.lens[type]);
  }

  private at(type: number, size: number): number | undefined {
    const off = this.offs[type];
    if (off !== undefined && this.lens[type] < size) throw new NetlinkDecodeError(`attribute ${type}: ${this.lens[type]} bytes, expected ${size}`);
    return off;
  }

  u8(type: number): number | undefined {
    const off = this.at(type, 1);
    return off === undefined ? undefined : this.buf[off];
  }

  u16(type: number): number | undefined {
    const off = this.at(type, 2);
    return off === undefined ? undefined : this.buf.readUInt16LE(off);
  }

  u32(type: number): number | undefined {
    const off = this.at(type, 4);
    return off === undefined ? undefined : this.buf.readUInt32LE(off);
  }

  s32(type: number): number | undefined {
    const off = this.at(type, 4);
    return off === undefined ? undefined : this.buf.readInt32LE(off);
  }

  u64(type: number): bigint | undefined {
    const off = this.at(type, 8);
    return off === undefined ? undefined : this.buf.readBigUInt64LE(off);
  }

  string(type: number): string | undefined {
    const off = this.offs[type];
    if (off === undefined) return undefined;
    const end = off + this.lens[type];
    const nul = this.buf.indexOf(0, off);
    return this.buf.toString('utf8', off, nul < 0 || nul > end ? end : nul);
  }

  nested(type: number): Attrs | undefined {
    const off = this.offs[type];
    return off === undefined ? undefined : parseAttrs(this.buf, off, off + this.lens[type]);
  }
}
