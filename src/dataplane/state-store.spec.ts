// The store's crash behaviour, simulated on real files: torn and corrupted slots, ordering,
// the legacy single-file format.
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { DesiredState, emptyState, stateJson } from './desired-state';
import { DesiredStateStore, StateCorruptError } from './state-store';

/** The module object the store's named imports read at each call (an `import *` namespace cannot be spied on). */
const nodeFs: typeof import('node:fs') = require('node:fs');

const state = (version: number): DesiredState => ({ ...emptyState(), version, tenants: {} });

describe('DesiredStateStore', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'srv6-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts empty, and returns the last saved state after a restart', () => {
    const a = new DesiredStateStore(dir);
    expect(a.load()).toEqual(emptyState());
    for (let v = 1; v <= 5; v++) a.save(state(v));
    a.close();
    expect(new DesiredStateStore(dir).load().version).toBe(5);
  });

  it('writes snapshots to the two slots alternately, never the newest one', () => {
    const s = new DesiredStateStore(dir, 0); // no journal: every save is a snapshot
    s.load();
    s.save(state(1));
    const first = s.path;
    s.save(state(2));
    expect(s.path).not.toBe(first);
    expect(JSON.parse(readFileSync(first, 'utf8').split('\n')[1]).version).toBe(1);
    s.close();
  });

  it.each([
    ['torn in the body', (p: string) => truncateSync(p, readFileSync(p).length - 7)],
    ['torn in the header', (p: string) => truncateSync(p, 5)],
    [
      'a flipped byte',
      (p: string) => {
        const b = readFileSync(p);
        b[b.length - 3] ^= 0x20;
        writeFileSync(p, b);
      },
    ],
  ])('a snapshot interrupted (%s) leaves the previous acknowledged state', (_what, damage) => {
    const s = new DesiredStateStore(dir, 0);
    s.load();
    s.save(state(1));
    const journalBefore = readFileSync(join(dir, 'desired-state.journal'));
    s.save(state(2));
    s.close();
    const probe = new DesiredStateStore(dir, 0);
    expect(probe.load().version).toBe(2);
    damage(probe.path); // the slot the interrupted save was writing
    writeFileSync(join(dir, 'desired-state.journal'), journalBefore); // cut before its mark was written
    const again = new DesiredStateStore(dir, 0);
    expect(again.load().version).toBe(1);
    // and saving on continues from there, over the damaged slot
    again.save(state(3));
    again.close();
    expect(new DesiredStateStore(dir).load().version).toBe(3);
  });

  it.each([
    ['alone', (_st: DesiredStateStore) => undefined],
    ['with records after it', (st: DesiredStateStore) => st.save(state(3))],
  ])('a damaged snapshot that was acknowledged (its mark in the journal, %s) is a refusal to start, never a step back', (_what, more) => {
    const st = new DesiredStateStore(dir);
    st.load();
    st.save(state(1));
    const older = st.path;
    const newer = new DesiredStateStore(dir, 0); // the next save is a snapshot into the other slot
    newer.load();
    newer.save(state(2));
    newer.close();
    const again = new DesiredStateStore(dir);
    again.load();
    more(again);
    again.close();
    const slot = older.endsWith('.0') ? join(dir, 'desired-state.1') : join(dir, 'desired-state.0');
    const b = readFileSync(slot);
    b[b.length - 3] ^= 0x20; // bit rot in the acknowledged snapshot
    writeFileSync(slot, b);
    expect(() => new DesiredStateStore(dir).load()).toThrow(/journal records state #2 \(a snapshot\), the readable files reach only #1/);
    st.close();
  });

  it('refuses to start when the slots are gone but the journal is not (the snapshots were removed)', () => {
    const st = new DesiredStateStore(dir);
    st.load();
    st.save(state(1));
    st.save(state(2));
    st.close();
    for (const f of ['desired-state.0', 'desired-state.1']) rmSync(join(dir, f), { force: true });
    expect(() => new DesiredStateStore(dir).load()).toThrow(/holds records but no snapshot exists/);
  });

  it('says whether it found no state at all (a new host or a lost directory)', () => {
    const st = new DesiredStateStore(join(dir, 'nothing-here'));
    st.load();
    expect(st.foundNothing).toBe(true);
    st.save(state(1));
    st.close();
    const again = new DesiredStateStore(join(dir, 'nothing-here'));
    again.load();
    expect(again.foundNothing).toBe(false);
  });

  it('a state file that cannot be opened (EMFILE, EIO) is an error, never made anew: the acknowledged state survives', () => {
    const s = new DesiredStateStore(dir, 0);
    s.load();
    s.save(state(1));
    s.save(state(2));
    s.close();
    const again = new DesiredStateStore(dir, 0);
    again.load();
    const real = nodeFs.openSync;
    const spy = jest.spyOn(nodeFs, 'openSync').mockImplementation(((path: unknown, flags: unknown, mode?: unknown) => {
      if (flags === 'r+') throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      return real(path as string, flags as string, mode as number);
    }) as never);
    try {
      expect(() => again.save(state(3))).toThrow(/EMFILE/);
    } finally {
      spy.mockRestore();
    }
    again.close();
    expect(new DesiredStateStore(dir, 0).load().version).toBe(2);
  });

  it('refuses to start when no slot is readable (instead of reconciling the host to empty)', () => {
    const s = new DesiredStateStore(dir, 0);
    s.load();
    s.save(state(1));
    s.save(state(2));
    s.close();
    for (const f of ['desired-state.0', 'desired-state.1']) writeFileSync(join(dir, f), '{"seq":1,"len":3,"crc":0}\nabc');
    expect(() => new DesiredStateStore(dir).load()).toThrow(StateCorruptError);
  });

  it('reads the single-file format of earlier agents once, then moves to slots', () => {
    writeFileSync(join(dir, 'desired-state.json'), JSON.stringify(state(7)));
    const s = new DesiredStateStore(dir);
    expect(s.load().version).toBe(7);
    s.save(state(8));
    s.close();
    expect(existsSync(join(dir, 'desired-state.1'))).toBe(true);
    expect(new DesiredStateStore(dir).load().version).toBe(8);
  });

  it('a corrupt legacy file is an error, not an empty state', () => {
    writeFileSync(join(dir, 'desired-state.json'), '{"version": 3, "ten');
    expect(() => new DesiredStateStore(dir).load()).toThrow(StateCorruptError);
  });

  describe('journal', () => {
    // A hypervisor's state: many tenants, one of which a job changes.
    const big = (version: number, tenants = 200): DesiredState => ({
      ...emptyState(),
      version,
      tenants: Object.fromEntries(
        Array.from({ length: tenants }, (_, i) => [
          `t${i}`,
          {
            id: `t${i}`,
            table: 10000 + i,
            behaviour: 'End.DT6' as const,
            sid: `fc00:0:1:${i + 1}::`,
            interfaces: [{ name: `tap${i}`, gateways: ['10.0.0.1/24'] }],
            routes: {},
            xdpOffload: false,
          },
        ]),
      ),
    });
    const withRoute = (s: DesiredState, t: string, prefix: string): DesiredState => ({
      ...s,
      version: s.version + 1,
      tenants: {
        ...s.tenants,
        [t]: { ...s.tenants[t], routes: { ...s.tenants[t].routes, [prefix]: { prefix, sids: ['fc00:0:2::'], mode: 'encap' as const } } },
      },
      nexthops: { ...s.nexthops, [t]: { ...s.nexthops[t], 'encap|fc00:0:2::': 1509949440 } },
    });
    const journal = () => join(dir, 'desired-state.journal');
    /** A loaded store with a 3-tenant snapshot and one journal record (t0's route): the store and that state. */
    const snapshotAndOneRecord = (): { st: DesiredStateStore; s: DesiredState } => {
      const st = new DesiredStateStore(dir);
      st.load();
      const first = big(1, 3);
      st.save(first);
      const s = withRoute(first, 't0', '10.1.0.0/24');
      st.save(s);
      return { st, s };
    };

    it('appends what a job changed, not the whole state, and a restart replays it', () => {
      const st = new DesiredStateStore(dir);
      st.load();
      let s = big(1);
      st.save(s);
      const snapshot = statSync(st.path).size;
      for (let i = 0; i < 20; i++) st.save((s = withRoute(s, `t${i % 3}`, `10.${i}.0.0/24`)));
      const appended = statSync(journal()).size;
      expect(appended / 20).toBeLessThan(snapshot / 10); // a record is a small fraction of a snapshot
      st.close();
      expect(new DesiredStateStore(dir).load()).toEqual(s);
      expect(stateJson(new DesiredStateStore(dir).load())).toBe(stateJson(s)); // key order too
    });

    it('folds into a snapshot when the journal reaches the snapshot size, and empties the journal', () => {
      const st = new DesiredStateStore(dir, 1); // limit: the snapshot's size
      st.load();
      let s = big(1, 5);
      st.save(s);
      const first = st.path;
      let folded = false;
      for (let i = 0; i < 200 && !folded; i++) {
        st.save((s = withRoute(s, 't1', `10.${i}.0.0/24`)));
        folded = st.path !== first;
      }
      expect(folded).toBe(true);
      expect(readFileSync(journal(), 'utf8')).toMatch(/^\{"seq":\d+,"len":\d+,"crc":\d+\}\n\{"durable":"snapshot"\}\n$/); // only the mark
      st.save((s = withRoute(s, 't2', '10.255.0.0/24')));
      st.close();
      expect(new DesiredStateStore(dir).load()).toEqual(s);
    });

    it('saveAsync writes the same files as save, through appends and folds', async () => {
      const other = mkdtempSync(join(tmpdir(), 'srv6-store-'));
      try {
        const sync = new DesiredStateStore(dir, 1);
        const async_ = new DesiredStateStore(other, 1);
        sync.load();
        async_.load();
        let s = big(1, 5);
        let folds = 0;
        for (let i = 0; i < 60; i++) {
          const before = async_.path;
          sync.save(s);
          await async_.saveAsync(s);
          if (async_.path !== before) folds++;
          s = withRoute(s, `t${i % 3}`, `10.${i}.0.0/24`);
        }
        expect(folds).toBeGreaterThan(1); // snapshots (thread pool) and appends (in place) both ran
        for (const f of ['desired-state.0', 'desired-state.1', 'desired-state.journal'])
          expect(readFileSync(join(other, f))).toEqual(readFileSync(join(dir, f)));
        sync.close();
        async_.close();
        expect(new DesiredStateStore(other).load()).toEqual(new DesiredStateStore(dir).load());
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    });

    it.each([
      ['torn in the body', (b: Buffer) => b.subarray(0, b.length - 9)],
      ['torn in the header', (b: Buffer) => b.subarray(0, b.lastIndexOf(Buffer.from('{"seq"')) + 4)],
      [
        'a flipped byte',
        (b: Buffer) => {
          const c = Buffer.from(b);
          c[c.length - 5] ^= 0x20;
          return c;
        },
      ],
    ])('an append cut (%s) leaves the state before it, and saving continues after the last good record', (_what, damage) => {
      const { st, s: acknowledged } = snapshotAndOneRecord();
      st.save(withRoute(acknowledged, 't1', '10.2.0.0/24'));
      st.close();
      writeFileSync(journal(), damage(readFileSync(journal())));
      const again = new DesiredStateStore(dir);
      expect(again.load()).toEqual(acknowledged);
      const next = withRoute(acknowledged, 't2', '10.3.0.0/24');
      again.save(next);
      again.close();
      expect(new DesiredStateStore(dir).load()).toEqual(next);
    });

    it('records older than the newest snapshot are skipped (a snapshot whose journal truncation did not land)', () => {
      const { st, s: recorded } = snapshotAndOneRecord();
      const stale = readFileSync(journal());
      const snap = new DesiredStateStore(dir, 0); // the next save is a snapshot
      snap.load();
      const s = withRoute(recorded, 't1', '10.2.0.0/24');
      snap.save(s);
      snap.close();
      st.close();
      writeFileSync(journal(), stale); // as if the truncation after the snapshot was lost
      expect(new DesiredStateStore(dir).load()).toEqual(s);
    });

    it('a record beyond the next one is a refusal to start: the states between were acknowledged and are lost', () => {
      const { st } = snapshotAndOneRecord();
      st.close();
      const body = Buffer.from(JSON.stringify({ set: { version: 99 }, keys: {} }));
      appendFileSync(journal(), `${JSON.stringify({ seq: 9, len: body.length, crc: crc32(body) })}\n${body}\n`);
      expect(() => new DesiredStateStore(dir).load()).toThrow(/journal records state #9, the readable files reach only #2/);
    });

    // A save that fails part-way (EIO, a full disk) is not acknowledged, and whatever it left on
    // disk must never be loaded in place of, or replayed on top of, what later saves acknowledged.
    // Here the failing save is a fold into a snapshot much larger than the last one, so the saves
    // after it fit in the journal again: appends whose sequence numbers the failed save had used.
    it.each([
      ['emptying the journal after the snapshot', 'ftruncateSync', (a: unknown[]) => (a[1] as number) < 100],
      ['marking the snapshot durable', 'writeSync', (a: unknown[]) => a[4] === 0 && (a[1] as Buffer).includes('"durable"')],
      ["flushing the snapshot's slot", 'fdatasyncSync', () => true],
      ['a short write of the snapshot', 'writeSync', (a: unknown[]) => a[4] === 0 && !(a[1] as Buffer).includes('"durable"')],
    ] as const)('a save failing in %s: a restart loads what the saves after it acknowledged', (_what, call, when) => {
      const st = new DesiredStateStore(dir, 4096);
      st.load();
      let acked = big(1, 5);
      st.save(acked);
      for (let i = 0; !existsSync(journal()) || statSync(journal()).size < 2000; i++) st.save((acked = withRoute(acked, 't0', `10.0.${i}.0/24`)));
      let large = acked;
      for (let i = 0; i < 80; i++) large = withRoute(large, 't1', `10.1.${i}.0/24`);
      const real = nodeFs[call] as (...a: unknown[]) => unknown;
      let armed = true;
      const spy = jest.spyOn(nodeFs, call).mockImplementation(((...a: unknown[]) => {
        if (!armed || !when(a)) return real(...a);
        armed = false;
        if (call === 'writeSync') return real(a[0], a[1], a[2], (a[3] as number) - 10, a[4]);
        if (call === 'ftruncateSync' && (a[1] as number) > 0) real(...a); // the size is set, then the flush fails
        throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      }) as never);
      try {
        expect(() => st.save(large)).toThrow(/EIO|short write/);
        expect(armed).toBe(false);
      } finally {
        spy.mockRestore();
      }
      st.save((acked = withRoute(acked, 't3', '10.3.0.0/24')));
      st.save((acked = withRoute(acked, 't4', '10.4.0.0/24')));
      st.close();
      expect(new DesiredStateStore(dir).load()).toEqual(acked);
    });

    it('saving a state equal to the last one writes nothing', () => {
      const st = new DesiredStateStore(dir);
      st.load();
      const s = big(1, 3);
      st.save(s);
      const before = readFileSync(journal());
      st.save({ ...s, tenants: { ...s.tenants } });
      expect(readFileSync(journal())).toEqual(before);
      st.close();
    });
  });
});
