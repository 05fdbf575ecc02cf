import { CachedRead } from './cached-read';

describe('CachedRead', () => {
  let now = 0;
  let reads = 0;
  let next: () => Promise<number>;
  const cached = () =>
    new CachedRead(
      () => (reads++, next()),
      1000,
      () => now,
    );
  beforeEach(() => {
    now = 0;
    reads = 0;
    next = async () => reads;
  });

  it('answers from the kept read until invalidated', async () => {
    const c = cached();
    expect(await c.get()).toBe(1);
    expect(await c.get()).toBe(1);
    expect(reads).toBe(1);
    c.invalidate();
    expect(await c.get()).toBe(2);
    expect(reads).toBe(2);
  });

  it('reads again once the kept answer is maxAgeMs old', async () => {
    const c = cached();
    await c.get();
    now = 999;
    await c.get();
    expect(reads).toBe(1);
    now = 1000;
    expect(await c.get()).toBe(2);
  });

  it('shares a read in flight; one invalidated in flight is used by its callers once, not kept', async () => {
    let release!: (v: number) => void;
    next = () => new Promise((r) => (release = r));
    const c = cached();
    const a = c.get();
    const b = c.get();
    expect(reads).toBe(1);
    c.invalidate(); // e.g. the monitor reports a change made while the dump was running
    release(7);
    expect(await a).toBe(7);
    expect(await b).toBe(7);
    next = async () => 8;
    expect(await c.get()).toBe(8);
    expect(reads).toBe(2);
  });

  it('does not keep a failed read', async () => {
    next = async () => {
      throw new Error('EBUSY');
    };
    const c = cached();
    await expect(c.get()).rejects.toThrow('EBUSY');
    next = async () => 5;
    expect(await c.get()).toBe(5);
    expect(reads).toBe(2);
  });
});
