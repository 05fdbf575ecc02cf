#!/usr/bin/env node
// Stages the installed tree of the Debian package (scripts/package.sh): node package-tree.js DEST
//   DEST/package.json        name, version, engines, bin, dependencies (what npm ls and the
//                            addon loader look for; packageRoot() finds the tree by it)
//   DEST/dist/src/...        the compiled files the two CLIs reach through their requires: no
//                            tests, test helpers, benchmarks or source maps
//   DEST/node_modules/...    the production dependencies as package-lock.json lists them (not
//                            "dev"), copied from this checkout's node_modules, without source
//                            maps and TypeScript sources/declarations
//   DEST/build/Release/srv6_native.node, DEST/bpf/build/... (the objects loaded at run time),
//   DEST/docs/**/*.md (the unit's Documentation= and the ADRs it links to)
'use strict';
const { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, statSync, writeFileSync } = require('node:fs');
const { basename, dirname, join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');

/** Entry points of the package: what /usr/bin runs. */
const ENTRIES = ['dist/src/cli/srv6-agent.js', 'dist/src/cli/ipft.js'];

/**
 * BPF objects the agent and ipft open at run time (grep the sources for "bpf/build"):
 * capability probe (bpf-prober.ts: FIB_TBID_PROBE, XDP_PROBE_OBJECTS, whose fallback is the libbpf
 * test object), the XDP offload (xdp-offload.ts), ipft (backend.ts objectPath).
 */
const BPF_OBJECTS = [
  'bpf/build/probe/fib_tbid.bpf.o',
  'bpf/build/probe/xdp_pass.bpf.o?', // "?": not built yet in every version (bpf-prober.ts)
  'bpf/build/test/xdp_test.bpf.o',
  'bpf/build/xdp/srv6_decap.bpf.o',
  'bpf/build/trace/ipft.bpf.o',
  'bpf/build/trace/probe.bpf.o',
];

/**
 * Not needed at run time: source maps, TypeScript, prebuilt addons for musl (not Debian's libc),
 * and the packages' dotfiles (.eslintrc, .npmignore, .husky/, ...).
 */
const SKIP_IN_MODULES = /\.(map|ts|mts|cts)$|\.musl\.node$|\/\.[^/]+$/;

function die(msg) {
  process.stderr.write(`package-tree: ${msg}\n`);
  process.exit(1);
}

function copyFile(rel, dest) {
  const from = join(ROOT, rel);
  if (!existsSync(from)) die(`${rel} is missing: build first (npm run build)`);
  mkdirSync(dirname(join(dest, rel)), { recursive: true });
  cpSync(from, join(dest, rel));
}

/** The relative requires of compiled files, followed from the entries. */
function distClosure() {
  const seen = new Set();
  const todo = [...ENTRIES];
  while (todo.length) {
    const rel = todo.pop();
    if (seen.has(rel)) continue;
    if (!existsSync(join(ROOT, rel))) die(`${rel} is missing: build first (npm run build)`);
    seen.add(rel);
    const text = readFileSync(join(ROOT, rel), 'utf8');
    for (const m of text.matchAll(/\brequire\("(\.{1,2}\/[^"]+)"\)/g)) {
      let target = relative(ROOT, resolve(ROOT, dirname(rel), m[1]));
      if (!target.endsWith('.js') && !target.endsWith('.json')) target = existsSync(join(ROOT, `${target}.js`)) ? `${target}.js` : join(target, 'index.js');
      todo.push(target);
    }
  }
  return [...seen].sort();
}

/** node_modules/... paths of the production dependencies present here. */
function productionModules() {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.link)
    .map(([path]) => path)
    .filter((path) => existsSync(join(ROOT, path))); // optional ones of other platforms are absent
}

function main() {
  const dest = process.argv[2];
  if (!dest) die('usage: package-tree.js DEST');
  mkdirSync(dest, { recursive: true });

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const { name, version, description, license, engines, bin, dependencies } = pkg;
  writeFileSync(join(dest, 'package.json'), `${JSON.stringify({ name, version, description, license, private: true, engines, bin, dependencies }, null, 2)}\n`);

  const dist = distClosure();
  for (const rel of dist) copyFile(rel, dest);

  const modules = productionModules();
  for (const path of modules) {
    const own = join(ROOT, path, 'node_modules'); // nested packages are entries of their own
    const top = join(ROOT, path);
    cpSync(top, join(dest, path), {
      recursive: true,
      filter: (src) => src === top || (src !== own && !(SKIP_IN_MODULES.test(src) && (basename(src).startsWith('.') || !statSync(src).isDirectory()))),
    });
  }

  copyFile('build/Release/srv6_native.node', dest);
  const bpf = [];
  for (const o of BPF_OBJECTS) {
    const optional = o.endsWith('?');
    const rel = optional ? o.slice(0, -1) : o;
    if (optional && !existsSync(join(ROOT, rel))) continue;
    copyFile(rel, dest);
    bpf.push(rel);
  }
  for (const f of readdirSync(join(ROOT, 'docs'), { recursive: true }).filter((f) => f.endsWith('.md'))) copyFile(join('docs', f), dest);
  normalizeModes(dest);

  process.stdout.write(`package-tree: ${dist.length} compiled files, ${modules.length} packages, ${bpf.length} BPF objects\n`);
}

/** Directories 0755; files 0644, scripts ("#!") 0755: whatever modes the checkout had. */
function normalizeModes(dir) {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) normalizeModes(p);
    else if (e.isFile()) chmodSync(p, startsWithShebang(p) ? 0o755 : 0o644);
  }
}

function startsWithShebang(p) {
  const fd = openSync(p, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString() === '#!';
  } finally {
    closeSync(fd);
  }
}

main();
