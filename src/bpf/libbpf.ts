// Typed wrapper over the libbpf half of the native addon (native/bpf*.c).
//
// Ownership, in one place:
// - BpfObject owns its programs' and maps' fds; BpfProgram/BpfMap taken from it are views that
//   die with `obj.close()`. Links and pins hold their own kernel references, so closing an object
//   never detaches anything.
// - BpfMap/XdpLink opened from a pin own their fd: call close().
// - An XdpLink that is not pinned is detached by the kernel when its last fd closes.
// - Slow work (verifier, test runs) returns Promises and runs off the event loop.
import { native as loadNative, netnsRef } from '../native/addon';
import { BpfError, toBpfError } from './errors';

export { BpfError } from './errors';

// ---- the addon ----

type Netns = string | number | undefined | null;

/** A map as declared in an object (bpfObjectMapInfo); fd is -1 before load. */
export interface MapSpec {
  fd: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

interface NativeBpf {
  bpfObjectOpen(path: string, opts?: { pinRoot?: string }): unknown;
  bpfObjectSetGlobal(obj: unknown, name: string, value: Buffer): void;
  bpfObjectSetMapMaxEntries(obj: unknown, map: string, n: number): void;
  bpfObjectLoad(obj: unknown): Promise<void>;
  bpfObjectProgFd(obj: unknown, name: string): number;
  bpfObjectMapFd(obj: unknown, name: string): number;
  bpfObjectMapInfo(obj: unknown, name: string): MapSpec;
  bpfObjectClose(obj: unknown): void;
  bpfMapInfo(fd: number): MapInfo;
  bpfMapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  bpfMapLookup(fd: number, key: Buffer, valueSize?: number): Buffer | null;
  bpfMapDelete(fd: number, key: Buffer): boolean;
  bpfMapNextKey(fd: number, key: Buffer | null, keySize?: number): Buffer | null;
  bpfPossibleCpus(): number;
  bpfObjPin(fd: number, path: string): void;
  bpfObjGet(path: string): number;
  bpfXdpLinkCreate(progFd: number, dev: number | string, flags: number, netns?: Netns): number;
  bpfLinkUpdate(linkFd: number, progFd: number, expectedOldProgFd?: number): void;
  bpfLinkDetach(linkFd: number): void;
  bpfLinkInfo(fd: number): LinkInfo;
  bpfProgInfo(fd: number): ProgInfo;
  bpfProgTestRun(progFd: number, opts: Omit<TestRunOptions, 'netns'> & { netns?: Netns }): Promise<TestRunResult>;
  bpfRingbufOpen(mapFd: number, cb: (samples: Buffer[], err?: Error) => void): unknown;
  bpfRingbufClose(handle: unknown): void;
  bpfRingbufRef(handle: unknown, ref: boolean): void;
  bpfFeatures(): BpfFeatures;
  closeFd(fd: number): void;
}

// One loader for both halves of the addon (src/native/addon.ts finds it from the package root,
// so this works from src/ under ts-jest and from dist/src/ in production).
function native(): NativeBpf {
  return loadNative<NativeBpf>();
}

function call<T>(op: string, fn: (n: NativeBpf) => T): T {
  try {
    return fn(native());
  } catch (err) {
    throw toBpfError(err, op);
  }
}

async function callAsync<T>(op: string, fn: (n: NativeBpf) => Promise<T>): Promise<T> {
  try {
    return await fn(native());
  } catch (err) {
    throw toBpfError(err, op);
  }
}

// ---- constants (UAPI values) ----

export enum BpfMapType {
  Hash = 1,
  Array = 2,
  ProgArray = 3,
  PerCpuHash = 5,
  PerCpuArray = 6,
  LruHash = 9,
  LruPerCpuHash = 10,
  LpmTrie = 11,
  DevMap = 14,
  DevMapHash = 25,
  RingBuf = 27,
}

export enum BpfProgType {
  Tracepoint = 5,
  Xdp = 6,
  RawTracepoint = 17,
  Tracing = 26,
}

export enum BpfLinkType {
  Xdp = 6,
}

/** bpf_map_update_elem flags. */
export enum MapUpdate {
  Any = 0,
  NoExist = 1,
  Exist = 2,
}

/** XDP attach mode; Auto lets the kernel use the driver's native mode when it has one. */
export enum XdpMode {
  Auto = 0,
  Skb = 2,
  Drv = 4,
  Hw = 8,
}

export enum XdpAction {
  Aborted = 0,
  Drop = 1,
  Pass = 2,
  Tx = 3,
  Redirect = 4,
}

const PER_CPU_TYPES = new Set<number>([
  BpfMapType.PerCpuHash,
  BpfMapType.PerCpuArray,
  BpfMapType.LruPerCpuHash,
  21, // BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
]);

// ---- info shapes ----

export interface MapInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface ProgInfo {
  id: number;
  name: string;
  type: number;
  /** The kernel's program tag (hex), as `bpftool prog` shows it. */
  tag: string;
}

export interface LinkInfo {
  id: number;
  progId: number;
  type: number;
  /** XDP links: the device; 0 once detached. */
  ifindex?: number;
}

export interface BpfFeatures {
  progXdp: boolean;
  progTracepoint: boolean;
  progRawTracepoint: boolean;
  mapRingbuf: boolean;
  helperFibLookup: boolean;
}

let cpus: number | undefined;

/** Number of possible CPUs: the slot count of a per-CPU map value. */
export function possibleCpus(): number {
  cpus ??= call('libbpf_num_possible_cpus', (n) => n.bpfPossibleCpus());
  return cpus;
}

/** Probes what this kernel lets us load (a few ms: call once at start). */
export function probeFeatures(): BpfFeatures {
  return call('bpfFeatures', (n) => n.bpfFeatures());
}

function closeFd(fd: number, op: string): void {
  call(op, (n) => n.closeFd(fd));
}

// ---- objects, programs ----

export interface OpenOptions {
  /** Directory for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` (reused if pinned). */
  pinRoot?: string;
}

export interface LoadOptions extends OpenOptions {
  /** `const volatile` globals to set before load, by variable name. */
  globals?: Record<string, Buffer>;
  /** Map sizes to override before load, by map name. */
  maxEntries?: Record<string, number>;
}

/** A BPF ELF object: open, configure, load, then take programs and maps from it. */
export class BpfObject {
  private handle: unknown;

  private constructor(
    handle: unknown,
    readonly path: string,
  ) {
    this.handle = handle;
  }

  /** Parses the ELF file; nothing reaches the kernel until load(). */
  static open(file: string, opts: OpenOptions = {}): BpfObject {
    return new BpfObject(
      call('bpf_object__open', (n) => n.bpfObjectOpen(file, opts)),
      file,
    );
  }

  /** open + setGlobal/setMaxEntries + load; the object is closed again if any step fails. */
  static async load(file: string, opts: LoadOptions = {}): Promise<BpfObject> {
    const obj = BpfObject.open(file, opts);
    try {
      for (const [name, value] of Object.entries(opts.globals ?? {})) obj.setGlobal(name, value);
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) obj.setMaxEntries(name, n);
      return await obj.load();
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.handle === undefined;
  }

  private h(op: string): unknown {
    if (this.handle === undefined) throw new BpfError(`${op}: object ${this.path} is closed`, op, 9, 'EBADF');
    return this.handle;
  }

  /** Sets a global variable's bytes before load; the size must match the variable's. */
  setGlobal(name: string, value: Buffer): this {
    const op = 'bpfObjectSetGlobal';
    call(op, (n) => n.bpfObjectSetGlobal(this.h(op), name, value));
    return this;
  }

  /** Resizes a map before load. */
  setMaxEntries(map: string, maxEntries: number): this {
    const op = 'bpfObjectSetMapMaxEntries';
    call(op, (n) => n.bpfObjectSetMapMaxEntries(this.h(op), map, maxEntries));
    return this;
  }

  /** Creates the maps and runs the verifier (off the event loop). A rejection's BpfError carries
   *  the verifier log in `.log` and in its message. */
  async load(): Promise<this> {
    const op = 'bpf_object__load';
    await callAsync(op, (n) => n.bpfObjectLoad(this.h(op)));
    return this;
  }

  /** A loaded program, valid until close(). */
  prog(name: string): BpfProgram {
    const op = 'bpfObjectProgFd';
    return new BpfProgram(call(op, (n) => n.bpfObjectProgFd(this.h(op), name)), name);
  }

  /** A loaded map, valid until close(). */
  map(name: string): BpfMap {
    const op = 'bpfObjectMapFd';
    const fd = call(op, (n) => n.bpfObjectMapFd(this.h(op), name));
    return BpfMap.fromFd(fd, { owned: false });
  }

  /** A map's declared shape; usable before load (fd is -1 then). */
  mapSpec(name: string): MapSpec {
    const op = 'bpfObjectMapInfo';
    return call(op, (n) => n.bpfObjectMapInfo(this.h(op), name));
  }

  /** Closes the object's fds. Idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    call('bpfObjectClose', (n) => n.bpfObjectClose(this.handle));
    this.handle = undefined;
  }
}

export class BpfProgram {
  constructor(
    readonly fd: number,
    readonly name: string,
  ) {}

  info(): ProgInfo {
    return call('bpfProgInfo', (n) => n.bpfProgInfo(this.fd));
  }

  testRun(opts: TestRunOptions): Promise<TestRunResult> {
    return testRun(this, opts);
  }
}

// ---- maps ----

/** A map by fd. Keys and values are raw bytes in the kernel's layout; sizes are checked natively. */
export class BpfMap {
  private open = true;

  private constructor(
    readonly fd: number,
    readonly info: MapInfo,
    private readonly owned: boolean,
  ) {}

  /** Wraps an fd; `owned` maps close it in close(). */
  static fromFd(fd: number, { owned }: { owned: boolean }): BpfMap {
    return new BpfMap(fd, call('bpfMapInfo', (n) => n.bpfMapInfo(fd)), owned);
  }

  /** Opens a pinned map (close() it when done). */
  static fromPinned(pinPath: string): BpfMap {
    const fd = call('bpf_obj_get', (n) => n.bpfObjGet(pinPath));
    try {
      return BpfMap.fromFd(fd, { owned: true });
    } catch (err) {
      closeFd(fd, 'close');
      throw err;
    }
  }

  get name(): string {
    return this.info.name;
  }
  get type(): number {
    return this.info.type;
  }
  get keySize(): number {
    return this.info.keySize;
  }
  get valueSize(): number {
    return this.info.valueSize;
  }
  get maxEntries(): number {
    return this.info.maxEntries;
  }
  get perCpu(): boolean {
    return PER_CPU_TYPES.has(this.info.type);
  }
  /** Bytes of one per-CPU slot (values are 8-byte aligned per CPU). */
  private get slot(): number {
    return (this.info.valueSize + 7) & ~7;
  }

  /** Inserts or replaces; for per-CPU maps `value` holds every CPU's slot (see updatePerCpu). */
  update(key: Buffer, value: Buffer, flags: MapUpdate = MapUpdate.Any): void {
    call('bpf_map_update_elem', (n) => n.bpfMapUpdate(this.fd, key, value, flags));
  }

  /** The value, or null if the key is absent; for per-CPU maps all slots concatenated. */
  lookup(key: Buffer): Buffer | null {
    return call('bpf_map_lookup_elem', (n) => n.bpfMapLookup(this.fd, key));
  }

  /** Per-CPU maps: one value (valueSize bytes) per possible CPU, or null if absent. */
  lookupPerCpu(key: Buffer): Buffer[] | null {
    this.requirePerCpu('lookupPerCpu');
    const raw = this.lookup(key);
    if (!raw) return null;
    return Array.from({ length: possibleCpus() }, (_, cpu) =>
      raw.subarray(cpu * this.slot, cpu * this.slot + this.info.valueSize),
    );
  }

  /** Per-CPU maps: sets every CPU's value; `values` is one Buffer for all CPUs or one per CPU. */
  updatePerCpu(key: Buffer, values: Buffer | Buffer[], flags: MapUpdate = MapUpdate.Any): void {
    this.requirePerCpu('updatePerCpu');
    const n = possibleCpus();
    const raw = Buffer.alloc(this.slot * n);
    for (let cpu = 0; cpu < n; cpu++) {
      const v = Array.isArray(values) ? values[cpu] : values;
      if (!v || v.length !== this.info.valueSize)
        throw new BpfError(`updatePerCpu: need ${n} values of ${this.info.valueSize} bytes`, 'updatePerCpu', 22, 'EINVAL');
      v.copy(raw, cpu * this.slot);
    }
    this.update(key, raw, flags);
  }

  /** Removes a key; false if it was not there. */
  delete(key: Buffer): boolean {
    return call('bpf_map_delete_elem', (n) => n.bpfMapDelete(this.fd, key));
  }

  /**
   * Iterates over the keys. As with bpf_map_get_next_key itself, deleting the current key of a
   * hash map while iterating may restart the walk from the beginning: collect first, then delete.
   */
  *keys(): IterableIterator<Buffer> {
    let key: Buffer | null = null;
    for (;;) {
      const prev: Buffer | null = key;
      key = call('bpf_map_get_next_key', (n) => n.bpfMapNextKey(this.fd, prev));
      if (!key) return;
      yield key;
    }
  }

  /** Key/value pairs; keys that vanish between the two syscalls are skipped. */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  /** Pins the map in bpffs. */
  pin(pinPath: string): void {
    call('bpf_obj_pin', (n) => n.bpfObjPin(this.fd, pinPath));
  }

  /** Closes the fd if this wrapper owns it (maps from a BpfObject are closed by the object). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.owned) closeFd(this.fd, 'close');
  }

  private requirePerCpu(op: string): void {
    if (!this.perCpu) throw new BpfError(`${op}: map '${this.name}' is not per-CPU`, op, 22, 'EINVAL');
  }
}

// ---- XDP links ----

export interface XdpAttachOptions {
  /** Network namespace of the device: a name, a path (/var/run/netns/NAME) or an open fd. */
  netns?: string | number;
  mode?: XdpMode;
}

function progFd(prog: BpfProgram | number): number {
  return typeof prog === 'number' ? prog : prog.fd;
}

/**
 * An XDP program attached through a bpf_link: other tools cannot replace it by accident, the
 * program can be swapped atomically, and a pinned link survives the agent's restart.
 */
export class XdpLink {
  private constructor(private fdOrClosed: number | undefined) {}

  /** Attaches `prog` to a device (ifindex or name, resolved in opts.netns). */
  static attach(prog: BpfProgram | number, dev: number | string, opts: XdpAttachOptions = {}): XdpLink {
    const fd = call('bpf_link_create(BPF_XDP)', (n) =>
      n.bpfXdpLinkCreate(progFd(prog), dev, opts.mode ?? XdpMode.Auto, netnsRef(opts.netns)),
    );
    return new XdpLink(fd);
  }

  /** Reopens a pinned link (e.g. after a restart). */
  static fromPinned(pinPath: string): XdpLink {
    const fd = call('bpf_obj_get', (n) => n.bpfObjGet(pinPath));
    const link = new XdpLink(fd);
    try {
      if (link.info().type !== BpfLinkType.Xdp)
        throw new BpfError(`bpf_obj_get: ${pinPath} is not an XDP link`, 'bpf_obj_get', 22, 'EINVAL');
      return link;
    } catch (err) {
      link.close();
      throw err;
    }
  }

  get fd(): number {
    if (this.fdOrClosed === undefined) throw new BpfError('XdpLink: closed', 'XdpLink', 9, 'EBADF');
    return this.fdOrClosed;
  }

  info(): LinkInfo {
    return call('bpfLinkInfo', (n) => n.bpfLinkInfo(this.fd));
  }

  /** Pins the link: it then stays attached after this process closes its fd or exits. */
  pin(pinPath: string): void {
    call('bpf_obj_pin', (n) => n.bpfObjPin(this.fd, pinPath));
  }

  /** Swaps the program atomically; with `expected` only if that program is still attached. */
  update(prog: BpfProgram | number, opts: { expected?: BpfProgram | number } = {}): void {
    const old = opts.expected === undefined ? undefined : progFd(opts.expected);
    call('bpf_link_update', (n) => n.bpfLinkUpdate(this.fd, progFd(prog), old));
  }

  /** Detaches now, pinned or not (the pin file remains until unlinked). */
  detach(): void {
    call('bpf_link_detach', (n) => n.bpfLinkDetach(this.fd));
  }

  /** Closes this fd; an unpinned link with no other fd is detached by the kernel. Idempotent. */
  close(): void {
    if (this.fdOrClosed === undefined) return;
    const fd = this.fdOrClosed;
    this.fdOrClosed = undefined;
    closeFd(fd, 'close');
  }
}

// ---- BPF_PROG_TEST_RUN ----

export interface TestRunOptions {
  /** Packet (or other input) bytes. */
  data: Buffer;
  /** Runs; the result's durationNs is the average. Default 1. */
  repeat?: number;
  /** Context in (and out); for XDP a `struct xdp_md`, see xdpMd(). */
  ctx?: Buffer;
  /** Room for the output data; default data.length + 4096. */
  dataSizeOut?: number;
  /** BPF_F_TEST_* flags. */
  flags?: number;
  cpu?: number;
  /** Namespace to run in (name, path or fd): ctx ingress_ifindex and bpf_fib_lookup resolve there. */
  netns?: string | number;
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
  ctx?: Buffer;
  /** Kernel-measured average per run, in ns. */
  durationNs: number;
}

/** Runs a program on given input through BPF_PROG_TEST_RUN (on libuv's thread pool). */
export function testRun(prog: BpfProgram | number, opts: TestRunOptions): Promise<TestRunResult> {
  const args = { ...opts, netns: netnsRef(opts.netns) };
  return callAsync('bpf_prog_test_run', (n) => n.bpfProgTestRun(progFd(prog), args));
}

/**
 * A `struct xdp_md` for test runs: the kernel wants data = 0 and data_end = the packet length;
 * ingress_ifindex (resolved in the run's netns) selects the receiving device.
 */
export function xdpMd(dataLength: number, opts: { ingressIfindex?: number; rxQueueIndex?: number } = {}): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0, 0); // data
  b.writeUInt32LE(dataLength, 4); // data_end
  b.writeUInt32LE(0, 8); // data_meta
  b.writeUInt32LE(opts.ingressIfindex ?? 0, 12);
  b.writeUInt32LE(opts.rxQueueIndex ?? 0, 16);
  b.writeUInt32LE(0, 20); // egress_ifindex: must be 0 on input
  return b;
}

// ---- ring buffers ----

/**
 * Consumes a BPF ring buffer on Node's event loop: `onSamples` gets batches of copied samples.
 * An open ring buffer keeps the process alive (like a socket) unless unref()'d; close() it.
 */
export class RingBuffer {
  private handle: unknown;

  private constructor(handle: unknown) {
    this.handle = handle;
  }

  /**
   * `onError` gets a failure of the ring itself (delivery then stops); without it the error is
   * thrown from the callback, i.e. becomes an uncaught exception.
   */
  static open(
    map: BpfMap | number,
    onSamples: (samples: Buffer[]) => void,
    onError?: (err: BpfError) => void,
  ): RingBuffer {
    const fd = typeof map === 'number' ? map : map.fd;
    const handle = call('ring_buffer__new', (n) =>
      n.bpfRingbufOpen(fd, (samples, err) => {
        if (samples.length) onSamples(samples);
        if (!err) return;
        const e = toBpfError(err, 'ring_buffer__consume') as BpfError;
        if (!onError) throw e;
        onError(e);
      }),
    );
    return new RingBuffer(handle);
  }

  /** Lets the process exit while this is open. */
  unref(): this {
    if (this.handle !== undefined) call('bpfRingbufRef', (n) => n.bpfRingbufRef(this.handle, false));
    return this;
  }

  ref(): this {
    if (this.handle !== undefined) call('bpfRingbufRef', (n) => n.bpfRingbufRef(this.handle, true));
    return this;
  }

  /** Stops delivery; idempotent. */
  close(): void {
    if (this.handle === undefined) return;
    call('bpfRingbufClose', (n) => n.bpfRingbufClose(this.handle));
    this.handle = undefined;
  }
}
