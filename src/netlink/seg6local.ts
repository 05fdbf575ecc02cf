// seg6local (LWTUNNEL_ENCAP_SEG6_LOCAL): SRv6 endpoint behaviours on IPv6 routes.
// The kernel ignores attributes an action does not use, so we reject them instead: a request that
// names an attribute gets it, or fails.
import { AttrWriter, Attrs } from './attributes';
import { SEG6_LOCAL, SEG6_LOCAL_BPF, SEG6_LOCAL_CNT, SEG6_LOCAL_FLV } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { formatAddress, parseAddress } from './ip';
import { decodeSrh, encodeSrh } from './seg6';
import { validateTable } from './validate';

export const SEG6LOCAL_ACTIONS = {
  End: 1,
  'End.X': 2,
  'End.T': 3,
  'End.DX2': 4,
  'End.DX6': 5,
  'End.DX4': 6,
  'End.DT6': 7,
  'End.DT4': 8,
  'End.B6': 9,
  'End.B6.Encaps': 10,
  'End.BPF': 15,
  'End.DT46': 16,
} as const;
export type Seg6LocalAction = keyof typeof SEG6LOCAL_ACTIONS;

type Param = 'table' | 'vrftable' | 'nh4' | 'nh6' | 'iif' | 'oif' | 'srh' | 'bpf' | 'flavors';

/** Required and optional parameters per action (net/ipv6/seg6_local.c, seg6_action_table). */
const PARAMS: Record<Seg6LocalAction, { required: Param[][]; optional: Param[] }> = {
  End: { required: [], optional: ['flavors'] },
  'End.X': { required: [['nh6']], optional: ['oif', 'flavors'] },
  'End.T': { required: [['table']], optional: [] },
  'End.DX2': { required: [['oif']], optional: [] },
  // The kernel accepts an oif for End.DX4/DX6 and silently ignores it (seen on 6.1-6.18): refuse it.
  'End.DX6': { required: [['nh6']], optional: [] },
  'End.DX4': { required: [['nh4']], optional: [] },
  // End.DT6: legacy `table` mode or VRF `vrftable` mode, exactly one of them.
  'End.DT6': { required: [['table'], ['vrftable']], optional: [] },
  'End.DT4': { required: [['vrftable']], optional: [] },
  'End.DT46': { required: [['vrftable']], optional: [] },
  'End.B6': { required: [['srh']], optional: [] },
  'End.B6.Encaps': { required: [['srh']], optional: [] },
  'End.BPF': { required: [['bpf']], optional: [] },
};

export const FLAVOR_OPS = { psp: 1, usp: 2, usd: 3, 'next-csid': 4 } as const;
export type FlavorOp = keyof typeof FLAVOR_OPS;

export interface Seg6Local {
  type: 'seg6local';
  action: Seg6LocalAction;
  table?: number;
  vrftable?: number;
  nh4?: string;
  nh6?: string;
  iif?: number;
  oif?: number;
  /** End.B6 / End.B6.Encaps: the SIDs of the new SRH, in travel order. */
  srh?: string[];
  /** End.BPF: a loaded LWT_SEG6LOCAL program (fd on create; id and name on dump). */
  bpf?: { fd?: number; name?: string; id?: number };
  /** Per-route packet/byte/error counters: `true` to enable; numbers on dump. */
  counters?: boolean | { packets: bigint; bytes: bigint; errors: bigint };
  flavors?: { operations: FlavorOp[]; lblen?: number; nflen?: number };
}

export function validateSeg6Local(e: Seg6Local, field = 'encap'): void {
  const spec = PARAMS[e.action as Seg6LocalAction];
  if (!spec)
    throw new InvalidArgumentError(`${field}.action`, `unknown seg6local action ${JSON.stringify(e.action)} (known: ${Object.keys(PARAMS).join(', ')})`);
  const given = (Object.keys(e) as (keyof Seg6Local)[]).filter((k) => k !== 'type' && k !== 'action' && k !== 'counters' && e[k] !== undefined) as Param[];
  const alternatives = spec.required.length ? spec.required : [[]];
  const match = alternatives.find((req) => req.every((p) => given.includes(p)) && given.every((p) => req.includes(p) || spec.optional.includes(p)));
  if (!match) {
    const need = spec.required.map((r) => r.join('+')).join(' or ') || 'nothing';
    throw new InvalidArgumentError(
      field,
      `${e.action} takes ${need}${spec.optional.length ? ` (optional: ${spec.optional.join(', ')})` : ''}; got ${given.join(', ') || 'nothing'}`,
    );
  }
  if (e.table !== undefined) validateTable(e.table, `${field}.table`);
  if (e.vrftable !== undefined) validateTable(e.vrftable, `${field}.vrftable`);
  if (e.nh4 !== undefined) parseAddress(e.nh4, `${field}.nh4`, 4);
  if (e.nh6 !== undefined) parseAddress(e.nh6, `${field}.nh6`, 6);
  for (const k of ['iif', 'oif'] as const)
    if (e[k] !== undefined && (!Number.isInteger(e[k]) || e[k]! <= 0)) throw new InvalidArgumentError(`${field}.${k}`, 'must be a positive ifindex');
  if (e.srh !== undefined) encodeSrh(e.srh, `${field}.srh`, e.action === 'End.B6');
  if (e.bpf !== undefined && !Number.isInteger(e.bpf.fd)) throw new InvalidArgumentError(`${field}.bpf.fd`, 'End.BPF needs the fd of a loaded program');
  if (e.flavors) {
    const ops = e.flavors.operations;
    if (!Array.isArray(ops) || ops.length === 0 || ops.some((o) => !(o in FLAVOR_OPS)))
      throw new InvalidArgumentError(`${field}.flavors.operations`, `must be a non-empty list of ${Object.keys(FLAVOR_OPS).join(', ')}`);
  }
}

/** Writes the content of RTA_ENCAP for a seg6local route. */
export function encodeSeg6Local(w: AttrWriter, e: Seg6Local, field = 'encap'): void {
  validateSeg6Local(e, field);
  w.u32(SEG6_LOCAL.ACTION, SEG6LOCAL_ACTIONS[e.action]);
  // End.B6 inserts the SRH into the packet: slot 0 is the original destination (see seg6.ts).
  if (e.srh) w.bytes(SEG6_LOCAL.SRH, encodeSrh(e.srh, `${field}.srh`, e.action === 'End.B6'));
  if (e.table !== undefined) w.u32(SEG6_LOCAL.TABLE, e.table);
  if (e.vrftable !== undefined) w.u32(SEG6_LOCAL.VRFTABLE, e.vrftable);
  if (e.nh4 !== undefined) w.bytes(SEG6_LOCAL.NH4, parseAddress(e.nh4, `${field}.nh4`, 4));
  if (e.nh6 !== undefined) w.bytes(SEG6_LOCAL.NH6, parseAddress(e.nh6, `${field}.nh6`, 6));
  if (e.iif !== undefined) w.u32(SEG6_LOCAL.IIF, e.iif);
  if (e.oif !== undefined) w.u32(SEG6_LOCAL.OIF, e.oif);
  if (e.bpf) {
    const bpf = e.bpf;
    w.nested(SEG6_LOCAL.BPF, (n) => {
      n.u32(SEG6_LOCAL_BPF.PROG, bpf.fd!);
      n.string(SEG6_LOCAL_BPF.PROG_NAME, bpf.name ?? 'srv6-agent');
    });
  }
  // Counters are enabled by sending them, all zero (as iproute2's `count` does).
  if (e.counters)
    w.nested(SEG6_LOCAL.COUNTERS, (n) => {
      n.u64(SEG6_LOCAL_CNT.PACKETS, 0n);
      n.u64(SEG6_LOCAL_CNT.BYTES, 0n);
      n.u64(SEG6_LOCAL_CNT.ERRORS, 0n);
    });
  if (e.flavors) {
    const f = e.flavors;
    w.nested(SEG6_LOCAL.FLAVORS, (n) => {
      n.u32(
        SEG6_LOCAL_FLV.OPERATION,
        f.operations.reduce((m, o) => m | (1 << FLAVOR_OPS[o]), 0),
      );
      if (f.lblen !== undefined) n.u8(SEG6_LOCAL_FLV.LCBLOCK_BITS, f.lblen);
      if (f.nflen !== undefined) n.u8(SEG6_LOCAL_FLV.LCNODE_FCT_BITS, f.nflen);
    });
  }
}

export function decodeSeg6Local(a: Attrs): Seg6Local {
  const code = a.u32(SEG6_LOCAL.ACTION);
  const action = (Object.keys(SEG6LOCAL_ACTIONS) as Seg6LocalAction[]).find((k) => SEG6LOCAL_ACTIONS[k] === code);
  if (!action) throw new NetlinkDecodeError(`unknown seg6local action ${code}`);
  const e: Seg6Local = { type: 'seg6local', action };
  const table = a.u32(SEG6_LOCAL.TABLE);
  if (table !== undefined) e.table = table;
  const vrftable = a.u32(SEG6_LOCAL.VRFTABLE);
  if (vrftable !== undefined) e.vrftable = vrftable;
  const nh4 = a.raw(SEG6_LOCAL.NH4);
  if (nh4) e.nh4 = formatAddress(nh4);
  const nh6 = a.raw(SEG6_LOCAL.NH6);
  if (nh6) e.nh6 = formatAddress(nh6);
  const iif = a.u32(SEG6_LOCAL.IIF);
  if (iif !== undefined) e.iif = iif;
  const oif = a.u32(SEG6_LOCAL.OIF);
  if (oif !== undefined) e.oif = oif;
  const srh = a.raw(SEG6_LOCAL.SRH);
  if (srh) e.srh = decodeSrh(srh, action === 'End.B6');
  const bpf = a.nested(SEG6_LOCAL.BPF);
  if (bpf) e.bpf = { id: bpf.u32(SEG6_LOCAL_BPF.PROG), name: bpf.string(SEG6_LOCAL_BPF.PROG_NAME) };
  const cnt = a.nested(SEG6_LOCAL.COUNTERS);
  if (cnt)
    e.counters = {
      packets: cnt.u64(SEG6_LOCAL_CNT.PACKETS) ?? 0n,
      bytes: cnt.u64(SEG6_LOCAL_CNT.BYTES) ?? 0n,
      errors: cnt.u64(SEG6_LOCAL_CNT.ERRORS) ?? 0n,
    };
  const flv = a.nested(SEG6_LOCAL.FLAVORS);
  if (flv) {
    const mask = flv.u32(SEG6_LOCAL_FLV.OPERATION) ?? 0;
    e.flavors = { operations: (Object.keys(FLAVOR_OPS) as FlavorOp[]).filter((o) => mask & (1 << FLAVOR_OPS[o])) };
    const lblen = flv.u8(SEG6_LOCAL_FLV.LCBLOCK_BITS);
    if (lblen !== undefined) e.flavors.lblen = lblen;
    const nflen = flv.u8(SEG6_LOCAL_FLV.LCNODE_FCT_BITS);
    if (nflen !== undefined) e.flavors.nflen = nflen;
  }
  return e;
}
