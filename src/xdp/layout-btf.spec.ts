// Unit: src/xdp/layout.ts against the BTF of the object the agent loads (bpf/build/xdp/
// srv6_decap.bpf.o, built by scripts/setup.sh with -g): every struct's size and each field's
// offset and size, every enum value, and each map's key, value and entries. A field that moves, a
// size that changes or an enum value that differs on either side fails here, before any packet
// meets the mismatch. layout.spec.ts pins the same layouts with golden bytes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../native/addon';
import { Btf, BtfKind, elfBtfSection } from '../trace/btf';
import { ACTION_ENUM, MAP_LAYOUTS, MapLayout, REASON_ENUM, STRUCT_LAYOUTS, StructLayout } from './layout';

const OBJECT = join(packageRoot(), 'bpf/build/xdp/srv6_decap.bpf.o');

let cached: Btf | undefined;

/** The object's BTF; a missing object or BTF is a failure that says what to do, never a skip. */
function objectBtf(): Btf {
  if (cached) return cached;
  if (!existsSync(OBJECT)) throw new Error(`${OBJECT} is missing: run \`bash scripts/setup.sh --build-only\` (it builds bpf/build/)`);
  const raw = elfBtfSection(readFileSync(OBJECT));
  if (!raw) throw new Error(`${OBJECT} has no .BTF section: bpf/Makefile must compile with -g`);
  cached = Btf.parse(raw);
  return cached;
}

/** The one type named `name` of one of `kinds`. */
function one(btf: Btf, name: string, kinds: BtfKind[], what: string): number {
  const ids = kinds.flatMap((k) => btf.find(name, k));
  if (ids.length === 1) return ids[0];
  if (!ids.length)
    throw new Error(
      `${what} ${name} is not in the BTF of ${OBJECT}: clang keeps a type there only when the program refers to it (a map key or value, a struct field, a global)`,
    );
  throw new Error(`${what} ${name} is in the BTF of ${OBJECT} ${ids.length} times`);
}

/** Byte size of a type, arrays included (Btf.byteSize answers for types passed by value only). */
function sizeOf(btf: Btf, id: number): number {
  id = btf.strip(id);
  if (btf.kind(id) !== BtfKind.Array) return btf.byteSize(id);
  const a = btf.array(id);
  return a.nelems * sizeOf(btf, a.type);
}

/** A struct as the BTF describes it, in StructLayout's shape. */
function btfStruct(btf: Btf, id: number): StructLayout {
  const fields: Record<string, { offset: number; size: number }> = {};
  for (const m of btf.members(id)) {
    if (m.bitfieldSize || m.bitOffset % 8) throw new Error(`${btf.name(id)}.${m.name} is a bitfield: layout.ts reads whole bytes`);
    fields[m.name] = { offset: m.bitOffset / 8, size: sizeOf(btf, m.type) };
  }
  return { name: btf.name(id), size: btf.sizeOrType(id), fields };
}

function btfEnum(btf: Btf, name: string): Record<string, number> {
  const id = one(btf, name, [BtfKind.Enum, BtfKind.Enum64], 'enum');
  return Object.fromEntries(btf.enumValues(id).map((v) => [v.name, Number(v.value)]));
}

/** A map definition (struct { __uint(type, ..); __uint(max_entries, N); __type(key, K); ... }). */
function btfMap(btf: Btf, name: string): { key: number; value: number; maxEntries: number } {
  const def = btf.strip(btf.sizeOrType(one(btf, name, [BtfKind.Var], 'map')));
  const member = (m: string) => {
    const found = btf.members(def).find((x) => x.name === m);
    if (!found) throw new Error(`map ${name} has no ${m} in its definition`);
    return btf.sizeOrType(btf.strip(found.type)); // every member is a pointer: to the type, or to int[N]
  };
  return { key: member('key'), value: member('value'), maxEntries: btf.array(member('max_entries')).nelems };
}

/** A map's key or value: the struct it is, if one, and its size (layout.ts's and the BTF's alike). */
function keyOrValue(btf: Btf, id: number): { struct?: string; size: number } {
  const t = btf.strip(id);
  return btf.kind(t) === BtfKind.Struct ? { struct: btf.name(t), size: sizeOf(btf, t) } : { size: sizeOf(btf, t) };
}

function described(l: StructLayout | number): { struct?: string; size: number } {
  return typeof l === 'number' ? { size: l } : { struct: l.name, size: l.size };
}

describe(`layout.ts against the BTF of bpf/build/xdp/srv6_decap.bpf.o`, () => {
  it.each(STRUCT_LAYOUTS.map((l) => [l.name, l] as const))('struct %s: size, and each field at its offset with its size', (name, layout) => {
    const btf = objectBtf();
    expect(btfStruct(btf, one(btf, name, [BtfKind.Struct], 'struct'))).toEqual(layout);
  });

  it('enum srv6_xdp_action: every enumerator and its value', () => {
    expect(btfEnum(objectBtf(), 'srv6_xdp_action')).toEqual(ACTION_ENUM);
  });

  it('enum srv6_xdp_reason: every enumerator and its value (the REASONS order)', () => {
    expect(btfEnum(objectBtf(), 'srv6_xdp_reason')).toEqual(REASON_ENUM);
  });

  it.each(Object.entries(MAP_LAYOUTS))('map %s: key, value and max_entries', (name, layout: MapLayout) => {
    const btf = objectBtf();
    const m = btfMap(btf, name);
    expect({ key: keyOrValue(btf, m.key), value: keyOrValue(btf, m.value), maxEntries: m.maxEntries }).toEqual({
      key: described(layout.key),
      value: described(layout.value),
      maxEntries: layout.maxEntries,
    });
  });
});
