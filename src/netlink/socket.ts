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
const MAX_ENOMEM_RETRIES = 30;
/** Datagrams of at most this many requests are sent from the event loop (see sendChunk). */
const INLINE_SEND_MAX = 8;

export class NetlinkSocket {
  readonly portId: number;
  private readonly fd: number;
  private readonly watcher: object;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private referenced = false;
  private dumps: Promise<unknown> = Promise.resolve();
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
    await this.send(req, NLM_F.REQUEST | NLM_F.ACK | req.flags, false);
  }

  /** A request with NLM_F_ECHO-like answers (e.g. a GET of one object): returns the reply messages. */
  async get(req: NlRequest): Promise<NetlinkMessage[]> {
    return this.send(req, NLM_F.REQUEST | NLM_F.ACK | req.flags, false);
  }

  /**
   * A full dump; redone from the start when the kernel flags it as interrupted by a change.
   * A netlink socket runs one dump at a time (a second one is EBUSY): dumps queue here.
   */
  dump(req: NlRequest): Promise<NetlinkMessage[]> {
    const run = () => this.dumpOnce(req);
    const p = this.dumps.then(run, run);
    this.dumps = p.catch(() => undefined);
    return p;
  }

  private async dumpOnce(req: NlRequest): Promise<NetlinkMessage[]> {
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
   *
   * Requests may come from a lazy iterable: each datagram is sent on a worker thread (the kernel
   * does its work inside sendmsg), and the next one is encoded here meanwhile. Datagrams still
   * reach the kernel strictly in order, so later requests may depend on earlier ones.
   */
  async batch(reqs: Iterable<NlRequest>, opts: BatchOptions = {}): Promise<BatchResult[]> {
    // Adaptive: halved (down to 16) whenever the kernel runs out of atomic memory, which a
    // smaller burst gives time to refill (10k seg6 nexthops: 450 ms at 512, 230 ms at 16).
    let chunkMessages = opts.chunkMessages ?? 256;
    const chunkBytes = opts.chunkBytes ?? 256 * 1024;
    const all: NlRequest[] = [];
    const results: BatchResult[] = [];
    let source: Iterator<NlRequest> = reqs[Symbol.iterator]();
    let indexOf = (k: number) => k; // position in `all` of the k-th request taken from source
    for (let attempt = 0; ; attempt++) {
      const retry: number[] = [];
      const acks: Promise<void>[] = [];
      let sent: Promise<unknown> = Promise.resolve();
      let taken = 0;
      for (;;) {
        // Encode the next datagram while the previous one is in the kernel.
        const chunk: number[] = [];
        let bytes = 0;
        while (chunk.length < chunkMessages) {
          const next = source.next();
          if (next.done) break;
          const idx = indexOf(taken++);
          if (idx === all.length) all.push(next.value);
          const size = align4(NLMSG_HDRLEN + next.value.body.length);
          chunk.push(idx);
          bytes += size;
          if (bytes >= chunkBytes) break;
        }
        if (!chunk.length) break;
        await sent;
        const { written, answered } = this.sendChunk(
          chunk.map((k) => all[k]),
          bytes,
        );
        sent = written;
        acks.push(
          answered.then((outcome) =>
            outcome.forEach((err, k) => {
              const idx = chunk[k];
              if (err === null) results[idx] = { ok: true };
              else if (!(err instanceof KernelError)) throw err;
              // ENOMEM here is the kernel's atomic per-CPU reserve (seg6 dst caches) running dry
              // under a burst; nothing was created and it refills in the background: retry.
              else if (err.code === 'ENOMEM' && attempt < MAX_ENOMEM_RETRIES) {
                retry.push(idx);
                chunkMessages = Math.max(16, chunkMessages >> 1);
              } else results[idx] = { ok: false, error: err };
            }),
          ),
        );
      }
      await Promise.all(acks);
      if (!retry.length) return results;
      retry.sort((x, y) => x - y);
      await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 100)));
      source = retry.map((k) => all[k])[Symbol.iterator]();
      indexOf = (k) => retry[k];
    }
  }

  /**
   * Writes the requests as one datagram on a worker thread. `written` settles when the kernel has
   * processed them all; `answered` when every outcome is known (null: done).
   *
   * Requests go without NLM_F_ACK: the kernel reports only failures (an error always comes back),
   * and a final NLMSG_NOOP with NLM_F_ACK is acknowledged after every request before it. Its ACK
   * is the barrier: whatever has not failed by then succeeded. One ACK per datagram instead of
   * one per request, which is most of the kernel's and our work in a large batch.
   */
  private sendChunk(chunk: NlRequest[], bytes: number): { written: Promise<unknown>; answered: Promise<(Error | null)[]> } {
    if (this.closed) {
      const err = Promise.reject(new NetlinkSocketError('netlink socket closed'));
      return { written: err.catch(() => undefined), answered: err };
    }
    const buf = Buffer.alloc(bytes + NLMSG_HDRLEN);
    const outcome: (Error | null)[] = new Array(chunk.length).fill(null);
    const seqs: number[] = [];
    let at = 0;
    chunk.forEach((r, k) => {
      const seq = this.nextSeq();
      const flags = NLM_F.REQUEST | r.flags;
      writeHeader(buf, at, NLMSG_HDRLEN + r.body.length, r.type, flags, seq);
      r.body.copy(buf, at + NLMSG_HDRLEN);
      at += align4(NLMSG_HDRLEN + r.body.length);
      seqs.push(seq);
      const fail = (err: Error | null) => {
        if (err) outcome[k] = err;
      };
      this.pending.set(seq, { info: { type: r.type, flags, seq, what: r.what }, resolve: () => undefined, reject: fail });
    });
    const barrier = this.nextSeq();
    writeHeader(buf, at, NLMSG_HDRLEN, NLMSG.NOOP, NLM_F.ACK, barrier);
    const answered = new Promise<(Error | null)[]>((resolve) => {
      const finish = (err: Error | null) => {
        for (const seq of seqs) this.pending.delete(seq);
        if (err) outcome.fill(err); // the datagram never reached the kernel, or the socket died
        resolve(outcome);
      };
      this.pending.set(barrier, {
        info: { type: NLMSG.NOOP, flags: NLM_F.ACK, seq: barrier, what: 'batch barrier' },
        resolve: () => finish(null),
        reject: finish,
      });
    });
    this.updateRef();
    const failed = (e: unknown) => this.settle(barrier, new NetlinkSocketError(`sendmsg: ${(e as Error).message}`, (e as { errno?: number }).errno));
    // A few requests cost the kernel less than a round trip through the thread pool (a job's
    // typical phase: 1-3 routes or nexthops); only larger datagrams leave the event loop.
    if (chunk.length <= INLINE_SEND_MAX) {
      try {
        native().nlSend(this.fd, buf);
      } catch (e) {
        failed(e);
      }
      return { written: Promise.resolve(), answered };
    }
    const written = native().nlSendAsync(this.fd, buf).catch(failed);
    return { written, answered };
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
    this.write(buf, seq);
    return p;
  }

  private expect(seq: number, info: RequestInfo, dump: boolean): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkSocketError('netlink socket closed'));
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { info, dump: dump || info.flags & NLM_F.ECHO ? [] : undefined, resolve, reject });
    });
  }

  private write(buf: Buffer, seq: number): void {
    try {
      native().nlSend(this.fd, buf);
    } catch (e) {
      this.settle(seq, new NetlinkSocketError(`sendmsg: ${(e as Error).message}`, (e as { errno?: number }).errno));
    }
    this.updateRef();
  }

  private onReadable(): void {
    if (this.closed) return;
    let datagrams: Buffer[];
    try {
      const { data, lengths } = native().nlRecv(this.fd, 256);
      let at = 0;
      datagrams = lengths.map((len) => data.subarray(at, (at += len)));
    } catch (e) {
      // ENOBUFS: the kernel dropped replies or events. Outstanding requests cannot be matched any more.
      const err = new NetlinkSocketError(`recvmsg: ${(e as Error).message}`, (e as { errno?: number }).errno);
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
