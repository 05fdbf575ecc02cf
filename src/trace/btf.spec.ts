// BTF reader and target discovery on small hand-built BTF blobs (the kernel's format, written by
// buildBtf): const/volatile/typedef stripping, argument slots, tracepoints, GSO flag names, split
// BTF of modules.
import { Btf, BtfFormatError, BtfKind, buildBtf, BtfTypeSpec } from './btf';
import { discoverSkbTargets, gsoTypeNames, parseKallsyms } from './targets';

// Type ids are 1-based positions in this list.
const T = {
  int: 1,
  skb: 2,
  skbPtr: 3,
  constSkb: 4,
  constSkbPtr: 5,
  sock: 6,
  sockPtr: 7,
  skbTypedef: 8, // typedef struct sk_buff skb_t
  volatileTd: 9, // volatile skb_t
  ptrVolatileTd: 10,
  big: 11, // struct big (24 bytes)
  pair: 12, // struct pair (16 bytes)
  protoPlain: 13, // int (struct sk_buff *skb)
  fnPlain: 14,
  protoConst: 15, // int (struct sock *sk, const struct sk_buff *skb)
  fnConst: 16,
  protoTd: 17, // void (int, volatile skb_t *)
  fnTd: 18,
  protoPair: 19, // void (struct pair, struct sk_buff *)
  fnPair: 20,
  protoBig: 21, // void (struct big, struct sk_buff *)
  fnBig: 22,
  protoNoSkb: 23, // int (struct sock *)
  fnNoSkb: 24,
  tpProto: 25, // void (void *, struct sock *, struct sk_buff *)
  tpPtr: 26,
  tpTypedef: 27, // btf_trace_tcp_probe
  voidPtr: 28,
  gsoEnum: 29,
  protoVar: 30, // int (struct sk_buff *, ...)
  fnVar: 31,
  fnDup: 32, // a second FUNC named skb_plain
} as const;

const member = (name: string, type: number, bitOff: number) => [{ str: name }, type, bitOff];

const TYPES: BtfTypeSpec[] = [
  { kind: BtfKind.Int, name: 'int', sizeOrType: 4, extra: [0x01000020] },
  { kind: BtfKind.Struct, name: 'sk_buff', sizeOrType: 232, vlen: 1, extra: member('len', T.int, 0) },
  { kind: BtfKind.Ptr, sizeOrType: T.skb },
  { kind: BtfKind.Const, sizeOrType: T.skb },
  { kind: BtfKind.Ptr, sizeOrType: T.constSkb },
  { kind: BtfKind.Struct, name: 'sock', sizeOrType: 760, vlen: 0 },
  { kind: BtfKind.Ptr, sizeOrType: T.sock },
  { kind: BtfKind.Typedef, name: 'skb_t', sizeOrType: T.skb },
  { kind: BtfKind.Volatile, sizeOrType: T.skbTypedef },
  { kind: BtfKind.Ptr, sizeOrType: T.volatileTd },
  { kind: BtfKind.Struct, name: 'big', sizeOrType: 24, vlen: 0 },
  { kind: BtfKind.Struct, name: 'pair', sizeOrType: 16, vlen: 0 },
  { kind: BtfKind.FuncProto, sizeOrType: T.int, vlen: 1, extra: [{ str: 'skb' }, T.skbPtr] },
  { kind: BtfKind.Func, name: 'skb_plain', sizeOrType: T.protoPlain },
  { kind: BtfKind.FuncProto, sizeOrType: T.int, vlen: 2, extra: [{ str: 'sk' }, T.sockPtr, { str: 'skb' }, T.constSkbPtr] },
  { kind: BtfKind.Func, name: 'skb_gso_validate_network_len', sizeOrType: T.protoConst },
  { kind: BtfKind.FuncProto, sizeOrType: 0, vlen: 2, extra: [{ str: 'x' }, T.int, { str: 'skb' }, T.ptrVolatileTd] },
  { kind: BtfKind.Func, name: 'skb_typedef', sizeOrType: T.protoTd },
  { kind: BtfKind.FuncProto, sizeOrType: 0, vlen: 2, extra: [{ str: 'p' }, T.pair, { str: 'skb' }, T.skbPtr] },
  { kind: BtfKind.Func, name: 'skb_after_pair', sizeOrType: T.protoPair },
  { kind: BtfKind.FuncProto, sizeOrType: 0, vlen: 2, extra: [{ str: 'b' }, T.big, { str: 'skb' }, T.skbPtr] },
  { kind: BtfKind.Func, name: 'skb_after_big', sizeOrType: T.protoBig },
  { kind: BtfKind.FuncProto, sizeOrType: T.int, vlen: 1, extra: [{ str: 'sk' }, T.sockPtr] },
  { kind: BtfKind.Func, name: 'sock_only', sizeOrType: T.protoNoSkb },
  { kind: BtfKind.FuncProto, sizeOrType: 0, vlen: 3, extra: [{ str: '' }, T.voidPtr, { str: 'sk' }, T.sockPtr, { str: 'skb' }, T.skbPtr] },
  { kind: BtfKind.Ptr, sizeOrType: T.tpProto },
  { kind: BtfKind.Typedef, name: 'btf_trace_tcp_probe', sizeOrType: T.tpPtr },
  { kind: BtfKind.Ptr, sizeOrType: 0 },
  {
    kind: BtfKind.Enum,
    sizeOrType: 4,
    vlen: 5,
    extra: [
      { str: 'SKB_GSO_TCPV4' },
      1,
      { str: '__SKB_GSO_TCP_FIXEDID' },
      8,
      { str: 'SKB_GSO_IPXIP6' },
      512,
      { str: 'SKB_GSO_TCP_FIXEDID' },
      1 << 30,
      { str: 'SKB_GSO_TCP_FIXEDID_INNER' },
      0x80000000,
    ],
  },
  { kind: BtfKind.FuncProto, sizeOrType: T.int, vlen: 2, extra: [{ str: 'skb' }, T.skbPtr, { str: '' }, 0] },
  { kind: BtfKind.Func, name: 'skb_printf', sizeOrType: T.protoVar },
  { kind: BtfKind.Func, name: 'skb_plain', sizeOrType: T.protoPlain },
];

describe('Btf', () => {
  const btf = Btf.parse(buildBtf(TYPES));

  it('indexes every type and reads names, kinds and sizes', () => {
    expect(btf.typeCount).toBe(TYPES.length + 1);
    expect(btf.kind(T.skb)).toBe(BtfKind.Struct);
    expect(btf.name(T.skb)).toBe('sk_buff');
    expect(btf.sizeOrType(T.skb)).toBe(232);
    expect(btf.name(0)).toBe('void');
    expect(btf.find('sk_buff', BtfKind.Struct)).toEqual([T.skb]);
    expect(btf.find('skb_plain', BtfKind.Func)).toEqual([T.fnPlain, T.fnDup]);
  });

  it('strips const, volatile and typedef chains', () => {
    expect(btf.strip(T.constSkb)).toBe(T.skb);
    expect(btf.strip(T.volatileTd)).toBe(T.skb);
    expect(btf.isPtrToStruct(T.constSkbPtr, 'sk_buff')).toBe(true);
    expect(btf.isPtrToStruct(T.ptrVolatileTd, 'sk_buff')).toBe(true);
    expect(btf.isPtrToStruct(T.sockPtr, 'sk_buff')).toBe(false);
    expect(btf.isPtrToStruct(T.skb, 'sk_buff')).toBe(false);
  });

  it('reads FUNC_PROTO parameters and enum values (unsigned)', () => {
    expect(btf.params(T.protoConst)).toEqual([
      { name: 'sk', type: T.sockPtr },
      { name: 'skb', type: T.constSkbPtr },
    ]);
    expect(btf.enumValues(T.gsoEnum).map((v) => v.value)).toEqual([1n, 8n, 512n, 1n << 30n, 0x80000000n]);
  });

  it('rejects malformed data', () => {
    expect(() => Btf.parse(Buffer.alloc(10))).toThrow(BtfFormatError);
    const bad = buildBtf(TYPES);
    bad.writeUInt16LE(0x1234, 0);
    expect(() => Btf.parse(bad)).toThrow(/magic/);
    const truncated = buildBtf(TYPES);
    truncated.writeUInt32LE(truncated.readUInt32LE(12) + 4, 12); // type_len past the strings
    expect(() => Btf.parse(truncated)).toThrow(BtfFormatError);
    const unknownKind = buildBtf([{ kind: 31 as BtfKind, name: 'x' }]);
    expect(() => Btf.parse(unknownKind)).toThrow(/unknown BTF kind/);
  });

  it('reads a module split BTF on top of its base (ids and strings continue)', () => {
    const baseBuf = buildBtf(TYPES);
    const baseStrLen = baseBuf.readUInt32LE(20);
    const base = Btf.parse(baseBuf);
    const mod = Btf.parse(
      buildBtf(
        [
          { kind: BtfKind.FuncProto, sizeOrType: T.int, vlen: 2, extra: [{ str: 'dev' }, T.voidPtr, { str: 'skb' }, T.skbPtr] },
          { kind: BtfKind.Func, name: 'veth_xmit_like', sizeOrType: base.typeCount },
        ],
        { baseStrLen },
      ),
      base,
    );
    expect(mod.startId).toBe(base.typeCount);
    expect(mod.name(base.typeCount + 1)).toBe('veth_xmit_like');
    expect(mod.name(T.skb)).toBe('sk_buff'); // base types through the module
    const d = discoverSkbTargets(mod, 'veth');
    expect(d.functions).toEqual([expect.objectContaining({ name: 'veth_xmit_like', module: 'veth', btfId: base.typeCount + 1, skbArg: 1, skbSlot: 1 })]);
  });
});

describe('discoverSkbTargets', () => {
  const d = discoverSkbTargets(Btf.parse(buildBtf(TYPES)));
  const fn = (name: string) => d.functions.find((f) => f.name === name);

  it('finds skb functions whatever the qualifiers, and only those', () => {
    expect(d.functions.map((f) => f.name)).toEqual([
      'skb_after_big',
      'skb_after_pair',
      'skb_gso_validate_network_len',
      'skb_plain',
      'skb_printf',
      'skb_typedef',
    ]);
    expect(fn('skb_gso_validate_network_len')).toMatchObject({ skbArg: 1, skbSlot: 1, constSkb: true, nrArgs: 2 });
    expect(fn('skb_typedef')).toMatchObject({ skbArg: 1, skbSlot: 1, constSkb: false });
    expect(fn('skb_plain')).toMatchObject({ skbArg: 0, skbSlot: 0, btfId: T.fnPlain }); // deduplicated by name
  });

  it('counts a 16-byte struct by value as two slots and gives up after a larger one', () => {
    expect(fn('skb_after_pair')).toMatchObject({ skbArg: 1, skbSlot: 2 });
    expect(fn('skb_after_big')).toMatchObject({ skbArg: 1, skbSlot: -1 });
    expect(fn('skb_after_big')!.fentryUnsupported).toMatch(/24 bytes/);
  });

  it('marks variadic functions as untraceable by trampolines', () => {
    expect(fn('skb_printf')!.fentryUnsupported).toBe('variadic');
    expect(fn('skb_plain')!.fentryUnsupported).toBeUndefined();
  });

  it('finds tracepoints carrying an skb, slots counted after the hidden ctx', () => {
    expect(d.tracepoints).toEqual([{ kind: 'tracepoint', name: 'tcp_probe', btfId: T.tpTypedef, nrArgs: 2, skbArg: 1, skbSlot: 1 }]);
  });

  it('reads SKB_GSO_* names by bit, preferring public names', () => {
    const names = gsoTypeNames(Btf.parse(buildBtf(TYPES)));
    expect([...names]).toEqual([
      [0, 'tcpv4'],
      [3, '__tcp_fixedid'],
      [9, 'ipxip6'],
      [30, 'tcp_fixedid'],
      [31, 'tcp_fixedid_inner'],
    ]);
  });
});

describe('parseKallsyms', () => {
  it('counts text symbols by name, module ones included', () => {
    const m = parseKallsyms(
      'ffffffff81000000 T _stext\nffffffff81001000 t skb_dup\nffffffff81002000 t skb_dup\nffffffff81003000 D some_data\nffffffffa0000000 t veth_xmit\t[veth]\n',
    );
    expect(m.get('skb_dup')).toBe(2);
    expect(m.get('veth_xmit')).toBe(1);
    expect(m.has('some_data')).toBe(false);
  });
});
