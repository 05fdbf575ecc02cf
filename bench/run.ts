// `npm run bench [-- group...]`: every group measures ours against a real baseline in the same run
// and prints `BENCH <name> ours=<value> base=<value> ratio=<ours/base>`.
import { netlinkBench } from './netlink.bench';
import { reconcileBench } from './reconcile.bench';
import { jobsBench } from './jobs.bench';
import { xdpBench } from './xdp.bench';
import { traceBench } from './trace.bench';
import { destroyAllNetns } from '../src/testing/netns';

export interface BenchResult {
  name: string;
  ours: number;
  base: number;
  unit: string;
}

const GROUPS: Record<string, () => Promise<BenchResult[]>> = {
  netlink: netlinkBench,
  reconcile: reconcileBench,
  jobs: jobsBench,
  xdp: xdpBench,
  trace: traceBench,
};

export function printResult(r: BenchResult): void {
  const fmt = (v: number) => (r.unit === 's' ? v.toFixed(4) : v.toFixed(2));
  console.log(`BENCH ${r.name} ours=${fmt(r.ours)} base=${fmt(r.base)} ratio=${(r.ours / r.base).toFixed(3)}`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((g) => !GROUPS[g]);
  if (unknown.length) {
    console.error(`unknown bench group(s): ${unknown.join(', ')}; known: ${Object.keys(GROUPS).join(', ')}`);
    process.exit(2);
  }
  for (const g of wanted.length ? wanted : Object.keys(GROUPS)) {
    for (const r of await GROUPS[g]()) printResult(r);
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(destroyAllNetns);
