// Preloaded (`node -r`) into the agents the end-to-end suite starts: V8's code cache for every
// CommonJS module they load, kept in one file per cache directory between runs. Under the lab's
// TCG emulation an agent spends most of its start loading Nest, bull, class-validator and our own
// modules (tens of seconds each, three agents at once); with compiled code from the cache that
// part shrinks. The agent is unchanged: this is the test harness's way of starting it.
//
//   SRV6_E2E_CODE_CACHE=<dir>   where the cache lives (no variable: nothing is done)
//
// The cache is keyed by file name and a hash of the source; V8 itself rejects data made by another
// node binary or other flags (then the module compiles as without the cache). Written at exit
// (Nest's SIGTERM path ends in process.exit) when some module had no usable entry: data created
// after the start holds the functions compiled lazily by then, not only the top level. Written to a
// temporary file and renamed: concurrent agents leave one of their complete files.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module = require('node:module');
import { dirname, join } from 'node:path';
import { Script, constants as vmConstants } from 'node:vm';

interface Entry {
  hash: string;
  data: Buffer;
}

const dir = process.env.SRV6_E2E_CODE_CACHE;
delete process.env.SRV6_E2E_CODE_CACHE; // not inherited by what the agent starts (redis, ip)

function load(file: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  try {
    const buf = readFileSync(file);
    const headerLen = buf.readUInt32LE(0);
    const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString()) as [string, string, number, number][];
    for (const [name, hash, off, len] of header) entries.set(name, { hash, data: buf.subarray(4 + headerLen + off, 4 + headerLen + off + len) });
  } catch {
    /* no cache yet, or unreadable: compile as usual */
  }
  return entries;
}

function save(file: string, entries: Map<string, Entry>): void {
  const header: [string, string, number, number][] = [];
  const blobs: Buffer[] = [];
  let off = 0;
  for (const [name, { hash, data }] of entries) {
    header.push([name, hash, off, data.length]);
    blobs.push(data);
    off += data.length;
  }
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.concat([len, head, ...blobs]));
  renameSync(tmp, file);
}

function install(cacheDir: string): void {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `modules-${process.version}.bin`);
  const cached = load(file);
  const compiled = new Map<string, { hash: string; script: Script }>();
  let misses = 0;

  type Internal = typeof Module & {
    wrap(s: string): string;
    _resolveFilename(r: string, m: Module, main: boolean, o?: unknown): string;
    _extensions: unknown;
    _cache: unknown;
  };
  const M = Module as Internal;
  const proto = Module.prototype as Module & { _compile(content: string, filename: string, format?: string): unknown };
  const original = proto._compile;
  proto._compile = function compile(this: Module, content: string, filename: string, format?: string) {
    // An ES module required from CommonJS (node 20.19+ require(esm), e.g. a "module-sync" export): node's own path.
    if ((format !== undefined && format !== 'commonjs') || filename.endsWith('.mjs')) return original.call(this, content, filename, format);
    const source = content.startsWith('#!') ? `//${content.slice(2)}` : content; // a hashbang is only valid at the very start
    const hash = createHash('sha1').update(source).digest('base64');
    const hit = cached.get(filename);
    const script = new Script(M.wrap(source), {
      filename,
      cachedData: hit?.hash === hash ? hit.data : undefined,
      importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (!hit || hit.hash !== hash || script.cachedDataRejected) misses++;
    compiled.set(filename, { hash, script });
    const mod = this;
    const req = ((id: string) => mod.require(id)) as NodeJS.Require;
    req.resolve = Object.assign((request: string, options?: { paths?: string[] }) => M._resolveFilename(request, mod, false, options), {
      paths: (request: string) => (Module as unknown as { _resolveLookupPaths(r: string, m: Module): string[] | null })._resolveLookupPaths(request, mod),
    });
    req.main = process.mainModule; // set before the main module compiles (this preload's own require.main is not)
    req.extensions = M._extensions as NodeJS.Require['extensions'];
    req.cache = M._cache as NodeJS.Require['cache'];
    const fn = script.runInThisContext({ displayErrors: true }) as (...a: unknown[]) => unknown;
    return fn.call(mod.exports, mod.exports, req, mod, filename, dirname(filename));
  };

  process.once('exit', () => {
    if (misses === 0) return;
    try {
      for (const [name, { hash, script }] of compiled) cached.set(name, { hash, data: script.createCachedData() });
      save(file, cached);
    } catch {
      /* a cache that cannot be written only costs time */
    }
  });
}

if (dir) {
  try {
    install(dir);
  } catch {
    /* no cache directory: start as usual */
  }
}
