import { LockKeeper } from './lock-keeper';

describe('LockKeeper', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const job = (answers: (() => Promise<number>)[]) => {
    const calls: number[] = [];
    return {
      calls,
      extendLock: jest.fn((_ms: number) => {
        calls.push(Date.now());
        return (answers.shift() ?? (() => Promise.resolve(1)))();
      }),
    };
  };

  it('extends the lock every half lock time with the full duration', async () => {
    const j = job([]);
    const k = new LockKeeper(j as never, 2000);
    await jest.advanceTimersByTimeAsync(999);
    expect(j.extendLock).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(j.extendLock).toHaveBeenCalledWith(2000);
    await jest.advanceTimersByTimeAsync(3000);
    expect(j.extendLock).toHaveBeenCalledTimes(4);
    k.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(j.extendLock).toHaveBeenCalledTimes(4);
  });

  it('keeps trying every 100 ms while Redis fails, then returns to the normal pace', async () => {
    const down = () => Promise.reject(new Error('Connection is closed.'));
    const j = job([down, down, down]);
    new LockKeeper(j as never, 2000);
    await jest.advanceTimersByTimeAsync(1000); // first attempt fails
    await jest.advanceTimersByTimeAsync(100); // second
    await jest.advanceTimersByTimeAsync(100); // third
    await jest.advanceTimersByTimeAsync(100); // fourth succeeds
    expect(j.extendLock).toHaveBeenCalledTimes(4);
    await jest.advanceTimersByTimeAsync(999);
    expect(j.extendLock).toHaveBeenCalledTimes(4);
    await jest.advanceTimersByTimeAsync(1);
    expect(j.extendLock).toHaveBeenCalledTimes(5);
  });

  it('stops when the lock is found taken (the job stalled and may run elsewhere)', async () => {
    const j = job([() => Promise.resolve(0)]);
    new LockKeeper(j as never, 2000);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(j.extendLock).toHaveBeenCalledTimes(1);
  });
});
