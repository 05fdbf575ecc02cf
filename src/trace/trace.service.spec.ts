// TraceService with a fake tracer: one trace at a time, duration/limit/stop/shutdown all end a
// trace (and detach), bounded results, request validation with field names.
import { EventEmitter } from 'node:events';

import { InvalidArgumentError } from '../netlink/errors';
import { ev } from '../testing/trace-events';
import { TraceBusyError, TraceNotFoundError, TraceService, TracerLike } from './trace.service';
import type { AttachSummary, TraceOptions, TraceSummary } from './tracer';

class FakeTracer extends EventEmitter implements TracerLike {
  backend = 'tp_btf' as const;
  attach: AttachSummary = {
    backend: 'tp_btf',
    total: 30,
    succeeded: 30,
    failed: 0,
    filtered: 0,
    untraceable: 0,
    exitFailed: 0,
    failures: [],
    failuresByCode: {},
    attachMs: 3,
  };
  labels = ['net:net_dev_queue', 'skb:consume_skb'];
  targets = [{ name: 'net_dev_queue' }, { name: 'consume_skb' }];
  gsoNames = new Map([
    [0, 'tcpv4'],
    [9, 'ipxip6'],
  ]);
  selection = {
    backend: 'tp_btf' as const,
    checks: [
      { backend: 'fentry' as const, ok: false, reason: 'load: EPERM' },
      { backend: 'tp_btf' as const, ok: true, reason: 'ok' },
    ],
  };
  evs = [ev({ tstamp: 2n, funcId: 1 }), ev({ tstamp: 1n, gsoType: 0x201 })];
  stops = 0;
  samples = 2;
  constructor(readonly opts: TraceOptions) {
    super();
  }
  events() {
    return this.evs;
  }
  halts = 0;
  async halt(): Promise<TraceSummary> {
    this.halts++;
    return { backend: 'tp_btf', attach: this.attach, samples: 2, lost: 1, undelivered: 0, hits: 3, notKept: 0, detachMs: 0, durationMs: 5 };
  }
  async stop(): Promise<TraceSummary> {
    this.stops++;
    return { ...(await this.halt()), detachMs: 1 };
  }
}

function service(opts: { fail?: Error; maxEvents?: number; netns?: () => number } = {}) {
  const tracers: FakeTracer[] = [];
  const svc = new TraceService({
    maxEvents: opts.maxEvents ?? 1000,
    keepFinished: 2,
    defaultNetnsInode: opts.netns,
    startTracer: async (o) => {
      if (opts.fail) throw opts.fail;
      const t = new FakeTracer(o);
      tracers.push(t);
      return t;
    },
  });
  return { svc, tracers };
}

afterEach(() => jest.useRealTimers());

describe('TraceService', () => {
  it('starts a trace with the normalized request and reports the backend choice', async () => {
    const { svc, tracers } = service();
    const info = await svc.start({ mark: '0xdeadbeef', regex: 'seg6', netnsInode: 7 });
    expect(info).toMatchObject({
      state: 'running',
      backend: 'tp_btf',
      backendSelection: 'Backend: tp_btf (not used: fentry: load: EPERM)',
      note: expect.stringMatching(/seg6\/lwtunnel .* not visible/),
      request: { mark: '0xdeadbeef', mask: '0xffffffff', regex: 'seg6', netnsInode: 7, durationMs: 10_000, limit: 1000, maxProbes: 4096 },
      attach: { total: 30, succeeded: 30 },
    });
    expect(tracers[0].opts).toMatchObject({
      mark: 0xdeadbeef,
      mask: 0xffffffff,
      regex: 'seg6',
      netnsInode: 7,
      collect: true,
      maxEvents: 1000,
      limit: 1000,
      maxProbes: 4096,
    });
    await svc.shutdown();
  });

  it('passes a pattern RegExp would backtrack on for ever, and the probe cap, to the tracer', async () => {
    const { svc, tracers } = service();
    const info = await svc.start({ mark: 1, regex: '(\\w+)+\\.', maxProbes: 100 });
    expect(info.request).toMatchObject({ regex: '(\\w+)+\\.', maxProbes: 100 });
    expect(tracers[0].opts).toMatchObject({ regex: '(\\w+)+\\.', maxProbes: 100 });
    await svc.shutdown();
  });

  it('says why a pattern is refused', async () => {
    const { svc } = service();
    await expect(svc.start({ mark: 1, regex: '(?<=ip)_rcv' })).rejects.toThrow(
      'regex: lookahead and lookbehind are not supported (the filter is matched without backtracking) (at position 0)',
    );
  });

  it('runs one trace at a time', async () => {
    const { svc } = service();
    const a = await svc.start({ mark: 1 });
    await expect(svc.start({ mark: 2 })).rejects.toThrow(TraceBusyError);
    await svc.stop(a.id);
    await expect(svc.start({ mark: 2 })).resolves.toMatchObject({ state: 'running' });
    await svc.shutdown();
  });

  it('stop detaches once and keeps the packets with honest counts', async () => {
    const { svc, tracers } = service();
    const { id } = await svc.start({ mark: 1 });
    const r = await svc.stop(id);
    await svc.stop(id);
    expect(tracers[0].stops).toBe(1);
    expect(r).toMatchObject({ state: 'done', stopReason: 'stopped', samples: 2, lost: 1, notKept: 0 });
    expect([r.packetCount, r.offset, r.packets.length]).toEqual([1, 0, 1]);
    expect(r.packets[0].events.map((e) => [e.timestamp, e.function, e.gso_type])).toEqual([
      ['1', 'net:net_dev_queue', ['tcpv4', 'ipxip6']],
      ['2', 'skb:consume_skb', ['tcpv4']],
    ]);
  });

  it('keeps a finished trace as raw records: the same packets as while it ran, 72 bytes an event', async () => {
    const { svc, tracers } = service();
    const { id } = await svc.start({ mark: 1 });
    tracers[0].evs = Array.from({ length: 300 }, (_, i) => ev({ skb: 0xffff888000000000n + BigInt(i % 7) * 0x100n, tstamp: BigInt(1000 + i), len: 100 + i }));
    const live = svc.get(id);
    const done = await svc.stop(id);
    expect(done.packets).toEqual(live.packets);
    expect(done.packetCount).toBe(7);
    const entry = (svc as unknown as { traces: Map<string, { store: { raw: Buffer }; tracer?: unknown }> }).traces.get(id)!;
    expect([entry.store.raw.length, entry.tracer]).toEqual([300 * 72, undefined]);
  });

  it('pages packets with offset and limit', async () => {
    const { svc, tracers } = service();
    const { id } = await svc.start({ mark: 1 });
    tracers[0].evs = Array.from({ length: 5 }, (_, i) => ev({ skb: 0xffff888000000000n + BigInt(i) * 0x100n, tstamp: BigInt(10 + i) }));
    const r = svc.get(id, { offset: 3, limit: 10 });
    expect([r.packetCount, r.offset, r.packets.map((p) => p.id)]).toEqual([5, 3, [4, 5]]);
    expect(svc.get(id, { limit: 2 }).packets.map((p) => p.id)).toEqual([1, 2]);
    expect(() => svc.get(id, { offset: -1 })).toThrow(InvalidArgumentError);
    expect(() => svc.get(id, { limit: 0 })).toThrow(InvalidArgumentError);
    await expect(svc.stop(id, { limit: 0 })).rejects.toThrow(InvalidArgumentError);
    expect([svc.get(id).state, tracers[0].stops]).toEqual(['running', 0]); // refused before stopping
    await svc.shutdown();
  });

  it('prints a trace as ipft does', async () => {
    const { svc } = service();
    const { id } = await svc.start({ mark: 1 });
    await svc.stop(id);
    const lines = svc.text(id).split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'Backend: tp_btf (not used: fentry: load: EPERM)',
      'Attaching program (total 30, succeeded 30, failed 0, filtered: 0, untraceable: 0)',
      expect.stringMatching(/^Note: tracepoint mode/),
      'State: done (stopped)',
      'Samples: 2 Lost: 1',
      '',
    ]);
    expect(lines[6]).toMatch(/^=== packet 1: skb 0xffff888012345600, 2 events, 0.0 us$/);
    expect(lines[7]).toMatch(/^1 0000 net:net_dev_queue \(len: 5764 .*gso_type: tcpv4\|ipxip6 /);
    expect(lines[8]).toMatch(/^2 0000 skb:consume_skb /);
  });

  it('traces the managed namespace unless the request names one (0: all)', async () => {
    const { svc, tracers } = service({ netns: () => 4026532999 });
    const a = await svc.start({ mark: 1 });
    expect([a.request.netnsInode, tracers[0].opts.netnsInode]).toEqual([4026532999, 4026532999]);
    await svc.stop(a.id);
    const b = await svc.start({ mark: 1, netnsInode: 0 });
    expect([b.request.netnsInode, tracers[1].opts.netnsInode]).toEqual([0, 0]);
    await svc.stop(b.id);
    const c = await svc.start({ mark: 1, netnsInode: 42 });
    expect(tracers[2].opts.netnsInode).toBe(42);
    await svc.stop(c.id);
  });

  it('a managed namespace that is gone refuses the start and leaves the slot free', async () => {
    const gone = new Error('gone');
    const { svc, tracers } = service({
      netns: () => {
        throw gone;
      },
    });
    await expect(svc.start({ mark: 1 })).rejects.toBe(gone);
    expect([tracers.length, svc.list().length]).toEqual([0, 0]);
    await expect(svc.start({ mark: 1, netnsInode: 0 })).resolves.toMatchObject({ state: 'running' });
    await svc.shutdown();
  });

  it('ends a trace after its duration and at its event limit', async () => {
    jest.useFakeTimers();
    const { svc, tracers } = service();
    const a = await svc.start({ mark: 1, durationMs: 50 });
    await jest.advanceTimersByTimeAsync(60);
    expect(svc.get(a.id)).toMatchObject({ state: 'done', stopReason: 'duration' });
    const b = await svc.start({ mark: 1 });
    tracers[1].emit('limit');
    await jest.advanceTimersByTimeAsync(0);
    expect(svc.get(b.id)).toMatchObject({ state: 'done', stopReason: 'limit' });
  });

  it('shutdown stops the running trace', async () => {
    const { svc, tracers } = service();
    const { id } = await svc.start({ mark: 1 });
    await svc.shutdown();
    expect(tracers[0].stops).toBe(1);
    expect(svc.get(id).stopReason).toBe('shutdown');
  });

  it('records a failed start and frees the slot', async () => {
    const { svc } = service({ fail: new Error('no tracing backend works here') });
    await expect(svc.start({ mark: 1 })).rejects.toThrow(/no tracing backend/);
    expect(svc.list()[0]).toMatchObject({ state: 'failed', error: 'no tracing backend works here' });
  });

  it('keeps only the last finished traces', async () => {
    const { svc } = service();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { id } = await svc.start({ mark: i });
      ids.push(id);
      await svc.stop(id);
    }
    await svc.start({ mark: 9 });
    expect(() => svc.get(ids[0])).toThrow(TraceNotFoundError);
    expect(svc.list()).toHaveLength(3); // two finished + the running one
    await svc.shutdown();
  });

  it.each([
    [{}, 'mark'],
    [{ mark: 'x' }, 'mark'],
    [{ mark: 1, mask: 2 ** 33 }, 'mask'],
    [{ mark: 1, regex: '(' }, 'regex'],
    [{ mark: 1, regex: '(seg6)\\1' }, 'regex'],
    [{ mark: 1, regex: 'seg6(?!_)' }, 'regex'],
    [{ mark: 1, maxProbes: 0 }, 'maxProbes'],
    [{ mark: 1, maxProbes: 16385 }, 'maxProbes'],
    [{ mark: 1, maxProbes: 1.5 }, 'maxProbes'],
    [{ mark: 1, backend: 'ebpf' }, 'backend'],
    [{ mark: 1, type: 'graph' }, 'type'],
    [{ mark: 1, ifindex: -1 }, 'ifindex'],
    [{ mark: 1, durationMs: 0 }, 'durationMs'],
    [{ mark: 1, limit: 1001 }, 'limit'],
  ])('refuses %j naming the field', async (req, field) => {
    const { svc } = service();
    const err = await svc.start(req as never).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.field).toBe(field);
  });
});
