// Neighbour table dump (RTM_GETNEIGH, struct ndmsg + NDA_*).
import { AttrWriter, parseAttrs } from './attributes';
import { NDA, NUD, RTM } from './constants';
import { NetlinkDecodeError } from './errors';
import { afOf, Family, familyOf, formatAddress, formatMac } from './ip';
import { NetlinkMessage, NlRequest } from './message';

const NDMSG_LEN = 12;

export interface Neighbour {
  family: Family;
  index: number;
  dst: string;
  lladdr?: string;
  /** NUD state names, e.g. ["reachable"], ["permanent"]. */
  state: string[];
}

/** Dump; with strict checking the interface filter is an attribute, the header must stay zero. */
export function neighbourDumpRequest(family?: Family, index = 0): NlRequest {
  const b = Buffer.alloc(NDMSG_LEN);
  if (family) b.writeUInt8(afOf(family), 0);
  const w = new AttrWriter().header(b);
  if (index) w.u32(NDA.IFINDEX, index);
  return { type: RTM.GETNEIGH, flags: 0, body: w.finish(), what: 'neighbour dump' };
}

export function decodeNeighbour(msg: NetlinkMessage): Neighbour {
  const p = msg.payload;
  if (p.length < NDMSG_LEN) throw new NetlinkDecodeError(`ndmsg too short: ${p.length}`);
  const a = parseAttrs(p, NDMSG_LEN);
  const dst = a.raw(NDA.DST);
  if (!dst) throw new NetlinkDecodeError('neighbour without NDA_DST');
  const state = p.readUInt16LE(8);
  const n: Neighbour = {
    family: familyOf(p.readUInt8(0)),
    index: p.readInt32LE(4),
    dst: formatAddress(dst),
    state: Object.entries(NUD)
      .filter(([, bit]) => state & bit)
      .map(([name]) => name),
  };
  const ll = a.raw(NDA.LLADDR);
  if (ll) n.lladdr = formatMac(ll);
  return n;
}
