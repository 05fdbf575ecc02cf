// Kernel tier: target discovery on the running kernel's BTF, checked against bpftool's own dump
// of the same BTF (an independent parser: `bpftool btf dump file /sys/kernel/btf/vmlinux`).
import { execFileSync } from 'node:child_process';

import { readKernelBtf, discoverSkbTargets, gsoTypeNames, readKernelSymbols } from './targets';

interface RawType {
  kind: string;
  name: string;
  type?: number;
  params?: number[];
  values?: Array<[string, number]>;
}

/** bpftool's raw text dump, parsed just enough for the checks below. */
function bpftoolDump(): Map<number, RawType> {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const types = new Map<number, RawType>();
  let cur: RawType | undefined;
  for (const line of text.split('\n')) {
    const m = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (m) {
      cur = { kind: m[2], name: m[3] };
      const t = /\btype_id=(\d+)/.exec(m[4]);
      if (t) cur.type = Number(t[1]);
      if (m[2] === 'FUNC_PROTO') cur.params = [];
      if (m[2] === 'ENUM' || m[2] === 'ENUM64') cur.values = [];
      types.set(Number(m[1]), cur);
      continue;
    }
    const p = /^\t'[^']*' type_id=(\d+)/.exec(line);
    if (p && cur?.params) cur.params.push(Number(p[1]));
    const v = /^\t'([^']*)' val=(-?\d+)/.exec(line);
    if (v && cur?.values) cur.values.push([v[1], Number(v[2])]);
  }
  return types;
}

describe('BTF target discovery on this kernel', () => {
  const kbtf = readKernelBtf();
  const mine = discoverSkbTargets(kbtf.vmlinux);
  let raw: Map<number, RawType>;

  beforeAll(() => {
    raw = bpftoolDump();
  }, 180_000);

  const isSkbPtr = (id: number): boolean => {
    const strip = (i: number) => {
      for (let g = 0; g < 64; g++) {
        const t = raw.get(i);
        if (!t || !['CONST', 'VOLATILE', 'TYPEDEF', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) return i;
        i = t.type!;
      }
      return i;
    };
    const ptr = raw.get(strip(id));
    if (ptr?.kind !== 'PTR') return false;
    const target = raw.get(strip(ptr.type!));
    return (target?.kind === 'STRUCT' || target?.kind === 'FWD') && target.name === 'sk_buff';
  };

  it('finds exactly the functions bpftool shows with a (const) struct sk_buff * parameter', () => {
    const expected = new Set<string>();
    for (const t of raw.values()) {
      if (t.kind !== 'FUNC') continue;
      const proto = raw.get(t.type!);
      if (proto?.params?.some((p) => p !== 0 && isSkbPtr(p))) expected.add(t.name);
    }
    expect(new Set(mine.functions.map((f) => f.name))).toEqual(expected);
    expect(expected.size).toBeGreaterThan(500);
  });

  it('finds the const-skb functions the other tools miss, and the SRv6 path', () => {
    const byName = new Map(mine.functions.map((f) => [f.name, f]));
    expect(byName.get('skb_gso_validate_network_len')).toMatchObject({ skbArg: 0, skbSlot: 0, constSkb: true });
    expect(mine.functions.filter((f) => f.constSkb).length).toBeGreaterThan(100);
    // Present on every kernel this project supports (IPv6 and seg6 built in or as modules here).
    expect(byName.get('ip6_finish_output2')).toMatchObject({ skbArg: 2, skbSlot: 2, constSkb: false });
    for (const name of ['seg6_do_srh_encap', 'seg6_do_srh_inline', 'input_action_end_dx4']) {
      const inVmlinux = [...raw.values()].some((t) => t.kind === 'FUNC' && t.name === name);
      expect(byName.has(name)).toBe(inVmlinux);
    }
  });

  it('finds the skb tracepoints (btf_trace_* typedefs), skb slot after the hidden ctx', () => {
    const names = mine.tracepoints.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['net_dev_queue', 'net_dev_start_xmit', 'net_dev_xmit', 'netif_receive_skb', 'netif_rx', 'kfree_skb', 'consume_skb']),
    );
    const tp = (n: string) => mine.tracepoints.find((t) => t.name === n)!;
    expect(tp('net_dev_queue')).toMatchObject({ skbSlot: 0, nrArgs: 1 });
    expect(tp('net_dev_xmit')).toMatchObject({ skbSlot: 0, nrArgs: 4 });
    expect(tp('tcp_probe')).toMatchObject({ skbSlot: 1 });
    const expected = [...raw.values()]
      .filter((t) => t.kind === 'TYPEDEF' && t.name.startsWith('btf_trace_'))
      .filter((t) => {
        const proto = raw.get(raw.get(t.type!)?.type ?? 0);
        return proto?.params?.slice(1).some((p) => p !== 0 && isSkbPtr(p));
      });
    expect(names.sort()).toEqual(expected.map((t) => t.name.slice('btf_trace_'.length)).sort());
  });

  it('reads SKB_GSO_* bit names from the kernel enum', () => {
    const names = gsoTypeNames(kbtf.vmlinux);
    const e = [...raw.values()].find((t) => t.values?.some(([n]) => n === 'SKB_GSO_TCPV4'))!;
    for (const [n, v] of e.values!) {
      const u = v >>> 0;
      if (u && (u & (u - 1)) === 0 && !n.startsWith('__')) expect(names.get(31 - Math.clz32(u))).toBe(n.replace('SKB_GSO_', '').toLowerCase());
    }
    expect(names.get(0)).toBe('tcpv4');
    expect([...names.values()]).toContain('ipxip6');
  });

  it('knows which targets have an address (kallsyms) without needing tracefs', () => {
    const syms = readKernelSymbols();
    const withAddr = mine.functions.filter((f) => syms.text.has(f.name)).length;
    expect(withAddr / mine.functions.length).toBeGreaterThan(0.9);
    expect(syms.text.has('ip6_finish_output2')).toBe(true);
  });
});
