// The outer IPv6 source of every seg6 encapsulation in a network namespace ("ip sr tunsrc"): one
// value per namespace, kept by the kernel's "SEG6" generic netlink family (uapi seg6_genl.h).
// Without it the kernel picks a source address per packet, whichever the route lookup gives.
import { AttrWriter } from './attributes';
import { NetlinkDecodeError } from './errors';
import { genlAttrs, genlHeader } from './genl';
import { formatAddress, parseAddress } from './ip';
import { NetlinkMessage, NlRequest } from './message';

export const SEG6_GENL_NAME = 'SEG6';
const SEG6_GENL_VERSION = 1;
const SEG6_CMD = { SET_TUNSRC: 3, GET_TUNSRC: 4 } as const;
const SEG6_ATTR_DST = 1;

export function tunsrcSetRequest(family: number, address: string): NlRequest {
  const a = parseAddress(address, 'tunsrc', 6);
  return {
    type: family,
    flags: 0,
    body: new AttrWriter().header(genlHeader(SEG6_CMD.SET_TUNSRC, SEG6_GENL_VERSION)).bytes(SEG6_ATTR_DST, a).finish(),
    what: `seg6 tunsrc ${formatAddress(a)}`,
  };
}

export function tunsrcGetRequest(family: number): NlRequest {
  return { type: family, flags: 0, body: genlHeader(SEG6_CMD.GET_TUNSRC, SEG6_GENL_VERSION), what: 'seg6 tunsrc' };
}

/** The tunnel source a GET_TUNSRC reply carries ("::" when none is set). */
export function decodeTunsrc(msg: NetlinkMessage): string {
  const dst = genlAttrs(msg).raw(SEG6_ATTR_DST);
  if (!dst || dst.length !== 16) throw new NetlinkDecodeError('seg6 tunsrc reply without a 16-byte SEG6_ATTR_DST');
  return formatAddress(dst);
}
