// Generic netlink: the framing every family shares (struct genlmsghdr after the netlink header)
// and the controller that turns a family's name into the message type it is reached at.
import { AttrWriter, parseAttrs } from './attributes';
import { NetlinkMessage, NlRequest } from './message';
import { NetlinkDecodeError } from './errors';

export const NETLINK_GENERIC = 16;
/** struct genlmsghdr: cmd u8, version u8, reserved u16. */
export const GENL_HDRLEN = 4;

const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_VERSION = 2;
const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2 } as const;

export function genlHeader(cmd: number, version: number): Buffer {
  const h = Buffer.alloc(GENL_HDRLEN);
  h.writeUInt8(cmd, 0);
  h.writeUInt8(version, 1);
  return h;
}

/** The family's attributes after the genlmsghdr of a reply. */
export function genlAttrs(msg: NetlinkMessage): ReturnType<typeof parseAttrs> {
  if (msg.payload.length < GENL_HDRLEN) throw new NetlinkDecodeError(`genlmsghdr too short: ${msg.payload.length}`);
  return parseAttrs(msg.payload, GENL_HDRLEN);
}

export function familyRequest(name: string): NlRequest {
  return {
    type: GENL_ID_CTRL,
    flags: 0,
    body: new AttrWriter().header(genlHeader(CTRL_CMD_GETFAMILY, CTRL_VERSION)).string(CTRL_ATTR.FAMILY_NAME, name).finish(),
    what: `genl family ${name}`,
  };
}

/** The message type of the family a CTRL_CMD_GETFAMILY reply describes. */
export function decodeFamilyId(msg: NetlinkMessage): number {
  const id = genlAttrs(msg).u16(CTRL_ATTR.FAMILY_ID);
  if (id === undefined) throw new NetlinkDecodeError('genl family reply without CTRL_ATTR_FAMILY_ID');
  return id;
}
