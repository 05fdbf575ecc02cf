#!/usr/bin/env node
// The lab subset (netns-tests/lab/subset.txt): which kernel-tier tests `npm test` runs in the lab.
// Used by the lab's jest config (the files), its test environment (the names) and scripts/test.sh:
//
//   node netns-tests/lab/subset.js files                 the listed files; exit 1 if one is missing
//   node netns-tests/lab/subset.js cover <jest.json>     exit 1 if a test that skipped there for a
//                                                        kernel feature is not selected (the host's
//                                                        kernel tier results: no lab gap unlisted)
//   node netns-tests/lab/subset.js shards <n>            the subset's files split over n lab VMs
//   node netns-tests/lab/subset.js durations <jest.json> durations.txt lines from a lab run's results
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const LIST = path.join(__dirname, 'subset.txt');
const SKIP_SUFFIX = / \[skipped: kernel lacks [^\]]+\]$/;

/** [{ file: 'src/…/x.kernel.ts', pattern: RegExp | null, line: n }] */
function load(list = LIST) {
  const entries = [];
  fs.readFileSync(list, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const m = /^(\S+)(?:\s+(.+))?$/.exec(line);
      let pattern = null;
      if (m[2]) {
        try {
          pattern = new RegExp(m[2]);
        } catch (e) {
          throw new Error(`${path.relative(ROOT, list)}:${i + 1}: bad regex: ${e.message}`);
        }
      }
      entries.push({ file: path.normalize(m[1]), pattern, line: i + 1 });
    });
  return entries;
}

/** The source path, relative to the repository root, of a test file (compiled dist/ ones too). */
function sourceOf(testPath) {
  const rel = path.relative(ROOT, path.resolve(ROOT, testPath));
  const m = /^dist[\\/](.*)\.js$/.exec(rel);
  return m ? `${m[1]}.ts` : rel;
}

/** The entry of a test file, or undefined when the subset does not list it. */
function entryFor(entries, testPath) {
  const src = sourceOf(testPath);
  return entries.find((e) => e.file === src);
}

/** Whether the entry selects a test of its file by its full name ("[skipped: …]" ignored). */
function selects(entry, fullName) {
  return !!entry && (!entry.pattern || entry.pattern.test(fullName.replace(SKIP_SUFFIX, '')));
}

function missingFiles(entries) {
  return entries.filter((e) => !fs.existsSync(path.join(ROOT, e.file)));
}

function cover(jsonFile) {
  const entries = load();
  const results = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  const gaps = [];
  for (const file of results.testResults ?? []) {
    const entry = entryFor(entries, file.name);
    for (const t of file.assertionResults ?? []) {
      if (SKIP_SUFFIX.test(t.fullName) && !selects(entry, t.fullName)) gaps.push(`${sourceOf(file.name)}: ${t.fullName}`);
    }
  }
  if (gaps.length) {
    console.error(
      `lab subset: FAILED: ${gaps.length} test(s) skip here for a kernel feature and are not in netns-tests/lab/subset.txt (they would never run):`,
    );
    for (const g of gaps) console.error(`  ${g}`);
    return 1;
  }
  return 0;
}

function main([cmd, arg]) {
  if (cmd === 'files') {
    const entries = load();
    const missing = missingFiles(entries);
    for (const e of missing) console.error(`netns-tests/lab/subset.txt:${e.line}: no such test file: ${e.file}`);
    for (const e of entries) console.log(e.file);
    return missing.length ? 1 : 0;
  }
  if (cmd === 'cover' && arg) return cover(arg);
  if (cmd === 'durations' && arg) {
    // durations.txt lines from a lab run's jest.json (what LAB_KEEP keeps): seconds per file.
    const r = JSON.parse(fs.readFileSync(arg, 'utf8'));
    for (const f of r.testResults ?? []) {
      const secs = ((f.perfStats?.end ?? f.endTime) - (f.perfStats?.start ?? f.startTime)) / 1000;
      if (Number.isFinite(secs)) console.log(`${Math.round(secs)} ${sourceOf(f.name)}`);
    }
    return 0;
  }
  if (cmd === 'shards' && arg) {
    // The subset's files per shard, with their expected lab time (what run.sh prints at the start).
    shard(
      load().map((e) => e.file),
      Number(arg),
    ).forEach((s, i) => console.log(`shard ${i + 1}: ~${Math.round(s.seconds)} s: ${s.files.join(' ')}`));
    return 0;
  }
  console.error('usage: subset.js files | cover <jest.json> | shards <n> | durations <jest.json>');
  return 2;
}

// ---- shards: the lab's files split over several VMs (run.sh, LAB_SHARDS) ----

const DURATIONS = path.join(__dirname, 'durations.txt');
/** Seconds a file not in durations.txt is assumed to take in the lab. */
const DEFAULT_SECONDS = 30;

/** durations.txt: "<seconds> <file>" lines, what each file took in the lab (a measured run). */
function durations(list = DURATIONS) {
  const d = new Map();
  if (!fs.existsSync(list)) return d;
  for (const raw of fs.readFileSync(list, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\d+(?:\.\d+)?)\s+(\S+)$/.exec(line);
    if (m) d.set(path.normalize(m[2]), Number(m[1]));
  }
  return d;
}

/**
 * Splits `files` into `n` shards of about equal lab time: longest first, each to the shard with
 * the least so far (deterministic: ties go to the lower shard, equal times keep path order).
 * Returns [{ files, seconds }] in shard order.
 */
function shard(files, n, d = durations()) {
  const shards = Array.from({ length: n }, () => ({ files: [], seconds: 0 }));
  const cost = (f) => d.get(path.normalize(f)) ?? DEFAULT_SECONDS;
  const sorted = [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b));
  for (const f of sorted) {
    const s = shards.reduce((best, x) => (x.seconds < best.seconds ? x : best), shards[0]);
    s.files.push(f);
    s.seconds += cost(f);
  }
  return shards;
}

/** "2/3" → { index: 1, count: 3 } (index from 0); undefined when unset or malformed. */
function parseShard(spec) {
  const m = /^(\d+)\/(\d+)$/.exec(spec ?? '');
  if (!m || +m[1] < 1 || +m[1] > +m[2]) return undefined;
  return { index: +m[1] - 1, count: +m[2] };
}

module.exports = { ROOT, LIST, load, entryFor, selects, sourceOf, missingFiles, durations, shard, parseShard };
if (require.main === module) process.exitCode = main(process.argv.slice(2));
