// Routes (RTM_*ROUTE, struct rtmsg + RTA_*), with seg6 / seg6local encapsulation and nexthop ids.
import { AttrWriter, Attrs, parseAttrs } from './attributes';
import { LWTUNNEL_ENCAP, NLM_F, RT_SCOPE, RT_TABLE, RTA, RTAX, RTM, RTN, RTPROT } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { afOf, Family, familyOf, formatAddress, formatPrefix, parseAddress, parsePrefix } from './ip';
import { NetlinkMessage, NlRequest } from './message';
import { decodeSeg6, encodeSeg6, Seg6Encap, validateSeg6 } from './seg6';
import { validateTable, validateU32, validateU8 } from './validate';
import { decodeSeg6Local, encodeSeg6Local, Seg6Local, validateSeg6Local } from './seg6local';

const RTMSG_LEN = 12;

export const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw'] as const;
export type RouteType = (typeof ROUTE_TYPES)[number];

export type RouteEncap = Seg6Encap | Seg6Local;

export const METRICS = {
  lock: RTAX.LOCK,
  mtu: RTAX.MTU,
  window: RTAX.WINDOW,
  rtt: RTAX.RTT,
  rttvar: RTAX.RTTVAR,
  ssthresh: RTAX.SSTHRESH,
  cwnd: RTAX.CWND,
  advmss: RTAX.ADVMSS,
  reordering: RTAX.REORDERING,
  hoplimit: RTAX.HOPLIMIT,
  initcwnd: RTAX.INITCWND,
  features: RTAX.FEATURES,
  rto_min: RTAX.RTO_MIN,
  initrwnd: RTAX.INITRWND,
  quickack: RTAX.QUICKACK,
} as const;
export type Metrics = Partial<Record<keyof typeof METRICS, number>>;

export interface Hop {
  gateway?: string;
  oif?: number;
  /** 1..256 */
  weight?: number;
  encap?: Seg6Encap;
  flags?: number;
}

export interface Route {
  /** "prefix/len" or "default" (then `family` is needed). */
  dst: string;
  family?: Family;
  /** Table id 1..2^32-1; default main (254). Ids > 255 travel in RTA_TABLE. */
  table?: number;
  protocol?: number;
  scope?: number;
  type?: RouteType;
  /** RTA_PRIORITY, `metric` in iproute2. */
  priority?: number;
  gateway?: string;
  oif?: number;
  prefsrc?: string;
  /** Use a nexthop object instead of an inline nexthop. */
  nhid?: number;
  multipath?: Hop[];
  metrics?: Metrics;
  encap?: RouteEncap;
  /** rtm_flags as dumped (RTNH_F_*, RTM_F_*). */
  flags?: number;
}

function rtmsg(family: Family, dstLen: number, table: number, protocol: number, scope: number, type: number, flags = 0): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(afOf(family), 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table < 256 ? table : RT_TABLE.UNSPEC, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  b.writeUInt32LE(flags, 8);
  return b;
}

function encodeEncap(w: AttrWriter, typeAttr: number, encapAttr: number, e: RouteEncap, field: string): void {
  if (e.type === 'seg6') {
    w.u16(typeAttr, LWTUNNEL_ENCAP.SEG6);
    w.nested(encapAttr, (n) => encodeSeg6(n, e, field));
  } else if (e.type === 'seg6local') {
    w.u16(typeAttr, LWTUNNEL_ENCAP.SEG6_LOCAL);
    w.nested(encapAttr, (n) => encodeSeg6Local(n, e, field));
  } else {
    throw new InvalidArgumentError(`${field}.type`, `unsupported encap ${JSON.stringify((e as { type?: unknown }).type)}`);
  }
}

export function decodeEncap(type: number | undefined, data: Buffer | undefined): RouteEncap | undefined {
  if (type === undefined || !data) return undefined;
  if (type === LWTUNNEL_ENCAP.SEG6) return decodeSeg6(parseAttrs(data));
  if (type === LWTUNNEL_ENCAP.SEG6_LOCAL) return decodeSeg6Local(parseAttrs(data));
  return undefined;
}

/** Checks everything the kernel would otherwise discover late (or ignore). */
export function validateRoute(r: Route): { family: Family; dstLen: number; dst: Buffer } {
  const p = parsePrefix(r.dst, 'dst', { family: r.family });
  if (r.family && r.family !== p.family) throw new InvalidArgumentError('family', `dst ${r.dst} is not IPv${r.family}`);
  if (r.table !== undefined) validateTable(r.table, 'table');
  if (r.type !== undefined && !ROUTE_TYPES.includes(r.type)) throw new InvalidArgumentError('type', `unknown route type ${JSON.stringify(r.type)}`);
  if (r.protocol !== undefined) validateU8(r.protocol, 'protocol');
  if (r.scope !== undefined) validateU8(r.scope, 'scope');
  if (r.priority !== undefined) validateU32(r.priority, 'priority');
  if (r.gateway !== undefined) parseAddress(r.gateway, 'gateway');
  if (r.prefsrc !== undefined) parseAddress(r.prefsrc, 'prefsrc', p.family);
  if (r.oif !== undefined) validateU32(r.oif, 'oif', 1);
  if (r.nhid !== undefined) {
    validateU32(r.nhid, 'nhid', 1);
    if (r.gateway || r.oif || r.multipath || r.encap)
      throw new InvalidArgumentError('nhid', 'a route with nhid takes its gateway, device and encap from the nexthop object');
  }
  if (r.multipath) {
    if (!Array.isArray(r.multipath) || r.multipath.length === 0) throw new InvalidArgumentError('multipath', 'must be a non-empty list');
    if (r.gateway || r.oif) throw new InvalidArgumentError('multipath', 'use either gateway/oif or multipath');
    r.multipath.forEach((h, i) => {
      if (h.gateway !== undefined) parseAddress(h.gateway, `multipath[${i}].gateway`, p.family);
      if (h.oif !== undefined) validateU32(h.oif, `multipath[${i}].oif`, 1);
      if (h.weight !== undefined && (!Number.isInteger(h.weight) || h.weight < 1 || h.weight > 256))
        throw new InvalidArgumentError(`multipath[${i}].weight`, 'must be 1..256');
      if (h.encap) validateSeg6(h.encap, `multipath[${i}].encap`);
    });
  }
  if (r.metrics) {
    for (const [k, v] of Object.entries(r.metrics)) {
      if (!(k in METRICS)) throw new InvalidArgumentError(`metrics.${k}`, `unknown metric (known: ${Object.keys(METRICS).join(', ')})`);
      validateU32(v, `metrics.${k}`);
    }
  }
  if (r.encap) {
    if (r.encap.type === 'seg6local') {
      if (p.family !== 6) throw new InvalidArgumentError('encap', 'seg6local exists only on IPv6 routes');
      validateSeg6Local(r.encap);
    } else if (r.encap.type === 'seg6') {
      validateSeg6(r.encap, 'encap');
      if (r.encap.mode === 'inline' && p.family !== 6) throw new InvalidArgumentError('encap.mode', 'inline SRH insertion needs an IPv6 route');
    } else {
      throw new InvalidArgumentError('encap.type', `unsupported encap ${JSON.stringify((r.encap as { type?: unknown }).type)}`);
    }
  }
  return { family: p.family, dstLen: p.len, dst: p.addr };
}

/** iproute2's default scope: host for local, link for device routes, universe otherwise. */
function defaultScope(r: Route, type: number, del: boolean): number {
  if (type === RTN.LOCAL) return RT_SCOPE.HOST;
  if (type === RTN.BROADCAST || type === RTN.MULTICAST || type === RTN.ANYCAST) return RT_SCOPE.LINK;
  if (type === RTN.UNICAST) {
    if (del) return RT_SCOPE.NOWHERE;
    if (!r.gateway && !r.multipath && !r.nhid) return RT_SCOPE.LINK;
  }
  return RT_SCOPE.UNIVERSE;
}

function encodeRoute(r: Route, msgType: number, flags: number): NlRequest {
  const v = validateRoute(r);
  const del = msgType === RTM.DELROUTE;
  const type = ROUTE_TYPES.indexOf(r.type ?? 'unicast');
  const table = r.table ?? RT_TABLE.MAIN;
  const protocol = r.protocol ?? (del ? RTPROT.UNSPEC : RTPROT.BOOT);
  const scope = r.scope ?? defaultScope(r, type, del);
  const w = new AttrWriter().header(rtmsg(v.family, v.dstLen, table, protocol, scope, type));
  if (table >= 256) w.u32(RTA.TABLE, table);
  if (v.dstLen > 0) w.bytes(RTA.DST, v.dst);
  if (r.priority !== undefined) w.u32(RTA.PRIORITY, r.priority);
  if (r.prefsrc !== undefined) w.bytes(RTA.PREFSRC, parseAddress(r.prefsrc, 'prefsrc'));
  if (r.gateway !== undefined) w.bytes(RTA.GATEWAY, parseAddress(r.gateway, 'gateway'));
  if (r.oif !== undefined) w.u32(RTA.OIF, r.oif);
  if (r.nhid !== undefined) w.u32(RTA.NH_ID, r.nhid);
  if (r.encap) encodeEncap(w, RTA.ENCAP_TYPE, RTA.ENCAP, r.encap, 'encap');
  if (r.metrics) {
    const m = r.metrics;
    w.nested(
      RTA.METRICS,
      (n) => {
        for (const [k, val] of Object.entries(m)) n.u32(METRICS[k as keyof typeof METRICS], val!);
      },
      false,
    );
  }
  if (r.multipath) {
    const hops = r.multipath;
    w.nested(
      RTA.MULTIPATH,
      (n) => {
        hops.forEach((h, i) =>
          n.lengthPrefixed(
            (hw) => {
              // struct rtnexthop { u16 len; u8 flags; u8 hops (weight - 1); s32 ifindex }
              const rtnh = Buffer.alloc(8);
              rtnh.writeUInt8(h.flags ?? 0, 2);
              rtnh.writeUInt8((h.weight ?? 1) - 1, 3);
              rtnh.writeInt32LE(h.oif ?? 0, 4);
              hw.header(rtnh);
              if (h.gateway !== undefined) hw.bytes(RTA.GATEWAY, parseAddress(h.gateway, `multipath[${i}].gateway`));
              if (h.encap) encodeEncap(hw, RTA.ENCAP_TYPE, RTA.ENCAP, h.encap, `multipath[${i}].encap`);
            },
            (buf, at, len) => buf.writeUInt16LE(len, at),
          ),
        );
      },
      false,
    );
  }
  return { type: msgType, flags, body: w.finish(), what: describeRoute(r) };
}

export function describeRoute(r: Route): string {
  return `route ${r.dst}${r.table && r.table !== RT_TABLE.MAIN ? ` table ${r.table}` : ''}`;
}

/** Add (CREATE|EXCL: IPv6 would otherwise append a second route) or replace (CREATE|REPLACE). */
export function routeAddRequest(r: Route, replace = false): NlRequest {
  return encodeRoute(r, RTM.NEWROUTE, NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL));
}

export function routeDeleteRequest(r: Route): NlRequest {
  return encodeRoute(r, RTM.DELROUTE, 0);
}

export interface RouteFilter {
  family?: Family;
  table?: number;
  protocol?: number;
  type?: RouteType;
  oif?: number;
}

/** A dump the kernel filters for us (strict checking): table, protocol, type, oif. */
export function routeDumpRequest(f: RouteFilter = {}): NlRequest {
  const table = f.table ?? 0;
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(f.family ? afOf(f.family) : 0, 0);
  b.writeUInt8(table < 256 ? table : 0, 4);
  b.writeUInt8(f.protocol ?? 0, 5);
  b.writeUInt8(f.type ? ROUTE_TYPES.indexOf(f.type) : 0, 7);
  const w = new AttrWriter().header(b);
  if (table >= 256) w.u32(RTA.TABLE, table);
  if (f.oif) w.u32(RTA.OIF, f.oif);
  return { type: RTM.GETROUTE, flags: 0, body: w.finish(), what: 'route dump' };
}

export function decodeRoute(msg: NetlinkMessage): Route {
  const p = msg.payload;
  if (p.length < RTMSG_LEN) throw new NetlinkDecodeError(`rtmsg too short: ${p.length}`);
  const family = familyOf(p.readUInt8(0));
  const dstLen = p.readUInt8(1);
  const a = parseAttrs(p, RTMSG_LEN);
  const dst = a.raw(RTA.DST) ?? Buffer.alloc(family === 4 ? 4 : 16);
  const r: Route = {
    dst: dstLen === 0 ? 'default' : formatPrefix(dst, dstLen),
    family,
    table: a.u32(RTA.TABLE) ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    scope: p.readUInt8(6),
    type: ROUTE_TYPES[p.readUInt8(7)] ?? 'unspec',
    flags: p.readUInt32LE(8),
  };
  const set = <K extends keyof Route>(k: K, v: Route[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set('priority', a.u32(RTA.PRIORITY));
  set('oif', a.u32(RTA.OIF));
  set('nhid', a.u32(RTA.NH_ID));
  const gw = a.raw(RTA.GATEWAY);
  if (gw) r.gateway = formatAddress(gw);
  const src = a.raw(RTA.PREFSRC);
  if (src) r.prefsrc = formatAddress(src);
  set('encap', decodeEncap(a.u16(RTA.ENCAP_TYPE), a.raw(RTA.ENCAP)));
  const metrics = a.raw(RTA.METRICS);
  if (metrics) r.metrics = decodeMetrics(parseAttrs(metrics));
  const mp = a.raw(RTA.MULTIPATH);
  if (mp) r.multipath = decodeMultipath(mp);
  return r;
}

function decodeMetrics(a: Attrs): Metrics {
  const out: Metrics = {};
  for (const [k, t] of Object.entries(METRICS)) {
    const v = a.u32(t);
    if (v !== undefined) out[k as keyof Metrics] = v;
  }
  return out;
}

function decodeMultipath(b: Buffer): Hop[] {
  const hops: Hop[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 8 || off + len > b.length) throw new NetlinkDecodeError(`rtnexthop has bad length ${len}`);
    const a = parseAttrs(b, off + 8, off + len);
    const h: Hop = { weight: b.readUInt8(off + 3) + 1, flags: b.readUInt8(off + 2) };
    const oif = b.readInt32LE(off + 4);
    if (oif) h.oif = oif;
    const gw = a.raw(RTA.GATEWAY);
    if (gw) h.gateway = formatAddress(gw);
    const encap = decodeEncap(a.u16(RTA.ENCAP_TYPE), a.raw(RTA.ENCAP));
    if (encap?.type === 'seg6') h.encap = encap;
    hops.push(h);
    off += (len + 3) & ~3;
  }
  return hops;
}
