#!/usr/bin/env node
// ipft: trace which kernel functions (or, without kprobes/fentry, which tracepoints) the packets
// with a given skb mark pass through, with their length and GSO state; ipftrace2-compatible
// options. Every probe is a bpf_link owned by this process: Ctrl-C, SIGTERM, an error or even a
// crash detach them all (the kernel drops links with their last fd).
// Exit status: 0 success, 1 runtime error, 2 usage error.
// Attaching and detaching thousands of probes runs on libuv's thread pool; detaching trampolines
// mostly waits for the kernel's RCU grace periods, which parallel closes share. The pool starts
// lazily, so this still applies here.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { rmSync, writeFileSync } from 'node:fs';

import {
  BACKENDS,
  checkBackend,
  isFunctionBackend,
  planTargets,
  prefilter,
  selectBackend,
  selectionSummary,
  targetLabel,
  TP_MODE_NOTE,
} from '../trace/backend';
import { formatAggregate, jsonEvent, Labels } from '../trace/format';
import { EXIT, IpftArgs, parseIpftArgs, USAGE, UsageError } from '../trace/ipft-args';
import { PacketSplitter } from '../trace/packets';
import type { TraceEvent } from '../trace/event';
import { attachLine, readKernelView, TraceAbortedError, Tracer, TraceSummary } from '../trace/tracer';
import { readBuildInfo, versionText } from '../common/build-info';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

async function list(args: IpftArgs, io: Io): Promise<number> {
  const kernel = readKernelView();
  const filter = await prefilter(kernel.discovery, args.regex);
  const sel = await selectBackend(kernel.discovery, kernel.syms, { requested: args.backend, type: args.type, filter });
  io.err(`${selectionSummary(sel)}\n`);
  if (!sel.backend) return EXIT.RUNTIME;
  const plan = planTargets(sel.backend, kernel.discovery, kernel.syms, filter);
  if (args.output === 'json') {
    const targets = plan.targets.map((t) => ({
      name: t.name,
      label: targetLabel(t),
      kind: t.kind,
      skbArg: t.skbArg,
      module: t.module ?? null,
      ...(t.kind === 'function' ? { constSkb: t.constSkb } : {}),
    }));
    io.out(`${JSON.stringify({ backend: sel.backend, total: plan.total, filtered: plan.filtered, targets, untraceable: plan.untraceable })}\n`);
    return EXIT.OK;
  }
  const lines = plan.targets.map((t) => {
    const extra = [`skb arg ${t.skbArg + 1}`];
    if (t.module) extra.push(`module ${t.module}`);
    if (t.kind === 'function' && t.constSkb) extra.push('const skb');
    return `${targetLabel(t)} (${extra.join(', ')})`;
  });
  if (args.verbose) for (const u of plan.untraceable) lines.push(`# untraceable: ${u.name}: ${u.reason}`);
  io.out(lines.join('\n') + (lines.length ? '\n' : ''));
  io.err(
    `${plan.targets.length} traceable ${isFunctionBackend(sel.backend) ? 'functions' : 'tracepoints'} (total ${plan.total}, filtered: ${plan.filtered}, untraceable: ${plan.untraceable.length})\n`,
  );
  if (sel.backend === 'tp_btf') io.err(`Note: ${TP_MODE_NOTE}\n`);
  return EXIT.OK;
}

async function checkBackends(args: IpftArgs, io: Io): Promise<number> {
  const kernel = readKernelView();
  const checks = [];
  for (const b of args.backend ? [args.backend] : BACKENDS) checks.push(await checkBackend(b, kernel.discovery, kernel.syms));
  if (args.output === 'json') io.out(`${JSON.stringify(checks)}\n`);
  else for (const c of checks) io.out(`${c.backend}: ${c.ok ? 'works' : 'unavailable'}: ${c.reason}\n`);
  return EXIT.OK;
}

function summaryLines(s: TraceSummary): string {
  const lines = [`Samples: ${s.samples} Lost: ${s.lost + s.undelivered}`];
  if (s.undelivered) lines.push(`(of those lost, ${s.undelivered} were counted by the probes but never reached the ring buffer reader)`);
  if (s.notKept) lines.push(`Not kept: ${s.notKept} received events beyond --max-events/--limit are missing from the output`);
  return lines.join('\n') + '\n';
}

async function trace(args: IpftArgs, io: Io): Promise<number> {
  const abort = new AbortController();
  let tracer: Tracer | undefined;
  let finish: (why: string) => void = () => {};
  const finished = new Promise<string>((resolve) => (finish = resolve));
  let signals = 0;
  let detaching = false;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1 || detaching) {
      // A second signal, or one while detaching: exit now. The exit hook (and, failing that, the
      // kernel when the process ends) closes what is still attached.
      io.err(`ipft: ${sig} again, exiting\n`);
      process.exit(EXIT.RUNTIME);
    }
    abort.abort();
    finish(sig);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  if (args.readyFile) rmSync(args.readyFile, { force: true });

  const pending: string[] = [];
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    if (pending.length) io.out(pending.join(''));
    pending.length = 0;
  };
  const onEpipe = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') finish('EPIPE');
  };
  process.stdout.on('error', onEpipe);

  try {
    try {
      tracer = await Tracer.start({
        mark: args.mark!,
        mask: args.mask,
        regex: args.regex,
        backend: args.backend,
        type: args.type,
        maxProbes: args.maxProbes,
        netnsInode: args.netnsInode,
        ifindex: args.ifindex,
        ringBufferBytes: args.ringBufferBytes,
        collect: args.output === 'aggregate',
        maxEvents: args.maxEvents,
        limit: args.limit,
        signal: abort.signal,
        log: (line) => io.err(`${line}\n`),
      });
    } catch (e) {
      if (e instanceof TraceAbortedError) {
        io.err('ipft: interrupted while attaching; everything attached so far was detached\n');
        return EXIT.RUNTIME;
      }
      throw e;
    }
    const t = tracer;
    if (args.verbose && t.attach.failed) {
      io.err(`Attach failures by errno: ${JSON.stringify(t.attach.failuresByCode)}\n`);
      for (const f of t.attach.failures) io.err(`  ${f.name}: ${f.code}\n`);
      if (t.attach.verifierLog) io.err(`First verifier refusal:\n${t.attach.verifierLog}\n`);
    }
    if (t.attach.exitFailed) io.err(`Return probes failed for ${t.attach.exitFailed} functions (their entries are traced)\n`);
    if (t.backend === 'tp_btf') io.err(`Note: ${TP_MODE_NOTE}\n`);
    if (t.attach.succeeded === 0) {
      io.err('ipft: nothing could be attached\n');
      await t.stop();
      return EXIT.RUNTIME;
    }
    const labels: Labels = { labels: t.labels, modules: t.targets.map((x) => x.module), gsoNames: t.gsoNames };
    if (args.output === 'json') {
      const splitter = new PacketSplitter({ names: t.targets.map((x) => x.name), gapNs: BigInt(args.splitGapMs) * 1_000_000n });
      let n = 0;
      t.on('event', (e: TraceEvent) => {
        pending.push(`${jsonEvent(e, splitter.packetOf(e), labels)}\n`);
        if (++n % 65536 === 0) splitter.prune(e.tstamp);
        if (!flushQueued) {
          flushQueued = true;
          setImmediate(flush);
        }
      });
    }
    t.on('limit', () => finish('limit'));
    t.on('error', (e: Error) => {
      io.err(`ipft: ring buffer: ${e.message}\n`);
      finish('error');
    });
    io.err('Trace ready!\n');
    if (args.readyFile) writeFileSync(args.readyFile, `${process.pid}\n`);
    if (abort.signal.aborted) finish('signal'); // a signal between attach and here
    const timer = args.duration !== undefined ? setTimeout(() => finish('duration'), args.duration * 1000) : undefined;
    const why = await finished;
    if (timer) clearTimeout(timer);

    const summary = await t.halt(); // results are final now; detaching may take a while (fentry)
    flush();
    if (args.output === 'aggregate') {
      io.out(summaryLines(summary));
      const packets = t.packets(BigInt(args.splitGapMs) * 1_000_000n);
      // Large traces: write packet by packet instead of one huge string.
      for (let i = 0; i < packets.length; i += 256) io.out(`${i ? '\n' : ''}${formatAggregate(packets.slice(i, i + 256), labels)}\n`);
    } else {
      io.err(summaryLines(summary));
    }
    const n = summary.attach.succeeded;
    const slow = n > 200 && t.backend === 'fentry';
    if (slow) io.err(`Detaching ${n} probes (fentry: the kernel waits for a grace period per function, this takes a while; nothing is traced any more)...\n`);
    detaching = true;
    const done = await t.stop();
    if (args.verbose || slow) io.err(`Detached in ${(done.detachMs / 1000).toFixed(1)} s (${why})\n`);
    return why === 'error' ? EXIT.RUNTIME : EXIT.OK;
  } finally {
    // Errors included: nothing may stay attached (stop() is idempotent).
    if (tracer) await tracer.stop().catch(() => undefined);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    process.stdout.off('error', onEpipe);
  }
}

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let args: IpftArgs;
  try {
    args = parseIpftArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`ipft: ${e.message}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (args.help) {
    io.out(USAGE);
    return EXIT.OK;
  }
  if (args.version) {
    io.out(versionText('ipft', readBuildInfo(), args.output === 'json'));
    return EXIT.OK;
  }
  try {
    if (args.checkBackends) return await checkBackends(args, io);
    return args.list ? await list(args, io) : await trace(args, io);
  } catch (e) {
    io.err(`ipft: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.RUNTIME;
  }
}

// Re-exported for scripts that want the same summary line as the CLI.
export { attachLine };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`ipft: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT.RUNTIME;
    },
  );
}
