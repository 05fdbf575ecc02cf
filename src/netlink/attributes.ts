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

/** Parses a run of attributes. Truncated or overlong attributes throw NetlinkDecodeError. */
export function parseAttrs(buf: Buffer, start = 0, end = buf.length): Attrs {
  if (start < 0 || end > buf.length || start > end) throw new NetlinkDecodeError(`attribute range ${start}..${end} outside ${buf.length} bytes`);
  const list: Attr[] = [];
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > end) throw new NetlinkDecodeError(`attribute type ${rawType & NLA_TYPE_MASK} has bad length ${len} at offset ${off}`);
    list.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  if (off < end && end - off >= 4) throw new NetlinkDecodeError(`trailing bytes after attributes at offset ${off}`);
  return new Attrs(list);
}

/** Typed access to parsed attributes; getters check sizes and throw NetlinkDecodeError. */
export class Attrs {
  private readonly byType = new Map<number, Attr>();

  constructor(readonly list: Attr[]) {
    for (const a of list) this.byType.set(a.type, a);
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  raw(type: number): Buffer | undefined {
    return this.byType.get(type)?.data;
  }

  private sized(type: number, size: number): Buffer | undefined {
    const d = this.byType.get(type)?.data;
    if (d && d.length < size) throw new NetlinkDecodeError(`attribute ${type}: ${d.length} bytes, expected ${size}`);
    return d;
  }

  u8(type: number): number | undefined {
    return this.sized(type, 1)?.readUInt8(0);
  }

  u16(type: number): number | undefined {
    return this.sized(type, 2)?.readUInt16LE(0);
  }

  u32(type: number): number | undefined {
    return this.sized(type, 4)?.readUInt32LE(0);
  }

  s32(type: number): number | undefined {
    return this.sized(type, 4)?.readInt32LE(0);
  }

  u64(type: number): bigint | undefined {
    return this.sized(type, 8)?.readBigUInt64LE(0);
  }

  string(type: number): string | undefined {
    const d = this.byType.get(type)?.data;
    if (!d) return undefined;
    const nul = d.indexOf(0);
    return d.toString('utf8', 0, nul < 0 ? d.length : nul);
  }

  nested(type: number): Attrs | undefined {
    const d = this.byType.get(type)?.data;
    return d ? parseAttrs(d) : undefined;
  }
}
