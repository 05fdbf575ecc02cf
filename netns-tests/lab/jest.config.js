// The "kernel" jest project as compiled JavaScript, for the lab VM (netns-tests/lab/run.sh).
// Inside the TCG VM ts-jest's transpiling of every file costs more than the tests themselves, so
// the lab runs what `npx tsc -p .` (scripts/setup.sh) compiled to dist/: the same tests, the same
// names, the same `--selectProjects kernel`. Only files whose TypeScript source still exists are
// run (tsc never deletes outputs); a source without its compiled file is an error. run.sh builds
// (scripts/setup.sh) before it boots, so dist/ is current.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
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
    else if (re.test(e.name)) out.push(p);
  }
  return out;
}

const tests = [];
const missing = [];
for (const { dir, re } of SOURCES) {
  for (const src of walk(path.join(root, dir), re, [])) {
    const rel = path.relative(root, src);
    const js = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
    if (fs.existsSync(js)) tests.push(js);
    else missing.push(rel);
  }
}
if (missing.length) {
  throw new Error(`not compiled to dist/: ${missing.join(', ')}: run \`npx tsc -p .\` (scripts/setup.sh) first`);
}

module.exports = {
  rootDir: root,
  projects: [
    {
      displayName: 'kernel',
      rootDir: root,
      testEnvironment: 'node',
      transform: {},
      roots: ['<rootDir>/dist'],
      // Exact paths: only tests that still have a source file.
      testMatch: tests.length ? tests : ['<rootDir>/dist/__no_kernel_tests__'],
    },
  ],
};
