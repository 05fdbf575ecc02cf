// Kernel tier: the libbpf layer against the running kernel, with bpf/test/xdp_test.bpf.c.
//
//   host: nothing is ever attached here
//   netns srv6t-xdp-<pid>-<rnd>:   xa (ifindex 4242) <══ veth ══> xb (ifindex 4243)
//                                  └─ XDP bpf_link: xdp_test_main, then xdp_test_pass
//   bpffs: /sys/fs/bpf/srv6t-<pid>/   pins of this run, removed in afterAll
//
// Independent observers: `ip -j link` (attached prog id) and `bpftool -j link` (link → prog).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../native/addon';
import { TestNetns, destroyAllNetns } from '../testing/netns';
import { BpfError } from './errors';
import {
  BpfLinkType,
  BpfMap,
  BpfMapType,
  BpfObject,
  MapUpdate,
  RingBuffer,
  XdpAction,
  XdpLink,
  possibleCpus,
  probeFeatures,
  testRun,
  xdpMd,
} from './libbpf';

const ROOT = packageRoot();
const OBJ = path.join(ROOT, 'bpf/build/test/xdp_test.bpf.o');
const REJECT_OBJ = path.join(ROOT, 'bpf/build/test/xdp_reject.bpf.o');
const PIN_DIR = `/sys/fs/bpf/srv6t-${process.pid}`;

// Layouts of bpf/test/xdp_test.bpf.c.
const KEY = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
const OTHER_KEY = Buffer.from([0x01, 0x02, 0x03, 0x04]);
function verdict(action: number, mark: number): Buffer {
  const b = Buffer.alloc(8); // {u32 action; u8 mark; u8 pad[3]}
  b.writeUInt32LE(action, 0);
  b.writeUInt8(mark, 4);
  return b;
}
function packet(first: Buffer, len = 64): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = i & 0xff;
  first.copy(b, 0);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function event(s: Buffer): { key: Buffer; action: number; len: number } {
  return { key: s.subarray(0, 4), action: s.readUInt32LE(4), len: s.readUInt32LE(8) };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function ensureBpffs(): void {
  const mounted = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf');
  if (!mounted) execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

function attachedProgId(ns: TestNetns, dev: string): number | undefined {
  const [link] = ns.ipJson<Array<{ xdp?: { prog?: { id: number } } }>>(['link', 'show', 'dev', dev]);
  return link?.xdp?.prog?.id;
}

async function expectBpfError(p: Promise<unknown> | (() => unknown), code: string): Promise<BpfError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BpfError);
  const be = err as BpfError;
  expect(be.code).toBe(code);
  expect(be.errno).toBeGreaterThan(0);
  expect(be.op).toBeTruthy();
  return be;
}

const objects: BpfObject[] = [];
async function load(opts: Parameters<typeof BpfObject.load>[1] = {}): Promise<BpfObject> {
  const obj = await BpfObject.load(OBJ, opts);
  objects.push(obj);
  return obj;
}

beforeAll(() => {
  execFileSync('make', ['-C', path.join(ROOT, 'bpf'), '-s']); // incremental: usually a no-op
  ensureBpffs();
  mkdirSync(PIN_DIR, { recursive: true });
});

afterAll(() => {
  for (const o of objects) o.close();
  rmSync(PIN_DIR, { recursive: true, force: true });
  destroyAllNetns();
});

describe('BPF object', () => {
  it('probes the features the datapath needs', () => {
    expect(probeFeatures()).toMatchObject({ progXdp: true, mapRingbuf: true, helperFibLookup: true });
  });

  it('sets a const volatile global before load: it becomes the default verdict', async () => {
    const plain = await load();
    const drop = await load({ globals: { default_verdict: u32(XdpAction.Drop) } });
    const pkt = packet(OTHER_KEY);
    expect((await plain.prog('xdp_test_main').testRun({ data: pkt })).retval).toBe(XdpAction.Pass);
    const r = await drop.prog('xdp_test_main').testRun({ data: pkt });
    expect(r.retval).toBe(XdpAction.Drop);
    expect(r.data.equals(pkt)).toBe(true); // a miss leaves the packet alone
  });

  it('describes maps before load and gives fds after', async () => {
    const obj = BpfObject.open(OBJ);
    objects.push(obj);
    expect(obj.mapSpec('verdicts')).toMatchObject({ fd: -1, type: BpfMapType.Hash, keySize: 4, valueSize: 8, maxEntries: 64 });
    obj.setMaxEntries('verdicts', 128);
    await obj.load();
    const m = obj.map('verdicts');
    expect(m.fd).toBeGreaterThan(2);
    expect(m).toMatchObject({ name: 'verdicts', type: BpfMapType.Hash, keySize: 4, valueSize: 8, maxEntries: 128 });
    expect(obj.prog('xdp_test_main').info()).toMatchObject({ name: 'xdp_test_main', type: 6 });
  });
});

describe('maps and BPF_PROG_TEST_RUN', () => {
  let obj: BpfObject;
  let verdicts: BpfMap;
  beforeAll(async () => {
    obj = await load({ globals: { default_verdict: u32(XdpAction.Drop) } });
    verdicts = obj.map('verdicts');
  });

  it('updates, looks up, iterates and deletes', () => {
    expect(verdicts.lookup(KEY)).toBeNull();
    verdicts.update(KEY, verdict(XdpAction.Tx, 0x5a));
    verdicts.update(OTHER_KEY, verdict(XdpAction.Pass, 0x01), MapUpdate.NoExist);
    expect(verdicts.lookup(KEY)).toEqual(verdict(XdpAction.Tx, 0x5a));
    const keys = [...verdicts.keys()].map((k) => k.toString('hex')).sort();
    expect(keys).toEqual([KEY.toString('hex'), OTHER_KEY.toString('hex')].sort());
    expect(new Map([...verdicts.entries()].map(([k, v]) => [k.toString('hex'), v.readUInt32LE(0)]))).toEqual(
      new Map([
        [KEY.toString('hex'), XdpAction.Tx],
        [OTHER_KEY.toString('hex'), XdpAction.Pass],
      ]),
    );
    expect(verdicts.delete(OTHER_KEY)).toBe(true);
    expect(verdicts.delete(OTHER_KEY)).toBe(false);
    expect(verdicts.lookup(OTHER_KEY)).toBeNull();
  });

  it('refuses NOEXIST on an existing key and wrongly sized buffers', async () => {
    verdicts.update(KEY, verdict(XdpAction.Tx, 0x5a));
    await expectBpfError(() => verdicts.update(KEY, verdict(XdpAction.Tx, 0x5a), MapUpdate.NoExist), 'EEXIST');
    await expectBpfError(() => verdicts.lookup(Buffer.alloc(3)), 'EINVAL');
    await expectBpfError(() => verdicts.update(KEY, Buffer.alloc(4)), 'EINVAL');
    await expectBpfError(() => verdicts.delete(Buffer.alloc(5)), 'EINVAL');
    await expectBpfError(() => verdicts.update(Buffer.alloc(2), verdict(XdpAction.Tx, 0x5a)), 'EINVAL');
  });

  it('runs the program: verdict from the map, byte 4 rewritten, exact output', async () => {
    verdicts.update(KEY, verdict(XdpAction.Tx, 0x5a));
    const pkt = packet(KEY);
    const want = Buffer.from(pkt);
    want[4] = 0x5a;
    const r = await testRun(obj.prog('xdp_test_main'), { data: pkt });
    expect(r.retval).toBe(XdpAction.Tx);
    expect(r.data.toString('hex')).toBe(want.toString('hex'));
    expect(pkt[4]).toBe(4); // the caller's buffer is input only
  });

  it('repeats, measures, and counts per CPU', async () => {
    const counters = obj.map('counters');
    expect(counters.perCpu).toBe(true);
    const zero = u32(0);
    counters.updatePerCpu(zero, Buffer.alloc(8));
    const r = await obj.prog('xdp_test_main').testRun({ data: packet(KEY), repeat: 1000 });
    expect(r.durationNs).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) await obj.prog('xdp_test_main').testRun({ data: packet(OTHER_KEY) });
    const slots = counters.lookupPerCpu(zero)!;
    expect(slots).toHaveLength(possibleCpus());
    expect(slots.reduce((sum, s) => sum + s.readBigUInt64LE(0), 0n)).toBe(1005n);
  });

  it('runs in a netns: ctx.ingress_ifindex resolves there', async () => {
    const ns = TestNetns.create('trun');
    ns.ip(['link', 'add', 'ta', 'index', '4242', 'type', 'veth', 'peer', 'name', 'tb', 'index', '4243']);
    const pkt = packet(KEY);
    const r = await obj.prog('xdp_test_main').testRun({ data: pkt, ctx: xdpMd(pkt.length, { ingressIfindex: 4242 }), netns: ns.name });
    expect(r.retval).toBe(XdpAction.Tx);
    expect(r.ctx?.readUInt32LE(12)).toBe(4242);
    const hostHas4242 = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })).some(
      (l: { ifindex: number }) => l.ifindex === 4242,
    );
    if (!hostHas4242)
      await expectBpfError(obj.prog('xdp_test_main').testRun({ data: pkt, ctx: xdpMd(pkt.length, { ingressIfindex: 4242 }) }), 'ENODEV');
    ns.destroy();
  });
});

describe('ring buffer', () => {
  it('delivers one sample per packet through the event loop', async () => {
    const obj = await load();
    obj.map('verdicts').update(KEY, verdict(XdpAction.Drop, 0x77));
    const samples: Buffer[] = [];
    let batches = 0;
    const rb = RingBuffer.open(obj.map('events'), (s) => {
      batches++;
      samples.push(...s);
    });
    try {
      const main = obj.prog('xdp_test_main');
      await main.testRun({ data: packet(KEY, 60) });
      await main.testRun({ data: packet(OTHER_KEY, 70) });
      await main.testRun({ data: packet(KEY, 14) }); // XDP test runs need at least an Ethernet header
      await waitFor(() => samples.length >= 3, '3 ring buffer samples');
      expect(samples.map(event)).toEqual([
        { key: KEY, action: XdpAction.Drop, len: 60 },
        { key: OTHER_KEY, action: XdpAction.Pass, len: 70 },
        { key: KEY, action: XdpAction.Drop, len: 14 },
      ]);
      expect(batches).toBeGreaterThanOrEqual(1);
    } finally {
      rb.close();
      rb.close(); // idempotent
    }
  });

  it('delivers a burst larger than one callback batch, in bounded batches', async () => {
    const obj = await load({ maxEntries: { events: 256 * 1024 } }); // room for 6000 24-byte records
    let n = 0;
    let largest = 0;
    const rb = RingBuffer.open(obj.map('events'), (s) => {
      n += s.length;
      largest = Math.max(largest, s.length);
    });
    try {
      await obj.prog('xdp_test_main').testRun({ data: packet(KEY), repeat: 6000 });
      await waitFor(() => n === 6000, `6000 samples (got ${n})`);
      expect(largest).toBeLessThanOrEqual(4096); // RB_BATCH in native/bpf-ringbuf.c
    } finally {
      rb.close();
    }
  });
});

describe('XDP bpf_link in a throwaway netns', () => {
  let obj: BpfObject;
  let ns: TestNetns;
  beforeAll(async () => {
    obj = await load();
    ns = TestNetns.create('xdp');
    ns.ip(['link', 'add', 'xa', 'index', '4242', 'type', 'veth', 'peer', 'name', 'xb', 'index', '4243']);
    ns.ip(['link', 'set', 'xa', 'up']);
    ns.ip(['link', 'set', 'xb', 'up']);
  });

  it('attaches, pins, survives its fd, reopens, swaps atomically and detaches', async () => {
    const main = obj.prog('xdp_test_main');
    const pass = obj.prog('xdp_test_pass');
    const mainId = main.info().id;
    const passId = pass.info().id;
    const pin = path.join(PIN_DIR, 'xdp_link');

    const link = XdpLink.attach(main, 'xa', { netns: ns.path });
    const info = link.info();
    expect(info).toMatchObject({ type: BpfLinkType.Xdp, progId: mainId, ifindex: 4242 });
    expect(attachedProgId(ns, 'xa')).toBe(mainId);
    const seen = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'id', String(info.id)], { encoding: 'utf8' }));
    expect(seen).toMatchObject({ id: info.id, prog_id: mainId });

    link.pin(pin);
    link.close(); // the pin keeps it attached
    expect(attachedProgId(ns, 'xa')).toBe(mainId);

    const again = XdpLink.fromPinned(pin);
    try {
      expect(again.info().id).toBe(info.id);
      again.update(pass, { expected: main });
      expect(again.info()).toMatchObject({ id: info.id, progId: passId });
      expect(attachedProgId(ns, 'xa')).toBe(passId);
      // compare-and-swap: main is no longer the attached program
      await expectBpfError(() => again.update(main, { expected: main }), 'EPERM');
      expect(attachedProgId(ns, 'xa')).toBe(passId);

      again.detach();
      expect(attachedProgId(ns, 'xa')).toBeUndefined();
      expect(again.info()).toMatchObject({ id: info.id, ifindex: 0 }); // defunct, not gone
    } finally {
      again.close();
      rmSync(pin, { force: true });
    }
  });

  it('attaches by ifindex in the netns; an unpinned link detaches when closed', () => {
    const pass = obj.prog('xdp_test_pass');
    const link = XdpLink.attach(pass, 4243, { netns: ns.path });
    expect(link.info().ifindex).toBe(4243);
    expect(attachedProgId(ns, 'xb')).toBe(pass.info().id);
    link.close();
    expect(attachedProgId(ns, 'xb')).toBeUndefined();
  });

  it('fails cleanly for a device that is not in the netns', async () => {
    await expectBpfError(() => XdpLink.attach(obj.prog('xdp_test_pass'), 'nosuchdev0', { netns: ns.path }), 'ENODEV');
  });
});

describe('errors', () => {
  it('a verifier rejection carries the verifier log', async () => {
    const err = await expectBpfError(BpfObject.load(REJECT_OBJ), 'EACCES');
    expect(err.op).toBe('bpf_object__load');
    expect(err.message).toMatch(/invalid access to packet/);
    expect(err.log).toMatch(/BEGIN PROG LOAD LOG/);
  });

  it('invalid arguments give BpfError with errno', async () => {
    const obj = await load();
    await expectBpfError(() => BpfObject.open('/nonexistent/x.bpf.o'), 'ENOENT');
    const missing = await expectBpfError(() => obj.map('nosuchmap'), 'ENOENT');
    expect(missing.message).toMatch(/verdicts/); // lists what the object has
    await expectBpfError(() => obj.prog('nosuchprog'), 'ENOENT');
    // BPF_OBJ_GET_INFO_BY_FD says EBADFD (not EBADF) for an fd that is not open
    await expectBpfError(() => BpfMap.fromFd(99999, { owned: false }), 'EBADFD');
    await expectBpfError(testRun(99999, { data: Buffer.alloc(64) }), 'EBADF');
    await expectBpfError(() => obj.setGlobal('default_verdict', u32(1)), 'EBUSY'); // after load
    const fresh = BpfObject.open(OBJ);
    await expectBpfError(() => fresh.setGlobal('default_verdict', Buffer.alloc(8)), 'EINVAL');
    await expectBpfError(() => fresh.setGlobal('nosuchglobal', u32(1)), 'ENOENT');
    fresh.close();
    await expectBpfError(() => fresh.prog('xdp_test_main'), 'EBADF');
    expect(() => fresh.close()).not.toThrow();
  });
});
