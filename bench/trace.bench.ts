// The tracer (`npm run bench -- trace`): attach + detach of every target, per backend that works
// on this kernel (here: tp_btf on all skb tracepoints; in the lab VM also fentry, kprobe-multi and
// kprobe on every traceable function), against a naive loop measured in the same run: one target
// at a time, a whole libbpf object load per trampoline target (what a tool does without cloning
// and batching); and events per second delivered without loss, collecting (the aggregate output)
// against bare consumption. Loss is printed, never hidden.
// As ipft does: parallel detaches overlap the kernel's RCU waits (see TraceOptions).
process.env.UV_THREADPOOL_SIZE ??= '16';

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';

import { BpfObject } from '../src/bpf/libbpf';
import { Backend, BACKENDS, checkBackend, objectPath, planTargets } from '../src/trace/backend';
import { ProbeSet, programInsns, findMarker, setupProgram } from '../src/trace/probes';
import { FUNC_ID_MARKER } from '../src/trace/event';
import { KernelView, readKernelView, Tracer } from '../src/trace/tracer';
import { SkbTarget } from '../src/trace/targets';
import { TestNetns } from '../src/testing/netns';
import type { BenchResult } from './run';

const RUNS = Number(process.env.TRACE_BENCH_RUNS ?? 3);
const s = (ms: number) => ms / 1000;

interface AttachTimes {
  attach: number;
  detach: number;
  attached: number;
}

async function ours(backend: Backend, kernel: KernelView): Promise<AttachTimes> {
  const t = await Tracer.start({
    mark: 0,
    mask: 0xffffffff,
    backend,
    kernel,
    netnsInode: 1 /* matches nothing */,
    detachParallelism: Number(process.env.TRACE_BENCH_DETACH_PARALLEL ?? 8),
  });
  const sum = await t.stop();
  return { attach: sum.attach.attachMs, detach: sum.detachMs, attached: sum.attach.succeeded };
}

const PROBE_PROG: Record<Backend, string> = { fentry: 'probe_fentry', 'kprobe-multi': 'probe_kprobe_multi', kprobe: 'probe_kprobe', tp_btf: 'probe_tp_btf' };

/** One target at a time; trampolines: a full libbpf object load per target, no cloning. */
async function naive(backend: Backend, targets: SkbTarget[]): Promise<AttachTimes> {
  const probes = new ProbeSet();
  const objs: BpfObject[] = [];
  let attached = 0;
  const t0 = performance.now();
  try {
    if (backend === 'fentry' || backend === 'tp_btf') {
      for (const t of targets) {
        if (t.module) continue;
        const obj = BpfObject.open(objectPath('probe'));
        try {
          for (const p of Object.values(PROBE_PROG)) setupProgram(obj, p, { autoload: p === PROBE_PROG[backend] });
          setupProgram(obj, PROBE_PROG[backend], { attachTarget: t.name });
          await obj.load();
          const insns = programInsns(obj, PROBE_PROG[backend]);
          const r = await probes.attachTracing({
            insns,
            marker: findMarker(insns, FUNC_ID_MARKER),
            attachType: backend,
            btfIds: Uint32Array.of(t.btfId),
            btfObjFds: Int32Array.of(0),
            ids: Uint32Array.of(0),
          });
          if (!r.errors[0]) attached++;
        } catch {
          /* refused: not attached */
        } finally {
          obj.close(); // the link holds the program
        }
      }
    } else {
      const obj = BpfObject.open(objectPath('probe'));
      objs.push(obj);
      const prog = backend === 'kprobe-multi' ? 'probe_kprobe' : PROBE_PROG[backend];
      for (const p of Object.values(PROBE_PROG)) setupProgram(obj, p, { autoload: p === prog });
      await obj.load();
      const progFd = obj.prog(prog).fd;
      for (const t of targets) {
        const r = await probes.attachKprobes({ progFd, syms: [t.name], cookies: Uint32Array.of(0) });
        if (!r.errors[0]) attached++;
      }
    }
    const attach = performance.now() - t0;
    const t1 = performance.now();
    await probes.detach(1);
    return { attach, detach: performance.now() - t1, attached };
  } finally {
    probes.closeSync();
    for (const o of objs) o.close();
  }
}

async function attachBench(backend: Backend, kernel: KernelView): Promise<BenchResult[]> {
  const plan = planTargets(backend, kernel.discovery, kernel.syms);
  const best = (xs: AttachTimes[], k: 'attach' | 'detach') => Math.min(...xs.map((x) => x[k]));
  const o: AttachTimes[] = [];
  const b: AttachTimes[] = [];
  const runs = backend === 'tp_btf' ? RUNS : 1; // thousands of trampolines: one run each is minutes in the lab
  for (let i = 0; i < runs; i++) {
    o.push(await ours(backend, kernel));
    b.push(await naive(backend, plan.targets));
  }
  console.log(`trace: ${backend}: ${plan.targets.length} targets; attached ours ${o[0].attached}, naive ${b[0].attached}`);
  const n = plan.targets.length;
  return [
    { name: `trace.${backend}_attach_all_${n}`, ours: s(best(o, 'attach')), base: s(best(b, 'attach')), unit: 's' },
    { name: `trace.${backend}_detach_all_${n}`, ours: s(best(o, 'detach')), base: s(best(b, 'detach')), unit: 's' },
  ];
}

/** UDP datagrams to itself inside `ns`: `pps` per second for `ms` milliseconds (paced). */
function udpFlood(ns: TestNetns, pps: number, ms: number): Promise<void> {
  const script =
    `const d=require('dgram');const r=d.createSocket('udp4');r.bind(9000,'127.0.0.1');r.on('message',()=>{});` +
    `const s=d.createSocket('udp4');const b=Buffer.alloc(64);const t0=Date.now();let n=0;` +
    `(function f(){const el=Date.now()-t0;const due=Math.floor(el*${pps}/1000);while(n<due){s.send(b,9000,'127.0.0.1');n++;}` +
    `if(el<${ms})setImmediate(f);else setTimeout(()=>process.exit(0),100);})();`;
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { stdio: 'ignore' });
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`udp flood exited ${c}`))));
  });
}

/**
 * The highest event rate delivered with nothing lost, on a ladder of paced packet rates (every
 * packet is ~8 tracepoint events on loopback): collecting events (ours, the aggregate output)
 * against bare consumption (base: counted, not decoded or kept). Every step and its loss is
 * printed.
 */
async function rateBench(backend: Backend, kernel: KernelView): Promise<BenchResult[]> {
  const ns = TestNetns.create('tracebench');
  const inode = statSync(ns.path).ino;
  const ms = Number(process.env.TRACE_BENCH_RATE_MS ?? 2000);
  const ladder = (process.env.TRACE_BENCH_PPS ?? '25000,37500,50000,62500,75000,100000').split(',').map(Number);
  const run = async (collect: boolean, pps: number) => {
    const t = await Tracer.start({ mark: 0, mask: 0, backend, kernel, netnsInode: inode, collect, maxEvents: 50_000_000, ringBufferBytes: 16 << 20 });
    const t0 = performance.now();
    await udpFlood(ns, pps, ms);
    const sum = await t.stop();
    const secs = (performance.now() - t0) / 1000;
    const rate = sum.samples / secs;
    const lost = sum.lost + sum.undelivered;
    console.log(
      `trace: ${backend} ${collect ? 'collecting' : 'consuming '} at ${pps} pps: ${Math.round(rate)} events/s, lost ${lost}${lost ? '  <-- LOSS' : ''}`,
    );
    return lost ? 0 : rate;
  };
  try {
    let base = 0;
    let collected = 0;
    for (const pps of ladder) {
      base = Math.max(base, await run(false, pps));
      collected = Math.max(collected, await run(true, pps));
    }
    return [{ name: `trace.${backend}_events_per_s_without_loss`, ours: collected, base, unit: 'events/s' }];
  } finally {
    ns.destroy();
  }
}

export async function traceBench(): Promise<BenchResult[]> {
  const kernel = readKernelView();
  const out: BenchResult[] = [];
  const working: Backend[] = [];
  for (const b of BACKENDS) {
    const c = await checkBackend(b, kernel.discovery, kernel.syms);
    console.log(`trace: backend ${b}: ${c.ok ? 'works' : `unavailable (${c.reason})`}`);
    if (c.ok) working.push(b);
  }
  const only = process.env.TRACE_BENCH_BACKENDS?.split(',') as Backend[] | undefined;
  for (const b of working.filter((x) => !only || only.includes(x))) out.push(...(await attachBench(b, kernel)));
  if (working.length) out.push(...(await rateBench(working.includes('tp_btf') ? 'tp_btf' : working[0], kernel)));
  return out;
}
