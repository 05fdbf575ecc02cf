// What each backend attaches, filters and refuses (the numbers of the attach summary line), which
// programs carry which targets, and the marker the clones are patched at.
import {
  autoBackendOrder,
  Backend,
  BACKENDS,
  BackendCheck,
  DEFAULT_MAX_PROBES,
  FENTRY_AUTO_MAX_TARGETS,
  MAX_PROBES_LIMIT,
  planTargets,
  planTrace,
  selectBackend,
  selectionSummary,
  TooManyProbesError,
  traceFeature,
  tracepointLabel,
} from './backend';
import { FEATURES } from '../capabilities/capabilities.model';
import { NameFilterError } from './name-filter';
import { findMarker } from './probes';
import { Discovery, KernelSymbols, SkbFunction, SkbTracepoint } from './targets';
import { attachLine, AttachSummary, programSpecs } from './tracer';

const fn = (name: string, over: Partial<SkbFunction> = {}): SkbFunction => ({
  kind: 'function',
  name,
  btfId: 1,
  nrArgs: 2,
  skbArg: 0,
  skbSlot: 0,
  constSkb: false,
  ...over,
});
const tp = (name: string, over: Partial<SkbTracepoint> = {}): SkbTracepoint => ({
  kind: 'tracepoint',
  name,
  btfId: 2,
  nrArgs: 1,
  skbArg: 0,
  skbSlot: 0,
  ...over,
});

const DISCOVERY: Discovery = {
  functions: [
    fn('ip6_finish_output2', { skbArg: 2, skbSlot: 2 }),
    fn('seg6_do_srh_encap'),
    fn('skb_gso_validate_network_len', { constSkb: true }),
    fn('inlined_away'),
    fn('nf_log_packet', { fentryUnsupported: 'variadic' }),
    fn('many_args', { skbSlot: 6, skbArg: 6 }),
    fn('after_big_struct', { skbSlot: -1 }),
    fn('dup_name'),
    fn('not_ftraceable'),
    fn('blacklisted'),
    fn('veth_xmit', { module: 'veth' }),
  ],
  tracepoints: [tp('net_dev_queue'), tp('net_dev_xmit', { nrArgs: 4 }), tp('qdisc_dequeue', { skbSlot: 3, skbArg: 3, nrArgs: 4 }), tp('weird', { skbSlot: 7 })],
};

const present = DISCOVERY.functions.map((f) => f.name).filter((n) => n !== 'inlined_away');
const SYMS: KernelSymbols = {
  text: new Map(present.map((n) => [n, n === 'dup_name' ? 2 : 1])),
  ftrace: new Set(present.filter((n) => n !== 'not_ftraceable')),
  kprobeBlacklist: new Set(['blacklisted']),
};

const reasons = (b: Parameters<typeof planTargets>[0], regex?: RegExp) =>
  Object.fromEntries(planTargets(b, DISCOVERY, SYMS, regex).untraceable.map((u) => [u.name, u.reason]));

describe('planTargets', () => {
  it('fentry: trampolines need an address, ftrace, and arguments they can model', () => {
    const p = planTargets('fentry', DISCOVERY, SYMS);
    expect(p.total).toBe(11);
    expect(p.targets.map((t) => t.name)).toEqual([
      'ip6_finish_output2',
      'seg6_do_srh_encap',
      'skb_gso_validate_network_len',
      'many_args',
      'dup_name',
      'blacklisted',
      'veth_xmit',
    ]);
    expect(reasons('fentry')).toEqual({
      inlined_away: expect.stringMatching(/kallsyms/),
      nf_log_packet: expect.stringMatching(/variadic/),
      after_big_struct: expect.stringMatching(/slot unknown/),
      not_ftraceable: expect.stringMatching(/available_filter_functions/),
    });
  });

  it('kprobe: registers 1-5 only, no blacklisted or ambiguous names; ftrace not needed', () => {
    const p = planTargets('kprobe', DISCOVERY, SYMS);
    expect(p.targets.map((t) => t.name)).toContain('not_ftraceable');
    expect(reasons('kprobe')).toMatchObject({
      many_args: expect.stringMatching(/slot 6 .*registers 1-5/),
      blacklisted: expect.stringMatching(/blacklist/),
      dup_name: expect.stringMatching(/ambiguous/),
    });
  });

  it('kprobe-multi: ftrace-based, ambiguous names are fine', () => {
    const r = reasons('kprobe-multi');
    expect(r.dup_name).toBeUndefined();
    expect(r.not_ftraceable).toMatch(/available_filter_functions/);
  });

  it('tp_btf: tracepoints only, slots 0-5', () => {
    const p = planTargets('tp_btf', DISCOVERY, SYMS);
    expect([p.total, p.targets.length, p.untraceable.map((u) => u.name)]).toEqual([4, 3, ['weird']]);
  });

  it('counts what the regex filters out, before anything else', () => {
    const p = planTargets('fentry', DISCOVERY, SYMS, /^(seg6|ip6_)/);
    expect([p.total, p.targets.length, p.filtered, p.untraceable.length]).toEqual([11, 2, 9, 0]);
  });

  it('treats a missing available_filter_functions as unknown, not as empty', () => {
    const p = planTargets('fentry', DISCOVERY, { text: SYMS.text });
    expect(p.targets.map((t) => t.name)).toContain('not_ftraceable');
  });
});

describe('backend choice', () => {
  it('tries fentry first for a few functions, kprobe-multi first beyond FENTRY_AUTO_MAX_TARGETS', () => {
    expect(autoBackendOrder('function', FENTRY_AUTO_MAX_TARGETS)).toEqual({ order: ['fentry', 'kprobe-multi', 'kprobe', 'tp_btf'] });
    const many = autoBackendOrder('function', FENTRY_AUTO_MAX_TARGETS + 1);
    expect(many.order).toEqual(['kprobe-multi', 'fentry', 'kprobe', 'tp_btf']);
    expect(many.fentryDeferred).toMatch(
      new RegExp(`${FENTRY_AUTO_MAX_TARGETS + 1} functions to trace, fentry is chosen for at most ${FENTRY_AUTO_MAX_TARGETS}`),
    );
    // tracepoints only: nothing for fentry to trace, the usual order (tp_btf last) is kept
    expect(autoBackendOrder('function', 0).order[0]).toBe('fentry');
  });

  it('function_graph: fentry only, whatever the count', () => {
    expect(autoBackendOrder('function_graph', 5000)).toEqual({ order: ['fentry'] });
  });

  // 40 traceable functions: more than FENTRY_AUTO_MAX_TARGETS unless a regex narrows them.
  const names = Array.from({ length: 40 }, (_, i) => `fn_${i}`);
  const big: Discovery = { functions: names.map((n) => fn(n)), tracepoints: [tp('net_dev_queue')] };
  const bigSyms: KernelSymbols = { text: new Map(names.map((n) => [n, 1])) };
  const fake = (works: Backend[]) => {
    const tried: Backend[] = [];
    const check = async (b: Backend): Promise<BackendCheck> => {
      tried.push(b);
      return works.includes(b) ? { backend: b, ok: true, reason: 'attached to x' } : { backend: b, ok: false, reason: 'load: EPERM' };
    };
    return { tried, check };
  };

  it('many functions: kprobe-multi runs, and the summary says why fentry was not tried', async () => {
    const f = fake(['fentry', 'kprobe-multi', 'kprobe', 'tp_btf']);
    const sel = await selectBackend(big, bigSyms, { check: f.check });
    expect(f.tried).toEqual(['kprobe-multi']);
    expect(sel.backend).toBe('kprobe-multi');
    expect(selectionSummary(sel)).toMatch(
      /^Backend: kprobe-multi \(not used: fentry: not tried first: 40 functions to trace, fentry is chosen for at most 32 .*-b fentry forces it\)$/,
    );
  });

  it('a regex that leaves few functions keeps fentry first', async () => {
    const f = fake(['fentry', 'kprobe-multi']);
    const sel = await selectBackend(big, bigSyms, { check: f.check, filter: /^fn_1\d$/ });
    expect([sel.backend, f.tried]).toEqual(['fentry', ['fentry']]);
    expect(selectionSummary(sel)).toBe('Backend: fentry');
  });

  it("many functions without kprobe-multi: fentry after all, with kprobe-multi's reason", async () => {
    const f = fake(['fentry', 'tp_btf']);
    const sel = await selectBackend(big, bigSyms, { check: f.check });
    expect([sel.backend, f.tried]).toEqual(['fentry', ['kprobe-multi', 'fentry']]);
    expect(selectionSummary(sel)).toBe('Backend: fentry (not used: kprobe-multi: load: EPERM)');
  });

  it('falls through to tp_btf, naming every backend that failed once (this host)', async () => {
    const f = fake(['tp_btf']);
    const sel = await selectBackend(big, bigSyms, { check: f.check });
    expect(f.tried).toEqual(['kprobe-multi', 'fentry', 'kprobe', 'tp_btf']);
    expect(sel.checks.map((c) => c.backend)).toEqual(['kprobe-multi', 'fentry', 'kprobe', 'tp_btf']);
    expect(selectionSummary(sel)).toBe('Backend: tp_btf (not used: kprobe-multi: load: EPERM; fentry: load: EPERM; kprobe: load: EPERM)');
  });

  it('a requested backend is the only one tried', async () => {
    const f = fake(['tp_btf']);
    const sel = await selectBackend(big, bigSyms, { check: f.check, requested: 'fentry' });
    expect([sel.backend, f.tried]).toEqual([undefined, ['fentry']]);
    expect(selectionSummary(sel)).toBe('No usable backend (fentry: load: EPERM)');
  });
});

describe('planTrace', () => {
  const works = async (b: Backend): Promise<BackendCheck> => ({ backend: b, ok: true, reason: 'attached to x' });
  /** `n` traceable functions and `n` traceable tracepoints. */
  const kernel = (n: number) => {
    const names = Array.from({ length: n }, (_, i) => `fn_${i}`);
    const discovery: Discovery = { functions: names.map((x) => fn(x)), tracepoints: names.map((x) => tp(`tp_${x}`)) };
    const syms: KernelSymbols = { text: new Map(names.map((x) => [x, 1])) };
    return { discovery, syms };
  };
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('not refused');
      },
      (e: unknown) => e as TooManyProbesError,
    );

  describe.each(BACKENDS)('probe cap, %s', (backend) => {
    const { discovery, syms } = kernel(50);

    it('refuses more probes than maxProbes, naming the count and the cap', async () => {
      const err = await refusal(planTrace(discovery, syms, { requested: backend, maxProbes: 49, check: works }));
      expect(err).toBeInstanceOf(TooManyProbesError);
      expect(err).toMatchObject({ backend, probes: 50, maxProbes: 49, targets: 50 });
      expect(err.message).toMatch(
        new RegExp(
          `^50 probes to attach with ${backend} \\(50 (functions|tracepoints)\\), more than the cap of 49: nothing was attached; narrow the targets with a regex, or raise the cap \\(.*at most ${MAX_PROBES_LIMIT}\\)$`,
        ),
      );
    });

    it('attaches up to the cap, and counts what the filter leaves', async () => {
      await expect(planTrace(discovery, syms, { requested: backend, maxProbes: 50, check: works })).resolves.toMatchObject({
        plan: { backend, targets: expect.any(Array) },
      });
      const narrowed = await planTrace(discovery, syms, { requested: backend, maxProbes: 10, regex: '_[0-9]$', check: works });
      expect([narrowed.plan.targets.length, narrowed.plan.filtered]).toEqual([10, 40]);
    });

    it(`refuses more than DEFAULT_MAX_PROBES (${DEFAULT_MAX_PROBES}) without maxProbes`, async () => {
      const big = kernel(DEFAULT_MAX_PROBES + 1);
      const err = await refusal(planTrace(big.discovery, big.syms, { requested: backend, check: works }));
      expect(err).toMatchObject({ probes: DEFAULT_MAX_PROBES + 1, maxProbes: DEFAULT_MAX_PROBES });
    });
  });

  it('the automatic choice is capped too', async () => {
    const { discovery, syms } = kernel(50);
    await expect(planTrace(discovery, syms, { maxProbes: 20, check: works })).rejects.toMatchObject({ backend: 'kprobe-multi', probes: 50 });
  });

  it('function_graph counts entry and return probes', async () => {
    const { discovery, syms } = kernel(30);
    const err = await refusal(planTrace(discovery, syms, { requested: 'fentry', type: 'function_graph', maxProbes: 59, check: works }));
    expect(err).toMatchObject({ probes: 60, maxProbes: 59, targets: 30 });
    expect(err.message).toContain('(30 functions, entry and return)');
  });

  it('says when the cap is already the hard maximum, and refuses caps beyond it', async () => {
    const { discovery, syms } = kernel(MAX_PROBES_LIMIT + 1);
    const err = await refusal(planTrace(discovery, syms, { requested: 'kprobe-multi', maxProbes: MAX_PROBES_LIMIT, check: works }));
    expect(err.message).toMatch(new RegExp(`more than the cap of ${MAX_PROBES_LIMIT}: .*\\(${MAX_PROBES_LIMIT} is the most a trace may attach\\)$`));
    await expect(planTrace(discovery, syms, { requested: 'tp_btf', maxProbes: MAX_PROBES_LIMIT + 1, check: works })).rejects.toThrow(RangeError);
  });

  it('refuses a filter it cannot match in linear time before choosing a backend', async () => {
    const { discovery, syms } = kernel(5);
    const tried: Backend[] = [];
    const check = (b: Backend) => (tried.push(b), works(b));
    await expect(planTrace(discovery, syms, { regex: '(seg6)\\1', check })).rejects.toThrow(NameFilterError);
    expect(tried).toEqual([]);
  });

  it('matches a catastrophic pattern against 100,000 names with the event loop turning', async () => {
    // (\w+)+\. backtracks exponentially in RegExp on every one of these names (no dot in them).
    const names = Array.from({ length: 100_000 }, (_, i) => `skb_gso_validate_network_len_${i}`);
    const discovery: Discovery = { functions: names.map((x) => fn(x)), tracepoints: [] };
    const syms: KernelSymbols = { text: new Map(names.map((x) => [x, 1])) };
    let turns = 0;
    let running = true;
    const turn = () => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const err = await refusal(planTrace(discovery, syms, { requested: 'kprobe-multi', regex: '(\\w+)+\\.|_9999[0-9]$', maxProbes: 5, check: works }));
    running = false;
    expect(err).toMatchObject({ probes: 10, maxProbes: 5 });
    expect(turns).toBeGreaterThan(1);
  });
});

describe('programSpecs', () => {
  it('one trampoline program per skb slot, with a template target from vmlinux', () => {
    const targets = [fn('veth_xmit', { module: 'veth' }), fn('a'), fn('b', { skbSlot: 2 }), fn('c')];
    expect(programSpecs('fentry', targets, 'function')).toEqual([
      { prog: 'ipft_fentry_0', template: 'a', ids: [0, 1, 3], attach: 'fentry' },
      { prog: 'ipft_fentry_2', template: 'b', ids: [2], attach: 'fentry' },
    ]);
    expect(programSpecs('fentry', targets, 'function_graph').map((s) => s.prog)).toEqual(['ipft_fentry_0', 'ipft_fexit_0', 'ipft_fentry_2', 'ipft_fexit_2']);
    expect(programSpecs('kprobe-multi', targets, 'function').map((s) => [s.prog, s.ids])).toEqual([
      ['ipft_kmulti_0', [0, 1, 3]],
      ['ipft_kmulti_2', [2]],
    ]);
  });

  it('gives net_dev_start_xmit and net_dev_xmit (skb may be freed) programs of their own', () => {
    const specs = programSpecs('tp_btf', [tp('net_dev_queue'), tp('net_dev_start_xmit'), tp('net_dev_xmit'), tp('qdisc_dequeue', { skbSlot: 3 })], 'function');
    expect(specs.map((s) => [s.prog, s.template, s.ids])).toEqual([
      ['ipft_tp_net_dev_start_xmit', 'net_dev_start_xmit', [1]],
      ['ipft_tp_net_dev_xmit', 'net_dev_xmit', [2]],
      ['ipft_tp_0', 'net_dev_queue', [0]],
      ['ipft_tp_3', 'qdisc_dequeue', [3]],
    ]);
  });
});

describe('summaries', () => {
  it('prints the attach line as ipftrace2 does', () => {
    const a = { total: 1803, succeeded: 1001, failed: 0, filtered: 0, untraceable: 802 } as AttachSummary;
    expect(attachLine(a)).toBe('Attaching program (total 1803, succeeded 1001, failed 0, filtered: 0, untraceable: 802)');
  });

  it('says which backend runs and why the others did not', () => {
    expect(
      selectionSummary({
        backend: 'tp_btf',
        checks: [
          { backend: 'fentry', ok: false, reason: 'load: EPERM' },
          { backend: 'tp_btf', ok: true, reason: 'attached to skb:consume_skb' },
        ],
      }),
    ).toBe('Backend: tp_btf (not used: fentry: load: EPERM)');
    expect(selectionSummary({ checks: [{ backend: 'kprobe', ok: false, reason: 'no PMU' }] })).toBe('No usable backend (kprobe: no PMU)');
  });

  it('labels tracepoints with their system', () => {
    expect(['net_dev_queue', 'kfree_skb', 'tcp_probe', 'qdisc_dequeue', 'something'].map(tracepointLabel)).toEqual([
      'net:net_dev_queue',
      'skb:kfree_skb',
      'tcp:tcp_probe',
      'qdisc:qdisc_dequeue',
      'tp:something',
    ]);
  });
});

describe('findMarker', () => {
  const insn = (code: number, imm: number) => {
    const b = Buffer.alloc(8);
    b[0] = code;
    b.writeInt32LE(imm, 4);
    return b;
  };
  const M = 0x1f7ace1d5eedf00dn;
  const lo = Number(M & 0xffffffffn) | 0;
  const hi = Number(M >> 32n) | 0;

  it('finds the ld_imm64 carrying the marker, skipping second halves', () => {
    const prog = Buffer.concat([insn(0xb7, lo), insn(0x18, 1), insn(0, lo), insn(0x18, lo), insn(0, hi), insn(0x95, 0)]);
    expect(findMarker(prog, M)).toBe(3);
  });

  it('refuses programs without it or with two', () => {
    expect(() => findMarker(Buffer.concat([insn(0x95, 0)]), M)).toThrow(/not found/);
    const two = Buffer.concat([insn(0x18, lo), insn(0, hi), insn(0x18, lo), insn(0, hi)]);
    expect(() => findMarker(two, M)).toThrow(/more than once/);
  });
});

describe('traceFeature', () => {
  it('names each backend as GET /v1/capabilities does, and tracing as a whole as trace', () => {
    for (const b of BACKENDS) expect(FEATURES).toContain(traceFeature(b));
    expect(traceFeature('kprobe-multi')).toBe('trace.kprobe_multi');
    expect(traceFeature()).toBe('trace');
  });
});
