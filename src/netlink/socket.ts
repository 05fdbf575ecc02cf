// A netlink socket: sequence numbers, ACK matching, multipart dumps (redone on NLM_F_DUMP_INTR),
// batches of many requests per sendmsg, and multicast events. I/O is non-blocking on Node's loop.
import { NETLINK_ROUTE, NLM_F, NLMSG } from './constants';
import { KernelError, NetlinkDecodeError, NetlinkSocketError, RequestInfo } from './errors';
import { NetlinkMessage, NlRequest, NLMSG_HDRLEN, parseErrorPayload, parseMessages, writeHeader } from './message';
import { native, NetnsRef, netnsRef } from '../native/addon';

const align4 = (n: number) => (n + 3) & ~3;

export interface SocketOptions {
  /** Network namespace: a name (/var/run/netns/NAME), a path, or an open fd. Default: ours. */
  netns?: NetnsRef;
  protocol?: number;
  /** Multicast groups to join (RTNLGRP_*). */
  groups?: number[];
}

export interface BatchOptions {
  /** Requests per sendmsg: every one queues an ACK on our receive buffer. */
  chunkMessages?: number;
  /** Bytes per sendmsg, below the socket's send buffer. */
  chunkBytes?: number;
}

export type BatchResult = { ok: true } | { ok: false; error: KernelError };

interface Pending {
  info: RequestInfo;
  dump?: NetlinkMessage[];
  interrupted?: boolean;
  resolve(msgs: NetlinkMessage[]): void;
  reject(err: Error): void;
}

const MAX_DUMP_RETRIES = 10;

export class NetlinkSocket {
  readonly portId: number;
  private readonly fd: number;
  private readonly watcher: object;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private referenced = false;
  private eventHandler?: (msg: NetlinkMessage) => void;
  private errorHandler?: (err: Error) => void;

  constructor(private readonly opts: SocketOptions = {}) {
    const n = native();
    const { fd, portId } = n.nlOpen(opts.protocol ?? NETLINK_ROUTE, netnsRef(opts.netns));
    this.fd = fd;
    this.portId = portId;
    try {
      for (const g of opts.groups ?? []) n.nlMembership(fd, g, true);
      this.watcher = n.nlWatch(fd, () => this.onReadable());
    } catch (e) {
      n.closeFd(fd);
      throw e;
    }
    this.updateRef();
  }

  get netns(): NetnsRef {
    return this.opts.netns;
  }

  /** Multicast notifications and any message that answers no request of ours. */
  onEvent(handler: (msg: NetlinkMessage) => void): void {
    this.eventHandler = handler;
    this.updateRef();
  }

  /** Socket-level failures (e.g. ENOBUFS: the kernel dropped messages; resynchronise). */
  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  /** One request, acknowledged. Rejects with KernelError (errno + extack). */
  async exec(req: NlRequest): Promise<void> {
    const [r] = await this.batch([req]);
    if (!r.ok) throw r.error;
  }

  /** A request with NLM_F_ECHO-like answers (e.g. a GET of one object): returns the reply messages. */
  async get(req: NlRequest): Promise<NetlinkMessage[]> {
    return this.send(req, NLM_F.REQUEST | NLM_F.ACK | req.flags, false);
  }

  /** A full dump; redone from the start when the kernel flags it as interrupted by a change. */
  async dump(req: NlRequest): Promise<NetlinkMessage[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(req, NLM_F.REQUEST | NLM_F.DUMP | req.flags, true);
      } catch (e) {
        if (!(e instanceof DumpInterrupted) || attempt >= MAX_DUMP_RETRIES) throw e;
      }
    }
  }

  /**
   * Many requests, several per sendmsg. The kernel processes each message of a datagram on its own
   * and ACKs each, so every request gets its own result; a failure does not stop the rest.
   */
  async batch(reqs: NlRequest[], opts: BatchOptions = {}): Promise<BatchResult[]> {
    const chunkMessages = opts.chunkMessages ?? 512;
    const chunkBytes = opts.chunkBytes ?? 256 * 1024;
    const results: BatchResult[] = new Array(reqs.length);
    let i = 0;
    while (i < reqs.length) {
      let bytes = 0;
      let end = i;
      while (end < reqs.length && end - i < chunkMessages) {
        const size = align4(NLMSG_HDRLEN + reqs[end].body.length);
        if (end > i && bytes + size > chunkBytes) break;
        bytes += size;
        end++;
      }
      const buf = Buffer.alloc(bytes);
      const waits: Promise<NetlinkMessage[]>[] = [];
      let at = 0;
      for (let k = i; k < end; k++) {
        const r = reqs[k];
        const seq = this.nextSeq();
        const flags = NLM_F.REQUEST | NLM_F.ACK | r.flags;
        writeHeader(buf, at, NLMSG_HDRLEN + r.body.length, r.type, flags, seq);
        r.body.copy(buf, at + NLMSG_HDRLEN);
        at += align4(NLMSG_HDRLEN + r.body.length);
        waits.push(this.expect(seq, { type: r.type, flags, seq, what: r.what }, false));
      }
      this.write(buf, waits.length);
      const settled = await Promise.allSettled(waits);
      settled.forEach((s, k) => {
        if (s.status === 'fulfilled') results[i + k] = { ok: true };
        else if (s.reason instanceof KernelError) results[i + k] = { ok: false, error: s.reason };
        else throw s.reason;
      });
      i = end;
    }
    return results;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = native();
    n.nlUnwatch(this.watcher);
    n.closeFd(this.fd);
    this.failAll(new NetlinkSocketError('netlink socket closed'));
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private send(req: NlRequest, flags: number, dump: boolean): Promise<NetlinkMessage[]> {
    const seq = this.nextSeq();
    const buf = Buffer.alloc(align4(NLMSG_HDRLEN + req.body.length));
    writeHeader(buf, 0, NLMSG_HDRLEN + req.body.length, req.type, flags, seq);
    req.body.copy(buf, NLMSG_HDRLEN);
    const p = this.expect(seq, { type: req.type, flags, seq, what: req.what }, dump);
    this.write(buf, 1);
    return p;
  }

  private expect(seq: number, info: RequestInfo, dump: boolean): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkSocketError('netlink socket closed'));
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { info, dump: dump || info.flags & NLM_F.ECHO ? [] : undefined, resolve, reject });
    });
  }

  private write(buf: Buffer, count: number): void {
    try {
      native().nlSend(this.fd, buf);
    } catch (e) {
      // Nothing of this datagram reached the kernel: fail exactly its requests.
      const err = new NetlinkSocketError(`sendmsg: ${(e as Error).message}`, (e as any).errno);
      const seqs = [...this.pending.keys()].slice(-count);
      for (const s of seqs) this.settle(s, err);
    }
    this.updateRef();
  }

  private onReadable(): void {
    if (this.closed) return;
    let datagrams: Buffer[];
    try {
      datagrams = native().nlRecv(this.fd, 256);
    } catch (e) {
      // ENOBUFS: the kernel dropped replies or events. Outstanding requests cannot be matched any more.
      const err = new NetlinkSocketError(`recvmsg: ${(e as Error).message}`, (e as any).errno);
      this.failAll(err);
      this.errorHandler?.(err);
      return;
    }
    for (const d of datagrams) {
      let msgs: NetlinkMessage[];
      try {
        msgs = parseMessages(d);
      } catch (e) {
        this.errorHandler?.(e as NetlinkDecodeError);
        continue;
      }
      for (const m of msgs) this.dispatch(m);
    }
    this.updateRef();
  }

  private dispatch(m: NetlinkMessage): void {
    const p = m.pid === this.portId ? this.pending.get(m.seq) : undefined;
    if (!p) {
      if (m.type !== NLMSG.NOOP) this.eventHandler?.(m);
      return;
    }
    if (m.flags & NLM_F.DUMP_INTR) p.interrupted = true;
    if (m.type === NLMSG.ERROR || m.type === NLMSG.DONE) {
      let e;
      try {
        e = parseErrorPayload(m);
      } catch (err) {
        this.settle(m.seq, err as Error);
        return;
      }
      if (e.errno !== 0) this.settle(m.seq, new KernelError(e.errno, p.info, e.extack, e.extackOffset));
      else if (m.type === NLMSG.DONE && p.interrupted) this.settle(m.seq, new DumpInterrupted());
      else if (m.type === NLMSG.DONE || !p.dump || p.info.flags & NLM_F.ACK) this.settle(m.seq, null, p.dump ?? []);
      return;
    }
    if (p.dump) p.dump.push(m);
    else if (m.type >= 16) {
      // A reply to a GET: kept, the ACK that follows settles it.
      p.dump = [m];
    }
  }

  private settle(seq: number, err: Error | null, msgs: NetlinkMessage[] = []): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (err) p.reject(err);
    else p.resolve(msgs);
  }

  private failAll(err: Error): void {
    for (const seq of [...this.pending.keys()]) this.settle(seq, err);
  }

  /** Keep Node alive only while we wait for the kernel or someone listens for events. */
  private updateRef(): void {
    if (this.closed) return;
    const want = this.pending.size > 0 || this.eventHandler !== undefined;
    if (want !== this.referenced) {
      native().nlRef(this.watcher, want);
      this.referenced = want;
    }
  }
}

class DumpInterrupted extends Error {
  constructor() {
    super('dump interrupted (NLM_F_DUMP_INTR)');
  }
}
