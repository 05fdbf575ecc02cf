// Links (RTM_*LINK, struct ifinfomsg + IFLA_*). Link kinds are plug-ins (link-veth.ts, link-vrf.ts).
import { AttrWriter, Attrs, parseAttrs } from './attributes';
import { AF, IFF, IFLA, IFLA_INFO, IFLA_XDP, IFNAMSIZ, NLM_F, OPERSTATES, RTEXT_FILTER_SKIP_STATS, RTM } from './constants';
import { InvalidArgumentError, NetlinkDecodeError } from './errors';
import { formatMac, parseMac } from './ip';
import { NetlinkMessage, NlRequest } from './message';

export const IFINFOMSG_LEN = 16;

/** What a link kind contributes: its IFLA_INFO_DATA on create, and its decoded fields on dump. */
export interface LinkKindCodec<S> {
  kind: string;
  encode(w: AttrWriter, spec: S): void;
  decode(data: Attrs): Partial<Link>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each codec has its own info type
const kinds = new Map<string, LinkKindCodec<any>>();
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each codec has its own info type
export function registerLinkKind(codec: LinkKindCodec<any>): void {
  kinds.set(codec.kind, codec);
}

export interface LinkCreate {
  name: string;
  /** "veth" (with `peer`), "vrf" (with `table`), or any kind needing no data. */
  kind: string;
  mtu?: number;
  up?: boolean;
  /** ifindex of the master (VRF) to enslave to. */
  master?: number;
  address?: string;
  /** Create the link directly in another netns (an open fd). */
  netnsFd?: number;
  [kindField: string]: unknown;
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  /** ifindex of the new master; 0 releases the link from its master. */
  master?: number;
  name?: string;
  address?: string;
  /** Move the link to another netns (an open fd). */
  netnsFd?: number;
}

export interface Link {
  index: number;
  name: string;
  kind?: string;
  slaveKind?: string;
  mtu: number;
  minMtu?: number;
  maxMtu?: number;
  up: boolean;
  lowerUp: boolean;
  flags: number;
  operstate: string;
  master?: number;
  /** IFLA_LINK: for veth the peer's ifindex (possibly in another netns). */
  link?: number;
  address?: string;
  /** VRF table id. */
  table?: number;
  xdp?: { attached: 'none' | 'driver' | 'generic' | 'offload' | 'multi'; progId?: number };
}

export function validateIfname(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(field, 'interface name must be a non-empty string');
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new InvalidArgumentError(field, `interface name "${name}" is longer than ${IFNAMSIZ - 1} bytes`);
  // The kernel reads IFLA_IFNAME up to its first NUL: "ul0\0x" would name ul0.
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (name === '.' || name === '..' || /[\s/:\x00-\x1f\x7f]/.test(name))
    throw new InvalidArgumentError(field, `interface name ${JSON.stringify(name)} contains '/', ':', whitespace or a control character`);
  return name;
}

function validateMtu(mtu: unknown, field: string): number {
  if (!Number.isInteger(mtu) || (mtu as number) < 68 || (mtu as number) > 65535)
    throw new InvalidArgumentError(field, `MTU must be an integer 68..65535, got ${mtu}`);
  return mtu as number;
}

/** struct ifinfomsg */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF.UNSPEC): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

function upFlags(up: boolean | undefined): [number, number] {
  return up === undefined ? [0, 0] : [up ? IFF.UP : 0, IFF.UP];
}

export function linkCreateRequest(spec: LinkCreate): NlRequest {
  validateIfname(spec.name);
  const codec = kinds.get(spec.kind);
  if (spec.mtu !== undefined) validateMtu(spec.mtu, 'mtu');
  const w = new AttrWriter().header(ifinfomsg(0, ...upFlags(spec.up)));
  w.string(IFLA.IFNAME, spec.name);
  if (spec.mtu !== undefined) w.u32(IFLA.MTU, spec.mtu);
  if (spec.address !== undefined) w.bytes(IFLA.ADDRESS, parseMac(spec.address, 'address'));
  if (spec.master !== undefined) w.u32(IFLA.MASTER, spec.master);
  if (spec.netnsFd !== undefined) w.u32(IFLA.NET_NS_FD, spec.netnsFd);
  w.nested(IFLA.LINKINFO, (li) => {
    li.string(IFLA_INFO.KIND, spec.kind);
    if (codec) li.nested(IFLA_INFO.DATA, (d) => codec.encode(d, spec));
  });
  return { type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, body: w.finish(), what: `link ${spec.name} (${spec.kind})` };
}

/** `ip link set`: by ifindex, or by name when index is a string. */
export function linkChangeRequest(link: number | string, ch: LinkChange): NlRequest {
  const w = new AttrWriter().header(ifinfomsg(typeof link === 'number' ? link : 0, ...upFlags(ch.up)));
  if (typeof link === 'string') w.string(IFLA.IFNAME, validateIfname(link));
  if (ch.name !== undefined) w.string(IFLA.IFNAME, validateIfname(ch.name, 'name'));
  if (ch.mtu !== undefined) w.u32(IFLA.MTU, validateMtu(ch.mtu, 'mtu'));
  if (ch.master !== undefined) w.u32(IFLA.MASTER, ch.master);
  if (ch.address !== undefined) w.bytes(IFLA.ADDRESS, parseMac(ch.address, 'address'));
  if (ch.netnsFd !== undefined) w.u32(IFLA.NET_NS_FD, ch.netnsFd);
  return { type: RTM.NEWLINK, flags: 0, body: w.finish(), what: `link ${link}` };
}

export function linkDeleteRequest(link: number | string): NlRequest {
  const w = new AttrWriter().header(ifinfomsg(typeof link === 'number' ? link : 0));
  if (typeof link === 'string') w.string(IFLA.IFNAME, validateIfname(link));
  return { type: RTM.DELLINK, flags: 0, body: w.finish(), what: `link ${link}` };
}

/** Dump (or, with a name, get one). Stats are skipped: we never read them and they dominate the size. */
export function linkGetRequest(name?: string): NlRequest {
  const w = new AttrWriter().header(ifinfomsg());
  w.u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (name !== undefined) w.string(IFLA.IFNAME, validateIfname(name));
  return { type: RTM.GETLINK, flags: 0, body: w.finish(), what: name ? `link ${name}` : 'link dump' };
}

const XDP_ATTACHED = ['none', 'driver', 'generic', 'offload', 'multi'] as const;

export function decodeLink(msg: NetlinkMessage): Link {
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) throw new NetlinkDecodeError(`ifinfomsg too short: ${p.length}`);
  const flags = p.readUInt32LE(8);
  const a = parseAttrs(p, IFINFOMSG_LEN);
  const name = a.string(IFLA.IFNAME);
  if (name === undefined) throw new NetlinkDecodeError('link without IFLA_IFNAME');
  const link: Link = {
    index: p.readInt32LE(4),
    name,
    mtu: a.u32(IFLA.MTU) ?? 0,
    up: (flags & IFF.UP) !== 0,
    lowerUp: (flags & IFF.LOWER_UP) !== 0,
    flags,
    operstate: OPERSTATES[a.u8(IFLA.OPERSTATE) ?? 0] ?? 'unknown',
  };
  const set = <K extends keyof Link>(k: K, v: Link[K] | undefined) => {
    if (v !== undefined) link[k] = v;
  };
  set('minMtu', a.u32(IFLA.MIN_MTU));
  set('maxMtu', a.u32(IFLA.MAX_MTU));
  set('master', a.u32(IFLA.MASTER));
  set('link', a.u32(IFLA.LINK));
  const mac = a.raw(IFLA.ADDRESS);
  if (mac && mac.length === 6) link.address = formatMac(mac);
  const info = a.nested(IFLA.LINKINFO);
  if (info) {
    set('kind', info.string(IFLA_INFO.KIND));
    set('slaveKind', info.string(IFLA_INFO.SLAVE_KIND));
    const codec = link.kind ? kinds.get(link.kind) : undefined;
    const data = info.nested(IFLA_INFO.DATA);
    if (codec && data) Object.assign(link, codec.decode(data));
  }
  const xdp = a.nested(IFLA.XDP);
  if (xdp) {
    const attached = XDP_ATTACHED[xdp.u8(IFLA_XDP.ATTACHED) ?? 0] ?? 'none';
    link.xdp = { attached };
    const id = xdp.u32(IFLA_XDP.PROG_ID);
    if (id) link.xdp.progId = id;
  }
  return link;
}
