// Nexthop objects (RTM_*NEXTHOP, struct nhmsg + NHA_*): single nexthops (optionally with seg6
// encap) and groups. Routes point at them with RTA_NH_ID; replacing one re-points every route.
import { AttrWriter, parseAttrs } from './attributes';
import { AF, LWTUNNEL_ENCAP, NEXTHOP_GRP_TYPE, NHA, NLM_F, RTM, RTNH_F, RTPROT } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { addressFamily, afOf, Family, formatAddress, parseAddress } from './ip';
import { NetlinkMessage, NlRequest } from './message';
import { decodeEncap } from './route';
import { encodeSeg6, Seg6Encap, validateSeg6 } from './seg6';
import { validateU32, validateU8 } from './validate';

const NHMSG_LEN = 8;

export interface NexthopGroupMember {
  id: number;
  /** 1..256 */
  weight?: number;
}

export interface Nexthop {
  id: number;
  /** Needed when neither gateway nor group tells it (e.g. a device-only seg6 nexthop). */
  family?: Family;
  oif?: number;
  gateway?: string;
  onlink?: boolean;
  blackhole?: boolean;
  encap?: Seg6Encap;
  group?: NexthopGroupMember[];
  groupType?: 'mpath' | 'resilient';
  protocol?: number;
  fdb?: boolean;
}

function nhmsg(af: number, protocol: number, flags: number): Buffer {
  const b = Buffer.alloc(NHMSG_LEN);
  b.writeUInt8(af, 0);
  b.writeUInt8(protocol, 2);
  b.writeUInt32LE(flags, 4);
  return b;
}

export function validateNexthop(n: Nexthop): number {
  validateU32(n.id, 'id', 1);
  if (n.protocol !== undefined) validateU8(n.protocol, 'protocol');
  const kinds = [n.group !== undefined, n.blackhole === true, n.oif !== undefined || n.gateway !== undefined].filter(Boolean).length;
  if (kinds !== 1) throw new InvalidArgumentError('nexthop', 'give exactly one of: group, blackhole, or oif/gateway');
  if (n.group) {
    if (!Array.isArray(n.group) || n.group.length === 0) throw new InvalidArgumentError('group', 'must be a non-empty list');
    n.group.forEach((g, i) => {
      validateU32(g.id, `group[${i}].id`, 1);
      if (g.weight !== undefined && (!Number.isInteger(g.weight) || g.weight < 1 || g.weight > 256))
        throw new InvalidArgumentError(`group[${i}].weight`, 'must be 1..256');
    });
    if (n.encap) throw new InvalidArgumentError('encap', 'a group takes encap from its members');
    return AF.UNSPEC;
  }
  if (n.oif !== undefined) validateU32(n.oif, 'oif', 1);
  let family = n.family;
  if (n.gateway !== undefined) {
    const gf = addressFamily(n.gateway);
    if (!gf) parseAddress(n.gateway, 'gateway');
    if (family && family !== gf) throw new InvalidArgumentError('gateway', `gateway ${n.gateway} is not IPv${family}`);
    family = gf;
  }
  if (n.encap) validateSeg6(n.encap, 'encap');
  if (n.blackhole) return family ? afOf(family) : AF.UNSPEC;
  if (!family) throw new InvalidArgumentError('family', 'a nexthop without gateway needs a family (4 or 6)');
  return afOf(family);
}

function encode(n: Nexthop, flags: number): NlRequest {
  const af = validateNexthop(n);
  const w = new AttrWriter().header(nhmsg(af, n.protocol ?? RTPROT.BOOT, n.onlink ? RTNH_F.ONLINK : 0));
  w.u32(NHA.ID, n.id);
  if (n.group) {
    const b = Buffer.alloc(8 * n.group.length);
    n.group.forEach((g, i) => {
      b.writeUInt32LE(g.id, 8 * i);
      b.writeUInt8((g.weight ?? 1) - 1, 8 * i + 4);
    });
    w.bytes(NHA.GROUP, b);
    w.u16(NHA.GROUP_TYPE, n.groupType === 'resilient' ? NEXTHOP_GRP_TYPE.RES : NEXTHOP_GRP_TYPE.MPATH);
  }
  if (n.blackhole) w.flag(NHA.BLACKHOLE);
  if (n.oif !== undefined) w.u32(NHA.OIF, n.oif);
  if (n.gateway !== undefined) w.bytes(NHA.GATEWAY, parseAddress(n.gateway, 'gateway'));
  if (n.encap) {
    const e = n.encap;
    w.u16(NHA.ENCAP_TYPE, LWTUNNEL_ENCAP.SEG6);
    w.nested(NHA.ENCAP, (x) => encodeSeg6(x, e));
  }
  if (n.fdb) w.flag(NHA.FDB);
  return { type: RTM.NEWNEXTHOP, flags, body: w.finish(), what: `nexthop ${n.id}` };
}

export function nexthopAddRequest(n: Nexthop, replace = false): NlRequest {
  return encode(n, NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL));
}

export function nexthopDeleteRequest(id: number): NlRequest {
  validateU32(id, 'id', 1);
  const w = new AttrWriter().header(nhmsg(AF.UNSPEC, 0, 0));
  w.u32(NHA.ID, id);
  return { type: RTM.DELNEXTHOP, flags: 0, body: w.finish(), what: `nexthop ${id}` };
}

/** One nexthop by id (a GET, not a dump). */
export function nexthopGetRequest(id: number): NlRequest {
  const w = new AttrWriter().header(nhmsg(AF.UNSPEC, 0, 0));
  w.u32(NHA.ID, validateU32(id, 'id', 1));
  return { type: RTM.GETNEXTHOP, flags: 0, body: w.finish(), what: `nexthop ${id}` };
}

/** Dump; the kernel filters by oif, groups-only or fdb (not by protocol: filter that yourself). */
export function nexthopDumpRequest(f: { oif?: number; groups?: boolean } = {}): NlRequest {
  const w = new AttrWriter().header(nhmsg(AF.UNSPEC, 0, 0));
  if (f.oif) w.u32(NHA.OIF, f.oif);
  if (f.groups) w.flag(NHA.GROUPS);
  return { type: RTM.GETNEXTHOP, flags: 0, body: w.finish(), what: 'nexthop dump' };
}

export function decodeNexthop(msg: NetlinkMessage): Nexthop {
  const p = msg.payload;
  if (p.length < NHMSG_LEN) throw new NetlinkDecodeError(`nhmsg too short: ${p.length}`);
  const a = parseAttrs(p, NHMSG_LEN);
  const id = a.u32(NHA.ID);
  if (id === undefined) throw new NetlinkDecodeError('nexthop without NHA_ID');
  const af = p.readUInt8(0);
  const n: Nexthop = { id, protocol: p.readUInt8(2) };
  if (af === AF.INET || af === AF.INET6) n.family = af === AF.INET ? 4 : 6;
  if (p.readUInt32LE(4) & RTNH_F.ONLINK) n.onlink = true;
  const grp = a.raw(NHA.GROUP);
  if (grp) {
    if (grp.length % 8) throw new NetlinkDecodeError(`NHA_GROUP of ${grp.length} bytes`);
    n.group = [];
    for (let i = 0; i < grp.length; i += 8) n.group.push({ id: grp.readUInt32LE(i), weight: grp.readUInt8(i + 4) + 1 });
    n.groupType = a.u16(NHA.GROUP_TYPE) === NEXTHOP_GRP_TYPE.RES ? 'resilient' : 'mpath';
  }
  if (a.has(NHA.BLACKHOLE)) n.blackhole = true;
  const oif = a.u32(NHA.OIF);
  if (oif !== undefined) n.oif = oif;
  const gw = a.raw(NHA.GATEWAY);
  if (gw) n.gateway = formatAddress(gw);
  const encap = decodeEncap(a.u16(NHA.ENCAP_TYPE), a.raw(NHA.ENCAP));
  if (encap?.type === 'seg6') n.encap = encap;
  if (a.has(NHA.FDB)) n.fdb = true;
  return n;
}
