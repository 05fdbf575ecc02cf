// Message framing (struct nlmsghdr) and the payloads every protocol shares: errors/ACKs and DONE.
import { parseAttrs } from './attributes';
import { NLM_F, NLMSG, NLMSGERR_ATTR } from './constants';
import { NetlinkDecodeError } from './errors';

export const NLMSG_HDRLEN = 16;
const align4 = (n: number) => (n + 3) & ~3;

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header, up to nlmsg_len. */
  payload: Buffer;
}

/** What an object encoder produces; the socket adds sequence number and ACK/DUMP flags. */
export interface NlRequest {
  type: number;
  flags: number;
  body: Buffer;
  /** For errors: which object this was ("route fc00::1/128 table 100"). */
  what: string;
}

export function encodeMessage(type: number, flags: number, seq: number, payload: Buffer, pid = 0): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  writeHeader(out, 0, len, type, flags, seq, pid);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

export function writeHeader(buf: Buffer, at: number, len: number, type: number, flags: number, seq: number, pid = 0): void {
  buf.writeUInt32LE(len, at);
  buf.writeUInt16LE(type, at + 4);
  buf.writeUInt16LE(flags, at + 6);
  buf.writeUInt32LE(seq, at + 8);
  buf.writeUInt32LE(pid, at + 12);
}

/** Splits one datagram into messages; malformed framing throws NetlinkDecodeError. */
export function parseMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length)
      throw new NetlinkDecodeError(`message at offset ${off} has bad length ${len} (datagram ${buf.length} bytes)`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  if (off < buf.length && buf.length - off >= NLMSG_HDRLEN) throw new NetlinkDecodeError(`trailing bytes at offset ${off}`);
  return out;
}

export interface ErrorPayload {
  /** Positive errno; 0 for an ACK. */
  errno: number;
  extack?: string;
  extackOffset?: number;
}

/**
 * NLMSG_ERROR: s32 error, the offending request's header (and its payload unless CAPPED), then
 * extended-ACK attributes when NLM_F_ACK_TLVS is set. NLMSG_DONE of a dump: s32 error + TLVs.
 */
export function parseErrorPayload(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  if (p.length < 4) throw new NetlinkDecodeError(`${msg.type === NLMSG.ERROR ? 'NLMSG_ERROR' : 'NLMSG_DONE'} payload too short`);
  const errno = -p.readInt32LE(0);
  const res: ErrorPayload = { errno };
  if (!(msg.flags & NLM_F.ACK_TLVS)) return res;
  let tlvStart = 4;
  if (msg.type === NLMSG.ERROR) {
    if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError('NLMSG_ERROR without the original header');
    const origLen = p.readUInt32LE(4);
    if (origLen > p.length) throw new NetlinkDecodeError(`NLMSG_ERROR quotes a ${origLen}-byte request in ${p.length} bytes`);
    tlvStart = msg.flags & NLM_F.CAPPED ? 4 + NLMSG_HDRLEN : 4 + align4(origLen);
  }
  if (tlvStart > p.length) throw new NetlinkDecodeError('NLMSG_ERROR shorter than the request it quotes');
  const attrs = parseAttrs(p, tlvStart);
  res.extack = attrs.string(NLMSGERR_ATTR.MSG);
  res.extackOffset = attrs.u32(NLMSGERR_ATTR.OFFS);
  return res;
}
