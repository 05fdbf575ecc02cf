// Interface addresses (RTM_*ADDR, struct ifaddrmsg + IFA_*).
import { AttrWriter, parseAttrs } from './attributes';
import { IFA, IFA_F, NLM_F, RT_SCOPE, RTM } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { afOf, Family, familyOf, formatAddress, parsePrefix } from './ip';
import { NetlinkMessage, NlRequest } from './message';

const IFADDRMSG_LEN = 8;

export interface AddressSpec {
  /** ifindex of the interface. */
  index: number;
  /** "10.0.0.1/24" or "fc00::1/64" (host bits allowed: it is an interface address). */
  address: string;
  /** Skip duplicate address detection (IPv6): addresses are usable at once. */
  nodad?: boolean;
  /** Do not add the connected prefix route. */
  noprefixroute?: boolean;
  scope?: number;
  label?: string;
  /** IFA_PROTO (5.18+): who added the address; marks ownership. */
  protocol?: number;
}

export interface Address {
  index: number;
  family: Family;
  /** "addr/len" */
  address: string;
  scope: number;
  flags: number;
  label?: string;
  protocol?: number;
}

function ifaddrmsg(family: Family, len: number, scope: number, index: number, flags = 0): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(afOf(family), 0);
  b.writeUInt8(len, 1);
  b.writeUInt8(flags & 0xff, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

function checkIndex(index: unknown): number {
  if (!Number.isInteger(index) || (index as number) <= 0) throw new InvalidArgumentError('index', `ifindex must be a positive integer, got ${index}`);
  return index as number;
}

function encode(spec: AddressSpec, type: number, flags: number): NlRequest {
  const p = parsePrefix(spec.address, 'address', { allowHostBits: true });
  const ifaFlags = (spec.nodad ? IFA_F.NODAD : 0) | (spec.noprefixroute ? IFA_F.NOPREFIXROUTE : 0);
  const w = new AttrWriter().header(ifaddrmsg(p.family, p.len, spec.scope ?? RT_SCOPE.UNIVERSE, checkIndex(spec.index), ifaFlags));
  // As iproute2: IFA_LOCAL is our address, IFA_ADDRESS the peer (= local when there is none).
  w.bytes(IFA.LOCAL, p.addr);
  w.bytes(IFA.ADDRESS, p.addr);
  if (spec.label !== undefined) w.string(IFA.LABEL, spec.label);
  if (ifaFlags > 0xff) w.u32(IFA.FLAGS, ifaFlags);
  if (spec.protocol !== undefined) w.u8(IFA.PROTO, spec.protocol);
  return { type, flags, body: w.finish(), what: `address ${spec.address} on ifindex ${spec.index}` };
}

export function addressAddRequest(spec: AddressSpec, replace = false): NlRequest {
  return encode(spec, RTM.NEWADDR, NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL));
}

export function addressDeleteRequest(spec: AddressSpec): NlRequest {
  return encode(spec, RTM.DELADDR, 0);
}

/** Dump, optionally of one family and (strict checking) one interface. */
export function addressDumpRequest(family?: Family, index = 0): NlRequest {
  const body = Buffer.alloc(IFADDRMSG_LEN);
  if (family) body.writeUInt8(afOf(family), 0);
  body.writeUInt32LE(index, 4); // the kernel filters by interface under strict checking
  return { type: RTM.GETADDR, flags: 0, body, what: 'address dump' };
}

export function decodeAddress(msg: NetlinkMessage): Address {
  const p = msg.payload;
  if (p.length < IFADDRMSG_LEN) throw new NetlinkDecodeError(`ifaddrmsg too short: ${p.length}`);
  const family = familyOf(p.readUInt8(0));
  const a = parseAttrs(p, IFADDRMSG_LEN);
  const addr = a.raw(IFA.LOCAL) ?? a.raw(IFA.ADDRESS);
  if (!addr || addr.length !== (family === 4 ? 4 : 16)) throw new NetlinkDecodeError('address without IFA_LOCAL/IFA_ADDRESS');
  const out: Address = {
    index: p.readUInt32LE(4),
    family,
    address: `${formatAddress(addr)}/${p.readUInt8(1)}`,
    scope: p.readUInt8(3),
    flags: a.u32(IFA.FLAGS) ?? p.readUInt8(2),
  };
  const label = a.string(IFA.LABEL);
  if (label !== undefined) out.label = label;
  const proto = a.u8(IFA.PROTO);
  if (proto !== undefined) out.protocol = proto;
  return out;
}
