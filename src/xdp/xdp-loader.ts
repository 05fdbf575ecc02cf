// Loading the offload's BPF object (bpf/xdp/srv6_decap.bpf.c): where a namespace's pins live,
// the load-time configuration and the identity it gives the program, reuse of the pinned maps (or
// their replacement when an upgrade changed a layout), and the check that user space and the
// object agree on every map before anything is written into one.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

import { ensureBpffs } from '../bpf/bpffs';
import { BpfError, BpfObject, BpfProgram } from '../bpf/libbpf';
import { packageRoot } from '../native/addon';
import { InvalidArgumentError } from '../netlink/errors';
import { EGRESS_SLOTS, layoutSize, MAP_LAYOUTS, MAPS, REASONS, u32Key } from './layout';

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/srv6-agent';
const PROGRAM = 'srv6_xdp_decap';

export interface XdpLoadOptions {
  /** Network namespace of the underlay devices (name or path); default: ours. */
  netns?: string;
  /** bpffs directory holding one pin directory per namespace. Default /sys/fs/bpf/srv6-agent. */
  pinRoot?: string;
  /** Name of the pin directory; default the netns name, or "host". */
  pinTag?: string;
  /** The BPF object; default <package>/bpf/build/xdp/srv6_decap.bpf.o. */
  object?: string;
  /** Load-time: every SID in shadow mode. */
  shadow?: boolean;
  /** Load-time: bpf_printk every pass reason. */
  debug?: boolean;
}

/** The loaded object and what identifies it. */
export interface LoadedXdp {
  obj: BpfObject;
  prog: BpfProgram;
  /** sha256 of the object file and the load-time configuration. */
  identity: string;
  pinDir: string;
}

/** Where open() pins the maps and links for these options: <pinRoot>/<netns name or "host">. */
export function pinDirOf(opts: Pick<XdpLoadOptions, 'pinRoot' | 'pinTag' | 'netns'>): string {
  const tag = opts.pinTag ?? (opts.netns ? basename(opts.netns) : 'host');
  if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new InvalidArgumentError('pinTag', `not a plain directory name: ${tag}`);
  return join(opts.pinRoot ?? DEFAULT_PIN_ROOT, tag);
}

function sha256(...parts: (Buffer | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Loads the program into its pin directory, reusing the pinned maps; attaches nothing. */
export async function loadXdpObject(opts: XdpLoadOptions, warn: (msg: string) => void): Promise<LoadedXdp> {
  const pinRoot = opts.pinRoot ?? DEFAULT_PIN_ROOT;
  const pinDir = pinDirOf(opts);
  ensureBpffs(pinRoot.startsWith('/sys/fs/bpf') ? '/sys/fs/bpf' : pinRoot);
  mkdirSync(pinDir, { recursive: true });

  const file = opts.object ?? join(packageRoot(), 'bpf/build/xdp/srv6_decap.bpf.o');
  const globals = { cfg_shadow: u32Key(opts.shadow ? 1 : 0), cfg_debug: u32Key(opts.debug ? 1 : 0) };
  const identity = sha256(readFileSync(file), JSON.stringify({ program: PROGRAM, shadow: !!opts.shadow, debug: !!opts.debug }));

  let obj: BpfObject;
  try {
    obj = await BpfObject.load(file, { pinRoot: pinDir, globals });
  } catch (err) {
    if (!(err instanceof BpfError) || !/reuse pinned map/.test(`${err.log ?? ''} ${err.message}`)) throw err;
    // An upgrade changed a map's layout. The attached program keeps its (now unpinned) maps
    // until apply() has filled the new ones and swapped the program.
    warn(`xdp offload: pinned maps in ${pinDir} do not match ${file}: replacing them (counters restart from 0)`);
    for (const m of Object.values(MAPS)) rmSync(join(pinDir, m), { force: true });
    obj = await BpfObject.load(file, { pinRoot: pinDir, globals });
  }
  try {
    const prog = obj.prog(PROGRAM);
    checkLayout(obj);
    return { obj, prog, identity, pinDir };
  } catch (err) {
    obj.close();
    throw err;
  }
}

// User space and the object must agree on every layout; a stale object fails here, not in traffic.
function checkLayout(obj: BpfObject): void {
  for (const [name, l] of Object.entries(MAP_LAYOUTS)) {
    const [k, v] = [layoutSize(l.key), layoutSize(l.value)];
    const m = obj.map(name);
    if (m.keySize !== k || m.valueSize !== v)
      throw new BpfError(`${obj.path}: map ${name} is ${m.keySize}/${m.valueSize} bytes, src/xdp/layout.ts expects ${k}/${v}`, 'checkLayout', 22, 'EINVAL');
  }
  if (obj.map(MAPS.egress).maxEntries !== EGRESS_SLOTS)
    throw new BpfError(`${obj.path}: srv6_egress has ${obj.map(MAPS.egress).maxEntries} slots, layout.ts ${EGRESS_SLOTS}`, 'checkLayout', 22, 'EINVAL');
  if (obj.map(MAPS.reasons).maxEntries !== REASONS.length)
    throw new BpfError(`${obj.path}: srv6_reasons has ${obj.map(MAPS.reasons).maxEntries} reasons, layout.ts ${REASONS.length}`, 'checkLayout', 22, 'EINVAL');
}
