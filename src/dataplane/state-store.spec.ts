// The store's crash behaviour, simulated on real files: torn and corrupted slots, ordering,
// the legacy single-file format.
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesiredState, emptyState } from './desired-state';
import { DesiredStateStore, StateCorruptError } from './state-store';

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

  it('writes the two slots alternately, never the newest one', () => {
    const s = new DesiredStateStore(dir);
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
    ['a flipped byte', (p: string) => {
      const b = readFileSync(p);
      b[b.length - 3] ^= 0x20;
      writeFileSync(p, b);
    }],
  ])('a save interrupted (%s) leaves the previous acknowledged state', (_what, damage) => {
    const s = new DesiredStateStore(dir);
    s.load();
    s.save(state(1));
    s.save(state(2));
    s.close();
    const probe = new DesiredStateStore(dir);
    expect(probe.load().version).toBe(2);
    damage(probe.path); // the slot the interrupted save was writing
    const again = new DesiredStateStore(dir);
    expect(again.load().version).toBe(1);
    // and saving on continues from there, over the damaged slot
    again.save(state(3));
    again.close();
    expect(new DesiredStateStore(dir).load().version).toBe(3);
  });

  it('refuses to start when no slot is readable (instead of reconciling the host to empty)', () => {
    const s = new DesiredStateStore(dir);
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
});
