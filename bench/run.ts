// `npm run bench [-- group...]`: every group measures ours against a real baseline in the same run
// and prints `BENCH <name> ours=<value> base=<value> ratio=<ours/base>`. A group that needs a kernel
// feature this kernel lacks prints `BENCH-SKIP <group>: kernel lacks …` and no number;
// `npm run bench -- --lab group...` runs the groups inside the lab VM (Debian's kernel, which has
// them), with their baselines measured in the same VM: there only the ratios mean something.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { netlinkBench } from './netlink.bench';
import { reconcileBench } from './reconcile.bench';
import { jobsBench } from './jobs.bench';
import { xdpBench } from './xdp.bench';
import { traceBench } from './trace.bench';
import { destroyAllNetns } from '../src/testing/netns';
import { KernelFeature, kernelLacks, SRV6 } from '../src/testing/kernel-features';

export interface BenchResult {
  name: string;
  ours: number;
  base: number;
  unit: string;
}

interface Group {
  run: () => Promise<BenchResult[]>;
  /** What the group (ours or its baseline) programs into the kernel. */
  needs: KernelFeature[];
}

const GROUPS: Record<string, Group> = {
  netlink: { run: netlinkBench, needs: ['seg6', ...SRV6] }, // seg6 routes, nexthops, seg6local End.DX4
  reconcile: { run: reconcileBench, needs: SRV6 }, // tenants: SID routes, encap nexthops
  jobs: { run: jobsBench, needs: ['seg6', ...SRV6] }, // route jobs; ip route replace … encap seg6
  xdp: { run: xdpBench, needs: ['seg6local'] }, // the base: the kernel's seg6local path
  trace: { run: traceBench, needs: [] },
};

/** In the lab VM (TCG): the same groups, the ratios only meaningful. */
function runInLab(groups: string[]): number {
  console.log(
    `BENCH-LAB ${groups.join(' ') || 'all groups'}: in the lab VM (Debian's kernel under TCG emulation, 10-40x slower than the host); absolute values are the emulator's, compare ratios only`,
  );
  const lab = path.join(__dirname, '..', '..', 'netns-tests', 'lab', 'lab.sh');
  const r = spawnSync('bash', [lab, '--', 'env', 'SRV6_BENCH_IN_LAB=1', 'node', '--expose-gc', 'dist/bench/run.js', ...groups], {
    stdio: 'inherit',
    cwd: path.join(__dirname, '..', '..'),
  });
  return r.status ?? 1;
}

export function printResult(r: BenchResult): void {
  const fmt = (v: number) => (r.unit === 's' ? v.toFixed(4) : v.toFixed(2));
  const where = process.env.SRV6_BENCH_IN_LAB ? ' (lab, TCG: ratio only)' : '';
  console.log(`BENCH ${r.name} ours=${fmt(r.ours)} base=${fmt(r.base)} ratio=${(r.ours / r.base).toFixed(3)}${where}`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const lab = process.argv.includes('--lab');
  const unknown = wanted.filter((g) => !GROUPS[g]);
  if (unknown.length) {
    console.error(`unknown bench group(s): ${unknown.join(', ')}; known: ${Object.keys(GROUPS).join(', ')}`);
    process.exit(2);
  }
  if (lab) {
    process.exitCode = runInLab(wanted);
    return;
  }
  for (const g of wanted.length ? wanted : Object.keys(GROUPS)) {
    const missing = kernelLacks(GROUPS[g].needs);
    if (missing.length) {
      console.log(`BENCH-SKIP ${g}: kernel lacks ${missing.join(', ')} (npm run bench -- --lab ${g} runs it in the lab VM)`);
      continue;
    }
    for (const r of await GROUPS[g].run()) printResult(r);
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(destroyAllNetns);
