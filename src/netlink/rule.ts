// Policy routing rules (RTM_*RULE, struct fib_rule_hdr + FRA_*).
import { AttrWriter, parseAttrs } from './attributes';
import { FR_ACT, FRA, NLM_F, RT_TABLE, RTM } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { afOf, Family, familyOf, formatPrefix, parsePrefix } from './ip';
import { validateIfname } from './link';
import { NetlinkMessage, NlRequest } from './message';
import { validateTable, validateU32, validateU8 } from './validate';

const FRH_LEN = 12;
export const RULE_ACTIONS = {
  lookup: FR_ACT.TO_TBL,
  goto: FR_ACT.GOTO,
  nop: FR_ACT.NOP,
  blackhole: FR_ACT.BLACKHOLE,
  unreachable: FR_ACT.UNREACHABLE,
  prohibit: FR_ACT.PROHIBIT,
} as const;
export type RuleAction = keyof typeof RULE_ACTIONS;

export interface Rule {
  family: Family;
  priority?: number;
  action?: RuleAction;
  table?: number;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  src?: string;
  dst?: string;
  /** Action `goto`: the priority to continue at (FRA_GOTO); must be above the rule's own. */
  goto?: number;
  /** Look up the table of the l3mdev (VRF) the packet is on. */
  l3mdev?: boolean;
  protocol?: number;
}

function validate(r: Rule): void {
  if (r.family !== 4 && r.family !== 6) throw new InvalidArgumentError('family', 'must be 4 or 6');
  if (r.action !== undefined && !(r.action in RULE_ACTIONS)) throw new InvalidArgumentError('action', `must be one of ${Object.keys(RULE_ACTIONS).join(', ')}`);
  if (r.priority !== undefined) validateU32(r.priority, 'priority');
  if (r.table !== undefined) validateTable(r.table, 'table', { lookupOnly: true });
  if (r.iif !== undefined) validateIfname(r.iif, 'iif');
  if (r.oif !== undefined) validateIfname(r.oif, 'oif');
  if (r.fwmark !== undefined) validateU32(r.fwmark, 'fwmark');
  if (r.fwmask !== undefined) validateU32(r.fwmask, 'fwmask');
  if (r.protocol !== undefined) validateU8(r.protocol, 'protocol');
  if ((r.action ?? 'lookup') === 'lookup' && r.table === undefined && !r.l3mdev)
    throw new InvalidArgumentError('table', 'a lookup rule needs a table (or l3mdev)');
  if (r.action === 'goto') {
    if (r.goto === undefined) throw new InvalidArgumentError('goto', 'a goto rule needs a target priority');
    validateU32(r.goto, 'goto');
    // The kernel refuses backward (and same-priority) jumps, which could loop.
    if (r.priority === undefined || r.goto <= r.priority) throw new InvalidArgumentError('goto', "the target priority must be above the rule's own priority");
  } else if (r.goto !== undefined) throw new InvalidArgumentError('goto', 'only a goto rule has a target priority');
}

function encode(r: Rule, type: number, flags: number): NlRequest {
  validate(r);
  const src = r.src !== undefined ? parsePrefix(r.src, 'src', { family: r.family }) : undefined;
  const dst = r.dst !== undefined ? parsePrefix(r.dst, 'dst', { family: r.family }) : undefined;
  const table = r.table ?? RT_TABLE.UNSPEC;
  const h = Buffer.alloc(FRH_LEN);
  h.writeUInt8(afOf(r.family), 0);
  h.writeUInt8(dst?.len ?? 0, 1);
  h.writeUInt8(src?.len ?? 0, 2);
  h.writeUInt8(table < 256 ? table : RT_TABLE.UNSPEC, 4);
  h.writeUInt8(RULE_ACTIONS[r.action ?? 'lookup'], 7);
  const w = new AttrWriter().header(h);
  if (table >= 256) w.u32(FRA.TABLE, table);
  if (r.priority !== undefined) w.u32(FRA.PRIORITY, r.priority);
  if (r.goto !== undefined) w.u32(FRA.GOTO, r.goto);
  if (src) w.bytes(FRA.SRC, src.addr);
  if (dst) w.bytes(FRA.DST, dst.addr);
  if (r.iif !== undefined) w.string(FRA.IIFNAME, r.iif);
  if (r.oif !== undefined) w.string(FRA.OIFNAME, r.oif);
  if (r.fwmark !== undefined) w.u32(FRA.FWMARK, r.fwmark);
  if (r.fwmask !== undefined) w.u32(FRA.FWMASK, r.fwmask);
  if (r.l3mdev) w.u8(FRA.L3MDEV, 1);
  if (r.protocol !== undefined) w.u8(FRA.PROTOCOL, r.protocol);
  const what = `rule${r.priority !== undefined ? ` pref ${r.priority}` : ''}${r.iif ? ` iif ${r.iif}` : ''}${r.dst ? ` to ${r.dst}` : ''}${r.table ? ` table ${r.table}` : ''}${r.goto !== undefined ? ` goto ${r.goto}` : ''}`;
  return { type, flags, body: w.finish(), what };
}

export function ruleAddRequest(r: Rule): NlRequest {
  return encode(r, RTM.NEWRULE, NLM_F.CREATE | NLM_F.EXCL);
}

export function ruleDeleteRequest(r: Rule): NlRequest {
  return encode(r, RTM.DELRULE, 0);
}

export function ruleDumpRequest(family?: Family): NlRequest {
  const h = Buffer.alloc(FRH_LEN);
  if (family) h.writeUInt8(afOf(family), 0);
  return { type: RTM.GETRULE, flags: 0, body: h, what: 'rule dump' };
}

export function decodeRule(msg: NetlinkMessage): Rule {
  const p = msg.payload;
  if (p.length < FRH_LEN) throw new NetlinkDecodeError(`fib_rule_hdr too short: ${p.length}`);
  const family = familyOf(p.readUInt8(0));
  const a = parseAttrs(p, FRH_LEN);
  const actionCode = p.readUInt8(7);
  const action = (Object.keys(RULE_ACTIONS) as RuleAction[]).find((k) => RULE_ACTIONS[k] === actionCode);
  const r: Rule = { family, priority: a.u32(FRA.PRIORITY) ?? 0 };
  // Table 0 (RT_TABLE_UNSPEC) is no table: what a goto, an l3mdev or a blackhole rule reports. Kept,
  // it made the rule impossible to send back (validate refuses table 0): a dumped goto was undeletable.
  const table = a.u32(FRA.TABLE) ?? p.readUInt8(4);
  if (table !== 0) r.table = table;
  if (action) r.action = action;
  const set = <K extends keyof Rule>(k: K, v: Rule[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set('iif', a.string(FRA.IIFNAME));
  set('oif', a.string(FRA.OIFNAME));
  set('fwmark', a.u32(FRA.FWMARK));
  set('fwmask', a.u32(FRA.FWMASK));
  set('goto', a.u32(FRA.GOTO));
  set('protocol', a.u8(FRA.PROTOCOL));
  if (a.u8(FRA.L3MDEV)) r.l3mdev = true;
  const src = a.raw(FRA.SRC);
  if (src) r.src = formatPrefix(src, p.readUInt8(2));
  const dst = a.raw(FRA.DST);
  if (dst) r.dst = formatPrefix(dst, p.readUInt8(1));
  return r;
}
