// Route programming: our batched rtnetlink against `ip -batch` of the same objects, each in a
// fresh namespace, in the same run. Times are wall-clock seconds, best of N runs.
import { execFileSync } from 'node:child_process';
import { writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NlRequest, nexthopAddRequest, Rtnetlink, routeAddRequest } from '../src/netlink';
import { TestNetns } from '../src/testing/netns';
import type { BenchResult } from './run';

const N = 10_000;
const NEXTHOPS = 100; // distinct remote SID lists; routes share them
const RUNS = 5;

// Collect garbage left by setup before each timed run (npm run bench exposes gc), for both sides.
const settle = () => (global as any).gc?.();

interface Workload {
  name: string;
  ip: (v0: string) => string[];
  /** Lazily encoded, as the agent's applier does: encoding overlaps the kernel's work. */
  ours: (ifindex: number) => Iterable<NlRequest>;
  /** Objects the kernel must hold afterwards, checked with iproute2 (both sides did the work). */
  count: (ns: TestNetns) => number;
}

const v4 = (i: number) => `10.${(i >> 8) & 255}.${i & 255}.0/24`;
const sid = (i: number) => `fc00:${(i + 1).toString(16)}::1`;
const localSid = (i: number) => `fc00:0:1:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::/128`;
const nh4 = (i: number) => `192.0.2.${(i % 250) + 2}`;

const WORKLOADS: Workload[] = [
  {
    name: 'netlink.nhid_routes_plus_seg6local_20k',
    ip: (dev) => [
      ...Array.from({ length: NEXTHOPS }, (_, k) => `nexthop add id ${k + 1} encap seg6 mode encap segs ${sid(k)} dev ${dev} proto 99`),
      ...Array.from({ length: N }, (_, i) => `route add ${v4(i)} nhid ${(i % NEXTHOPS) + 1} table 1000 proto 99`),
      ...Array.from({ length: N }, (_, i) => `route add ${localSid(i)} encap seg6local action End.DX4 nh4 ${nh4(i)} dev ${dev} table 1000 proto 99`),
    ],
    *ours(oif) {
      for (let k = 0; k < NEXTHOPS; k++)
        yield nexthopAddRequest({ id: k + 1, family: 4, oif, protocol: 99, encap: { type: 'seg6', mode: 'encap', segments: [sid(k)] } });
      for (let i = 0; i < N; i++) yield routeAddRequest({ dst: v4(i), nhid: (i % NEXTHOPS) + 1, table: 1000, protocol: 99 });
      for (let i = 0; i < N; i++)
        yield routeAddRequest({ dst: localSid(i), oif, table: 1000, protocol: 99, encap: { type: 'seg6local', action: 'End.DX4', nh4: nh4(i) } });
    },
    count: (ns) => routeCount(ns, '-4') + routeCount(ns, '-6'),
  },
  {
    name: 'netlink.per_route_encap_10k',
    ip: (dev) => Array.from({ length: N }, (_, i) => `route add ${v4(i)} encap seg6 mode encap segs ${sid(i % NEXTHOPS)} dev ${dev} table 1000 proto 99`),
    *ours(oif) {
      for (let i = 0; i < N; i++)
        yield routeAddRequest({ dst: v4(i), oif, table: 1000, protocol: 99, encap: { type: 'seg6', mode: 'encap', segments: [sid(i % NEXTHOPS)] } });
    },
    count: (ns) => routeCount(ns, '-4'),
  },
];

function routeCount(ns: TestNetns, fam: string): number {
  return execFileSync('ip', ['-n', ns.name, fam, 'route', 'show', 'table', '1000', 'proto', '99'], { encoding: 'utf8', maxBuffer: 1 << 28 })
    .split('\n')
    .filter(Boolean).length;
}

function freshNs(tag: string): TestNetns {
  const ns = TestNetns.create(tag);
  ns.ip(['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  ns.ip(['link', 'set', 'v0', 'up']);
  ns.ip(['link', 'set', 'v1', 'up']);
  ns.ip(['addr', 'add', '192.0.2.1/24', 'dev', 'v0']);
  return ns;
}

async function runOurs(w: Workload): Promise<number> {
  const ns = freshNs('bench');
  const nl = Rtnetlink.open({ netns: ns.name });
  try {
    const oif = (await nl.link('v0'))!.index;
    settle();
    const t0 = process.hrtime.bigint();
    const res = await nl.batch(w.ours(oif)); // encoding is part of the measured work
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    const failed = res.filter((r) => !r.ok);
    if (failed.length) throw new Error(`${w.name}: ${failed.length} requests failed, first: ${(failed[0] as any).error.message}`);
    checkCount(w, ns);
    return t;
  } finally {
    nl.close();
    ns.destroy();
  }
}

function runIp(w: Workload): number {
  const ns = freshNs('bench');
  const file = join(tmpdir(), `srv6-bench-${process.pid}.batch`);
  try {
    writeFileSync(file, `${w.ip('v0').join('\n')}\n`);
    settle();
    const t0 = process.hrtime.bigint();
    execFileSync('ip', ['-n', ns.name, '-batch', file], { stdio: 'ignore' });
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    checkCount(w, ns);
    return t;
  } finally {
    unlinkSync(file);
    ns.destroy();
  }
}

function checkCount(w: Workload, ns: TestNetns): void {
  const want = w.name.includes('20k') ? 2 * N : N;
  const got = w.count(ns);
  if (got !== want) throw new Error(`${w.name}: kernel holds ${got} routes, expected ${want}`);
}

export async function netlinkBench(): Promise<BenchResult[]> {
  // Warm the JIT on a small run first: the agent is a long-running process.
  await runOurs(WORKLOADS[0]);
  const out: BenchResult[] = [];
  for (const w of WORKLOADS) {
    let ours = Infinity;
    let base = Infinity;
    for (let r = 0; r < RUNS; r++) {
      base = Math.min(base, runIp(w));
      ours = Math.min(ours, await runOurs(w));
    }
    out.push({ name: w.name, ours, base, unit: 's' });
  }
  return out;
}
