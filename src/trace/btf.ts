// A reader for the kernel's BTF (/sys/kernel/btf/vmlinux and the split BTF of modules in
// /sys/kernel/btf/<module>), enough for the tracer's target discovery: kinds, names, FUNC →
// FUNC_PROTO parameters, typedef/modifier chains, struct sizes and members, arrays and enum values;
// and the BTF of a BPF object file (src/xdp/layout-btf.spec.ts checks the XDP layouts with it).
//
// Format (include/uapi/linux/btf.h): a header {magic 0xeB9F, version, flags, hdr_len, type_off,
// type_len, str_off, str_len}, a type section of variable-length records (btf_type + kind data)
// and a string section. Type ids start at 1 (0 is void); a split BTF continues the ids and the
// string offsets of its base. Records are read in place: parsing the 5 MB vmlinux BTF only indexes
// record offsets (one Uint32Array), strings are decoded when asked for.

export const BTF_MAGIC = 0xeb9f;

export enum BtfKind {
  Unknown = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

export class BtfFormatError extends Error {
  override readonly name = 'BtfFormatError';
}

export interface BtfParam {
  name: string;
  /** Type id; 0 with an empty name as the last parameter means varargs. */
  type: number;
}

export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Width of a bitfield member; 0 for an ordinary one. */
  bitfieldSize: number;
}

export interface BtfArray {
  type: number;
  indexType: number;
  nelems: number;
}

export interface BtfEnumValue {
  name: string;
  /** The value as an unsigned number (ENUM values are stored as 32 bits, ENUM64 as 64). */
  value: bigint;
}

const HDR_MIN = 24;
const TYPE_HDR = 12;

/** Bytes that follow the 12-byte btf_type record for each kind. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      return 4;
    case BtfKind.Array:
      return 12;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Datasec:
    case BtfKind.Enum64:
      return 12 * vlen;
    case BtfKind.Enum:
    case BtfKind.FuncProto:
      return 8 * vlen;
    case BtfKind.Ptr:
    case BtfKind.Fwd:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.Func:
    case BtfKind.Float:
    case BtfKind.TypeTag:
      return 0;
    default:
      return -1;
  }
}

export class Btf {
  /** First type id described by this BTF: 1, or the base's typeCount for split BTF. */
  readonly startId: number;
  private readonly view: DataView;
  private readonly typesStart: number;
  private readonly strStart: number;
  private readonly strLen: number;
  private readonly offsets: Uint32Array; // record offset (into buf) of type startId + i
  private byName?: Map<string, number[]>;

  private constructor(
    private readonly buf: Buffer,
    readonly base: Btf | undefined,
  ) {
    if (buf.length < HDR_MIN) throw new BtfFormatError(`BTF too short (${buf.length} bytes)`);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const magic = this.view.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      if (this.view.getUint16(0, false) === BTF_MAGIC) throw new BtfFormatError('big-endian BTF is not supported');
      throw new BtfFormatError(`bad BTF magic 0x${magic.toString(16)}`);
    }
    const hdrLen = this.view.getUint32(4, true);
    const typeOff = this.view.getUint32(8, true);
    const typeLen = this.view.getUint32(12, true);
    const strOff = this.view.getUint32(16, true);
    const strLen = this.view.getUint32(20, true);
    if (hdrLen < HDR_MIN) throw new BtfFormatError(`bad BTF header length ${hdrLen}`);
    this.typesStart = hdrLen + typeOff;
    this.strStart = hdrLen + strOff;
    this.strLen = strLen;
    const typesEnd = this.typesStart + typeLen;
    if (typesEnd > buf.length || this.strStart + strLen > buf.length) throw new BtfFormatError('BTF sections extend past the end of the data');
    this.startId = base ? base.typeCount : 1;

    // Index the records: one pass, no allocation per type.
    let offs = new Uint32Array(Math.max(16, typeLen >> 4));
    let n = 0;
    let p = this.typesStart;
    while (p < typesEnd) {
      if (p + TYPE_HDR > typesEnd) throw new BtfFormatError(`truncated type record at offset ${p}`);
      const info = this.view.getUint32(p + 4, true);
      const kind = (info >>> 24) & 0x1f;
      const extra = extraBytes(kind, info & 0xffff);
      if (extra < 0) throw new BtfFormatError(`unknown BTF kind ${kind} (type id ${this.startId + n})`);
      if (n === offs.length) {
        const grown = new Uint32Array(offs.length * 2);
        grown.set(offs);
        offs = grown;
      }
      offs[n++] = p;
      p += TYPE_HDR + extra;
    }
    if (p !== typesEnd) throw new BtfFormatError('type section length mismatch');
    this.offsets = offs.subarray(0, n);
  }

  /** Parses base BTF (vmlinux) or, with `base`, a module's split BTF. */
  static parse(buf: Buffer, base?: Btf): Btf {
    return new Btf(buf, base);
  }

  /** One past the last type id (the ids of a split BTF on top of this one start here). */
  get typeCount(): number {
    return this.startId + this.offsets.length;
  }

  /** The BTF that describes `id` (this one or a base), and the record's offset in it. */
  private rec(id: number): [Btf, number] {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let b: Btf | undefined = this;
    while (b && id < b.startId) b = b.base;
    if (!b || id <= 0 || id >= b.typeCount) throw new RangeError(`BTF type id ${id} out of range`);
    return [b, b.offsets[id - b.startId]];
  }

  /** A string by offset; offsets past the base's string section belong to this (split) BTF. */
  str(off: number): string {
    if (this.base) {
      if (off < this.base.totalStrLen) return this.base.str(off);
      off -= this.base.totalStrLen;
    }
    if (off >= this.strLen) throw new RangeError(`BTF string offset ${off} out of range`);
    const start = this.strStart + off;
    const end = this.buf.indexOf(0, start);
    return this.buf.toString('latin1', start, end < 0 || end > this.strStart + this.strLen ? this.strStart + this.strLen : end);
  }

  private get totalStrLen(): number {
    return (this.base?.totalStrLen ?? 0) + this.strLen;
  }

  kind(id: number): BtfKind {
    if (id === 0) return BtfKind.Unknown;
    const [b, o] = this.rec(id);
    return ((b.view.getUint32(o + 4, true) >>> 24) & 0x1f) as BtfKind;
  }

  vlen(id: number): number {
    const [b, o] = this.rec(id);
    return b.view.getUint32(o + 4, true) & 0xffff;
  }

  kindFlag(id: number): boolean {
    const [b, o] = this.rec(id);
    return b.view.getUint32(o + 4, true) >>> 31 === 1;
  }

  name(id: number): string {
    if (id === 0) return 'void';
    const [b, o] = this.rec(id);
    return this.str(b.view.getUint32(o, true));
  }

  /** The size/type union: a size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, a type id otherwise. */
  sizeOrType(id: number): number {
    const [b, o] = this.rec(id);
    return b.view.getUint32(o + 8, true);
  }

  /** FUNC_PROTO parameters. */
  params(protoId: number): BtfParam[] {
    this.expect(protoId, BtfKind.FuncProto);
    const [b, o] = this.rec(protoId);
    const out: BtfParam[] = [];
    for (let i = 0, n = this.vlen(protoId); i < n; i++) {
      const p = o + TYPE_HDR + 8 * i;
      out.push({ name: this.str(b.view.getUint32(p, true)), type: b.view.getUint32(p + 4, true) });
    }
    return out;
  }

  /** STRUCT or UNION members. */
  members(id: number): BtfMember[] {
    const kind = this.kind(id);
    if (kind !== BtfKind.Struct && kind !== BtfKind.Union) throw new BtfFormatError(`type ${id} is ${BtfKind[kind]}, not a struct or union`);
    const [b, o] = this.rec(id);
    const bitfields = this.kindFlag(id); // offsets then pack the bitfield size in their top byte
    const out: BtfMember[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) {
      const p = o + TYPE_HDR + 12 * i;
      const off = b.view.getUint32(p + 8, true);
      out.push({
        name: this.str(b.view.getUint32(p, true)),
        type: b.view.getUint32(p + 4, true),
        bitOffset: bitfields ? off & 0xffffff : off,
        bitfieldSize: bitfields ? off >>> 24 : 0,
      });
    }
    return out;
  }

  /** ARRAY element type, index type and element count. */
  array(id: number): BtfArray {
    this.expect(id, BtfKind.Array);
    const [b, o] = this.rec(id);
    const p = o + TYPE_HDR;
    return { type: b.view.getUint32(p, true), indexType: b.view.getUint32(p + 4, true), nelems: b.view.getUint32(p + 8, true) };
  }

  /** ENUM or ENUM64 members, values unsigned. */
  enumValues(id: number): BtfEnumValue[] {
    const kind = this.kind(id);
    const [b, o] = this.rec(id);
    const out: BtfEnumValue[] = [];
    for (let i = 0, n = this.vlen(id); i < n; i++) {
      if (kind === BtfKind.Enum) {
        const p = o + TYPE_HDR + 8 * i;
        out.push({ name: this.str(b.view.getUint32(p, true)), value: BigInt(b.view.getUint32(p + 4, true)) });
      } else if (kind === BtfKind.Enum64) {
        const p = o + TYPE_HDR + 12 * i;
        const lo = BigInt(b.view.getUint32(p + 4, true));
        const hi = BigInt(b.view.getUint32(p + 8, true));
        out.push({ name: this.str(b.view.getUint32(p, true)), value: (hi << 32n) | lo });
      } else {
        throw new BtfFormatError(`type ${id} is ${BtfKind[kind]}, not an enum`);
      }
    }
    return out;
  }

  /** Follows TYPEDEF, CONST, VOLATILE, RESTRICT and TYPE_TAG to the underlying type id. */
  strip(id: number): number {
    for (let guard = 0; guard < 64 && id !== 0; guard++) {
      const k = this.kind(id);
      if (k !== BtfKind.Typedef && k !== BtfKind.Const && k !== BtfKind.Volatile && k !== BtfKind.Restrict && k !== BtfKind.TypeTag) return id;
      id = this.sizeOrType(id);
    }
    return id;
  }

  /** Size in bytes of a (stripped) type as passed by value: 8 for pointers, -1 if unknown. */
  byteSize(id: number): number {
    id = this.strip(id);
    switch (this.kind(id)) {
      case BtfKind.Int:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Float:
        return this.sizeOrType(id);
      case BtfKind.Ptr:
        return 8;
      default:
        return -1;
    }
  }

  /** True if `id`, stripped of modifiers and typedefs, is a pointer to a struct named `struct`. */
  isPtrToStruct(id: number, struct: string): boolean {
    id = this.strip(id);
    if (id === 0 || this.kind(id) !== BtfKind.Ptr) return false;
    const target = this.strip(this.sizeOrType(id));
    if (target === 0) return false;
    const k = this.kind(target);
    return (k === BtfKind.Struct || k === BtfKind.Fwd) && this.name(target) === struct;
  }

  /** Ids of this BTF's own types (not the base's) with the given name, optionally of one kind. */
  find(name: string, kind?: BtfKind): number[] {
    if (!this.byName) {
      const m = new Map<string, number[]>();
      for (let id = this.startId; id < this.typeCount; id++) {
        const off = this.view.getUint32(this.offsets[id - this.startId], true);
        if (off === 0) continue;
        const n = this.str(off);
        const list = m.get(n);
        if (list) list.push(id);
        else m.set(n, [id]);
      }
      this.byName = m;
    }
    const ids = this.byName.get(name) ?? [];
    return kind === undefined ? ids : ids.filter((id) => this.kind(id) === kind);
  }

  /** Iterates over this BTF's own type ids (not the base's). */
  *ids(): IterableIterator<number> {
    for (let id = this.startId; id < this.typeCount; id++) yield id;
  }

  private expect(id: number, kind: BtfKind): void {
    const k = this.kind(id);
    if (k !== kind) throw new BtfFormatError(`type ${id} is ${BtfKind[k]}, expected ${BtfKind[kind]}`);
  }
}

// ---- the BTF of a BPF object file (clang -target bpf -g): its .BTF section ----

/** The raw .BTF section of an ELF64 little-endian object, for Btf.parse; undefined without one. */
export function elfBtfSection(elf: Buffer): Buffer | undefined {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new BtfFormatError('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new BtfFormatError('only 64-bit little-endian ELF is supported');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) throw new BtfFormatError('bad ELF section header table');
  const section = (i: number) => {
    const h = shoff + i * shentsize;
    const off = Number(elf.readBigUInt64LE(h + 24));
    const size = Number(elf.readBigUInt64LE(h + 32));
    if (off + size > elf.length) throw new BtfFormatError(`ELF section ${i} extends past the end of the file`);
    return { name: elf.readUInt32LE(h), data: elf.subarray(off, off + size) };
  };
  const names = section(shstrndx).data;
  for (let i = 1; i < shnum; i++) {
    const s = section(i);
    const end = names.indexOf(0, s.name);
    if (names.toString('latin1', s.name, end < 0 ? names.length : end) === '.BTF') return s.data;
  }
  return undefined;
}

// ---- a writer, for unit tests and tools: builds small BTF blobs in the kernel's format ----

export interface BtfTypeSpec {
  kind: BtfKind;
  name?: string;
  /** size or type id, per kind */
  sizeOrType?: number;
  vlen?: number;
  kindFlag?: boolean;
  /** Raw kind-specific words (u32) after the 12-byte record; strings given as {str}. */
  extra?: Array<number | { str: string }>;
}

/** Encodes types (ids 1..n in order) into a BTF blob; `baseStrLen` for split BTF string offsets. */
export function buildBtf(types: BtfTypeSpec[], opts: { baseStrLen?: number } = {}): Buffer {
  const strs: string[] = [''];
  const strOff = new Map<string, number>([['', 0]]);
  let strSize = opts.baseStrLen ? 0 : 1;
  if (opts.baseStrLen) {
    strs.length = 0;
    strOff.clear();
  }
  const intern = (s: string): number => {
    if (!s) return 0; // the base's (or this blob's) leading empty string
    const have = strOff.get(s);
    if (have !== undefined) return have;
    const off = (opts.baseStrLen ?? 0) + strSize;
    strOff.set(s, off);
    strs.push(s);
    strSize += Buffer.byteLength(s) + 1;
    return off;
  };
  const words: number[] = [];
  for (const t of types) {
    const extra = t.extra ?? [];
    const vlen = t.vlen ?? 0;
    words.push(intern(t.name ?? ''), ((t.kindFlag ? 1 : 0) << 31) | (t.kind << 24) | vlen, t.sizeOrType ?? 0);
    for (const w of extra) words.push(typeof w === 'number' ? w : intern(w.str));
  }
  const typeSec = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => typeSec.writeUInt32LE(w >>> 0, i * 4));
  const strSec = Buffer.concat(strs.map((s) => Buffer.from(`${s}\0`, 'latin1')));
  const hdr = Buffer.alloc(HDR_MIN);
  hdr.writeUInt16LE(BTF_MAGIC, 0);
  hdr.writeUInt8(1, 2);
  hdr.writeUInt8(0, 3);
  hdr.writeUInt32LE(HDR_MIN, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeSec.length, 12);
  hdr.writeUInt32LE(typeSec.length, 16);
  hdr.writeUInt32LE(strSec.length, 20);
  return Buffer.concat([hdr, typeSec, strSec]);
}
