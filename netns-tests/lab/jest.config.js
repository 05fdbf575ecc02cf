// The "kernel" jest project as the lab VM runs it (netns-tests/lab/run.sh): the project's own
// (jest.config.js: ts-jest from the sources) with the lab's test environment, which applies the
// lab subset's per-file name filters. Environment (set by run.sh):
//   SRV6_LAB_SUBSET=1  only the files listed in netns-tests/lab/subset.txt (and, within each,
//                      the tests its regex selects: subset-environment.js)
//   SRV6_LAB_SHARD=i/n only shard i of n of those files (run.sh with LAB_SHARDS=n: one VM each)
//   LAB_COMPILED=1     the compiled tests in dist/ instead of ts-jest: no faster once ts-jest's
//                      cache is warm, and stale when dist/ is (run.sh builds first). Only files
//                      whose TypeScript source still exists run (tsc never deletes outputs).
const fs = require('node:fs');
const path = require('node:path');
const subset = require('./subset');

const root = subset.ROOT;
const base = require(path.join(root, 'jest.config.js')).projects.find((p) => p.displayName === 'kernel');
const SOURCES = [
  { dir: 'src', re: /\.kernel\.ts$/ },
  { dir: 'netns-tests', re: /\.test\.ts$/ },
];

function walk(dir, re, out) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, re, out);
    else if (re.test(e.name)) out.push(path.relative(root, p));
  }
  return out;
}

let sources;
if (process.env.SRV6_LAB_SUBSET) {
  const entries = subset.load();
  const missing = subset.missingFiles(entries);
  if (missing.length) throw new Error(`netns-tests/lab/subset.txt lists test files that do not exist: ${missing.map((e) => e.file).join(', ')}`);
  sources = entries.map((e) => e.file);
} else {
  sources = SOURCES.flatMap(({ dir, re }) => walk(path.join(root, dir), re, []));
}

// SRV6_LAB_SHARD=i/n (run.sh with LAB_SHARDS=n): this VM runs shard i of the files (subset.shard).
const shardSpec = subset.parseShard(process.env.SRV6_LAB_SHARD);
if (process.env.SRV6_LAB_SHARD && !shardSpec) throw new Error(`SRV6_LAB_SHARD=${process.env.SRV6_LAB_SHARD}: expected i/n`);
if (shardSpec) sources = subset.shard(sources, shardSpec.count)[shardSpec.index].files;

const project = { ...base, rootDir: root, testEnvironment: path.join(__dirname, 'subset-environment.js') };
if (process.env.LAB_COMPILED === '1') {
  const compiled = sources.map((s) => path.join('dist', s.replace(/\.ts$/, '.js')));
  const stale = sources.filter((s, i) => !fs.existsSync(path.join(root, compiled[i])));
  if (stale.length) throw new Error(`not compiled to dist/: ${stale.join(', ')}: run \`npx tsc -p .\` (scripts/setup.sh) first`);
  Object.assign(project, { transform: {}, roots: ['<rootDir>/dist'], testMatch: compiled.map((c) => `<rootDir>/${c}`) });
} else {
  project.roots = ['<rootDir>/src', '<rootDir>/netns-tests']; // jest's file crawl over 9p: ~8 s less
  if (process.env.SRV6_LAB_SUBSET || shardSpec) project.testMatch = sources.map((s) => `<rootDir>/${s}`);
}

module.exports = { rootDir: root, projects: [project] };
