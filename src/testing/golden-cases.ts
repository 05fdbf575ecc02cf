// The netlink golden cases: objects created by iproute2, dumped by the kernel, and the same
// objects encoded by us. netlink/golden.kernel.ts checks them against a live kernel (and with
// UPDATE_GOLDEN=1 records the kernel's bytes in netlink/__golden__/); netlink/golden.spec.ts
// replays the recorded bytes without root.
import { Attrs, parseAttrs } from '../netlink/attributes';
import { RTA, NHA, FRA, SEG6_LOCAL, IFA } from '../netlink/constants';
import { addressAddRequest } from '../netlink/address';
import { NlRequest } from '../netlink/message';
import { nexthopAddRequest } from '../netlink/nexthop';
import { routeAddRequest } from '../netlink/route';
import { ruleAddRequest } from '../netlink/rule';
import type { KernelFeature } from './kernel-features';

export type GoldenKind = 'route' | 'nexthop' | 'rule' | 'address';

/** Interface indexes in the golden namespace (veth v0 <-> v1). */
export interface Ix {
  v0: number;
  v1: number;
}

export interface GoldenCase {
  name: string;
  kind: GoldenKind;
  /** iproute2 argument lists run in the namespace. */
  ip: string[][];
  /** Picks the object from the decoded dump. */
  select(o: any): boolean;
  /** What the decoder must produce (a subset of the decoded object). */
  expected(ix: Ix): object;
  /** Our request for the same object: its attributes must equal the kernel's bytes. */
  request(ix: Ix): NlRequest;
  /** Attribute types whose content the kernel adds to (e.g. live counters): recurse or skip. */
  nested?: number[];
  skip?: number[];
  /** Kernel features iproute2 needs to create the object (the live test skips by name without them). */
  needs?: KernelFeature[];
}

const P = 99; // protocol number used in cases that set one

export const GOLDEN_CASES: GoldenCase[] = [
  {
    name: 'route4-nhid-table1000',
    kind: 'route',
    needs: ['nexthop.seg6'],
    ip: [
      ['-6', 'nexthop', 'add', 'id', '10', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:2::100', 'dev', 'v0'],
      ['route', 'add', '10.1.0.0/24', 'nhid', '10', 'table', '1000', 'proto', String(P)],
    ],
    select: (r) => r.dst === '10.1.0.0/24',
    expected: () => ({ family: 4, dst: '10.1.0.0/24', table: 1000, nhid: 10, protocol: P, type: 'unicast', scope: 0 }),
    request: () => routeAddRequest({ dst: '10.1.0.0/24', nhid: 10, table: 1000, protocol: P }),
    // A route with nhid is dumped with the nexthop's resolved encap and device as well.
  },
  {
    name: 'route4-seg6-encap-2sids',
    kind: 'route',
    needs: ['seg6'],
    ip: [['route', 'add', '10.2.0.0/24', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:2::1,fc00:3::1', 'dev', 'v0', 'table', '100']],
    select: (r) => r.dst === '10.2.0.0/24',
    expected: (ix) => ({ table: 100, oif: ix.v0, scope: 253, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:2::1', 'fc00:3::1'] } }),
    request: (ix) =>
      routeAddRequest({ dst: '10.2.0.0/24', oif: ix.v0, table: 100, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:2::1', 'fc00:3::1'] } }),
  },
  {
    name: 'route6-seg6-encap-red',
    kind: 'route',
    needs: ['seg6'],
    ip: [['-6', 'route', 'add', 'fd00::/64', 'encap', 'seg6', 'mode', 'encap.red', 'segs', 'fc00:2::1,fc00:3::1', 'dev', 'v0', 'table', '100']],
    select: (r) => r.dst === 'fd00::/64',
    expected: () => ({ family: 6, table: 100, encap: { type: 'seg6', mode: 'encap.red', segments: ['fc00:2::1', 'fc00:3::1'] } }),
    request: (ix) =>
      routeAddRequest({ dst: 'fd00::/64', oif: ix.v0, table: 100, encap: { type: 'seg6', mode: 'encap.red', segments: ['fc00:2::1', 'fc00:3::1'] } }),
    skip: [RTA.PRIORITY],
  },
  {
    name: 'route6-seg6-inline',
    kind: 'route',
    needs: ['seg6'],
    ip: [['-6', 'route', 'add', 'fd01::/64', 'encap', 'seg6', 'mode', 'inline', 'segs', 'fc00:2::1', 'dev', 'v0']],
    select: (r) => r.dst === 'fd01::/64',
    expected: () => ({ table: 254, encap: { type: 'seg6', mode: 'inline', segments: ['fc00:2::1'] } }),
    request: (ix) => routeAddRequest({ dst: 'fd01::/64', oif: ix.v0, encap: { type: 'seg6', mode: 'inline', segments: ['fc00:2::1'] } }),
  },
  {
    name: 'route4-seg6-l2encap',
    kind: 'route',
    needs: ['seg6'],
    ip: [['route', 'add', '10.5.0.0/24', 'encap', 'seg6', 'mode', 'l2encap', 'segs', 'fc00:5::1', 'dev', 'v0', 'table', '100']],
    select: (r) => r.dst === '10.5.0.0/24',
    expected: () => ({ encap: { type: 'seg6', mode: 'l2encap', segments: ['fc00:5::1'] } }),
    request: (ix) => routeAddRequest({ dst: '10.5.0.0/24', oif: ix.v0, table: 100, encap: { type: 'seg6', mode: 'l2encap', segments: ['fc00:5::1'] } }),
  },
  ...(
    [
      ['End', ['flavors', 'next-csid', 'lblen', '32', 'nflen', '16'], { flavors: { operations: ['next-csid'], lblen: 32, nflen: 16 } }],
      ['End.X', ['nh6', 'fc00:1::2'], { nh6: 'fc00:1::2' }],
      ['End.T', ['table', '100'], { table: 100 }],
      ['End.DX2', ['oif', 'v1'], 'oif'],
      ['End.DX4', ['nh4', '192.0.2.2', 'count'], { nh4: '192.0.2.2', counters: true }],
      ['End.DX6', ['nh6', 'fd00::2'], { nh6: 'fd00::2' }],
      ['End.DT6', ['table', '100'], { table: 100 }],
      ['End.B6', ['srh', 'segs', 'fc00:9::1,fc00:9::2'], { srh: ['fc00:9::1', 'fc00:9::2'] }],
      ['End.B6.Encaps', ['srh', 'segs', 'fc00:9::1,fc00:9::2'], { srh: ['fc00:9::1', 'fc00:9::2'] }],
    ] as const
  ).map(([action, args, params], i): GoldenCase => {
    const sid = `fc00:1::${(0x100 + i).toString(16)}/128`;
    const fields = (ix: Ix): any => (params === 'oif' ? { oif: ix.v1 } : params);
    return {
      name: `seg6local-${action}`,
      kind: 'route',
      needs: ['seg6local'],
      ip: [['-6', 'route', 'add', sid, 'encap', 'seg6local', 'action', action, ...args, 'dev', 'v0']],
      select: (r) => r.dst === sid,
      expected: (ix) => {
        const f = { ...fields(ix) };
        if (f.counters) f.counters = { packets: 0n, bytes: 0n, errors: 0n };
        return { family: 6, dst: sid, encap: { type: 'seg6local', action, ...f } };
      },
      request: (ix) => routeAddRequest({ dst: sid, oif: ix.v0, encap: { type: 'seg6local', action, ...fields(ix) } }),
      // Counters are dumped live; they are still zero right after creation.
      nested: [RTA.ENCAP, SEG6_LOCAL.COUNTERS],
    };
  }),
  {
    name: 'route4-multipath-weights',
    kind: 'route',
    ip: [
      ['addr', 'add', '192.0.2.1/24', 'dev', 'v0'],
      ['route', 'add', '10.3.0.0/24', 'table', '100', 'nexthop', 'via', '192.0.2.2', 'dev', 'v0', 'weight', '2', 'nexthop', 'via', '192.0.2.3', 'dev', 'v0'],
    ],
    select: (r) => r.dst === '10.3.0.0/24',
    expected: (ix) => ({
      multipath: [
        { gateway: '192.0.2.2', oif: ix.v0, weight: 2 },
        { gateway: '192.0.2.3', oif: ix.v0, weight: 1 },
      ],
    }),
    request: (ix) =>
      routeAddRequest({
        dst: '10.3.0.0/24',
        table: 100,
        multipath: [
          { gateway: '192.0.2.2', oif: ix.v0, weight: 2 },
          { gateway: '192.0.2.3', oif: ix.v0 },
        ],
      }),
  },
  {
    name: 'route4-metrics-mtu',
    kind: 'route',
    ip: [['route', 'add', '10.4.0.0/24', 'via', '192.0.2.2', 'dev', 'v0', 'mtu', '1400', 'advmss', '1360', 'table', '100']],
    select: (r) => r.dst === '10.4.0.0/24',
    expected: () => ({ gateway: '192.0.2.2', metrics: { mtu: 1400, advmss: 1360 } }),
    request: (ix) => routeAddRequest({ dst: '10.4.0.0/24', gateway: '192.0.2.2', oif: ix.v0, table: 100, metrics: { mtu: 1400, advmss: 1360 } }),
  },
  {
    name: 'route4-unreachable-default-table5000',
    kind: 'route',
    ip: [['route', 'add', 'unreachable', 'default', 'table', '5000', 'metric', '4278198272']],
    select: (r) => r.table === 5000 && r.dst === 'default',
    expected: () => ({ type: 'unreachable', table: 5000, priority: 4278198272 }),
    request: () => routeAddRequest({ dst: 'default', family: 4, type: 'unreachable', table: 5000, priority: 4278198272 }),
  },
  {
    name: 'nexthop-seg6-encap',
    kind: 'nexthop',
    needs: ['nexthop.seg6'],
    ip: [['-6', 'nexthop', 'add', 'id', '20', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:7::1,fc00:8::1', 'dev', 'v0', 'proto', String(P)]],
    select: (n) => n.id === 20,
    expected: (ix) => ({ id: 20, family: 6, oif: ix.v0, protocol: P, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:7::1', 'fc00:8::1'] } }),
    request: (ix) =>
      nexthopAddRequest({ id: 20, family: 6, oif: ix.v0, protocol: P, encap: { type: 'seg6', mode: 'encap', segments: ['fc00:7::1', 'fc00:8::1'] } }),
  },
  {
    name: 'nexthop-group-weights',
    kind: 'nexthop',
    ip: [
      ['nexthop', 'add', 'id', '21', 'via', '192.0.2.2', 'dev', 'v0'],
      ['nexthop', 'add', 'id', '22', 'via', '192.0.2.3', 'dev', 'v0'],
      ['nexthop', 'add', 'id', '23', 'group', '21/22,3'],
    ],
    select: (n) => n.id === 23,
    expected: () => ({
      id: 23,
      group: [
        { id: 21, weight: 1 },
        { id: 22, weight: 3 },
      ],
      groupType: 'mpath',
    }),
    request: () => nexthopAddRequest({ id: 23, group: [{ id: 21 }, { id: 22, weight: 3 }], protocol: 0 }),
  },
  {
    name: 'rule-iif-table1000',
    kind: 'rule',
    ip: [['rule', 'add', 'iif', 'v1', 'lookup', '1000', 'pref', '100']],
    select: (r) => r.priority === 100,
    expected: () => ({ family: 4, iif: 'v1', table: 1000, action: 'lookup', priority: 100 }),
    request: () => ruleAddRequest({ family: 4, iif: 'v1', table: 1000, priority: 100 }),
  },
  {
    name: 'rule6-fwmark-mask',
    kind: 'rule',
    ip: [['-6', 'rule', 'add', 'fwmark', '0x10/0xff', 'lookup', '200', 'pref', '101']],
    select: (r) => r.priority === 101,
    expected: () => ({ family: 6, fwmark: 0x10, fwmask: 0xff, table: 200 }),
    request: () => ruleAddRequest({ family: 6, fwmark: 0x10, fwmask: 0xff, table: 200, priority: 101 }),
  },
  {
    name: 'address6-nodad',
    kind: 'address',
    ip: [['-6', 'addr', 'add', 'fc00:1::1/64', 'dev', 'v0', 'nodad']],
    select: (a) => a.address === 'fc00:1::1/64',
    expected: (ix) => ({ family: 6, index: ix.v0 }),
    request: (ix) => addressAddRequest({ index: ix.v0, address: 'fc00:1::1/64', nodad: true }),
    // IPv6 addresses are dumped with IFA_ADDRESS only; our IFA_LOCAL equals it (checked in the spec).
    skip: [IFA.LOCAL],
  },
];

export const KIND_HEADER_LEN: Record<GoldenKind, number> = { route: 12, nexthop: 8, rule: 12, address: 8 };
export const KNOWN_ATTRS = { RTA, NHA, FRA };

/** Header bytes that must be equal (the rest is kernel bookkeeping such as flags). */
const HEADER_BYTES: Record<GoldenKind, number[]> = {
  route: [0, 1, 2, 3, 4, 5, 6, 7],
  nexthop: [0, 2],
  rule: [0, 1, 2, 3, 4, 5, 6, 7],
  address: [0, 1, 3],
};

/**
 * Compares our request with the kernel's dump of iproute2's object: the chosen header bytes, and
 * every attribute we send must be present with the same bytes (the kernel may add more).
 * Returns the differences, empty when equal.
 */
export function compareWithKernel(c: GoldenCase, ours: Buffer, kernel: Buffer): string[] {
  const diffs: string[] = [];
  for (const i of HEADER_BYTES[c.kind])
    if (ours[i] !== kernel[i] && !kernelNormalises(c.kind, i, ours, kernel)) diffs.push(`header byte ${i}: ours ${ours[i]} kernel ${kernel[i]}`);
  const hl = KIND_HEADER_LEN[c.kind];
  compareLevel(parseAttrs(ours, hl), parseAttrs(kernel, hl), c.nested ?? [], c.skip ?? [], '', diffs);
  return diffs;
}

/** Header differences that are the kernel's way of reporting, not a different object. */
function kernelNormalises(kind: GoldenKind, i: number, ours: Buffer, kernel: Buffer): boolean {
  const RT_TABLE_COMPAT = 252; // dumped in the u8 table field when the id needs RTA_TABLE/FRA_TABLE
  if ((kind === 'route' || kind === 'rule') && i === 4) return ours[i] === 0 && kernel[i] === RT_TABLE_COMPAT;
  if (kind === 'route' && i === 6) return ours[0] === 10 && kernel[i] === 0; // IPv6 keeps no scope
  return false;
}

function compareLevel(ours: Attrs, kernel: Attrs, nested: number[], skip: number[], path: string, diffs: string[]): void {
  for (const a of ours.list) {
    if (skip.includes(a.type)) continue;
    const k = kernel.raw(a.type);
    const where = `${path}/${a.type}`;
    if (!k) diffs.push(`attribute ${where} missing in the kernel's dump`);
    else if (nested.includes(a.type)) compareLevel(parseAttrs(a.data), parseAttrs(k), nested, skip, where, diffs);
    else if (!k.equals(a.data)) diffs.push(`attribute ${where}: ours ${a.data.toString('hex')} kernel ${k.toString('hex')}`);
  }
}
