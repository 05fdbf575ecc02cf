import { PopOrderGate } from './pop-order-gate';

const tick = () => new Promise((r) => setImmediate(r));

describe('PopOrderGate', () => {
  it('admits handlers of one turn in pop order, each after the previous one entered', async () => {
    const gate = new PopOrderGate(async () => ['7', '3', '9']); // Redis popped 7, then 3, then 9
    const log: string[] = [];
    const handler = async (id: string, work: number) => {
      const entered = await gate.turn(id);
      log.push(`enter ${id}`);
      await new Promise((r) => setTimeout(r, work));
      entered();
    };
    await Promise.all([handler('9', 1), handler('3', 5), handler('7', 10)]); // called in the "wrong" order
    expect(log).toEqual(['enter 7', 'enter 3', 'enter 9']);
  });

  it('holds a job while one popped before it has not reached its handler yet', async () => {
    const gate = new PopOrderGate(async () => ['1', '2']);
    const log: string[] = [];
    const two = gate.turn('2').then((entered) => (log.push('2'), entered()));
    await tick();
    await new Promise((r) => setTimeout(r, 10)); // job 1's handler is late (another socket)
    expect(log).toEqual([]);
    const one = gate.turn('1').then((entered) => (log.push('1'), entered()));
    await Promise.all([one, two]);
    expect(log).toEqual(['1', '2']);
  });

  it('stops waiting for an earlier job that never comes (a dead worker’s), after the deadline', async () => {
    const gate = new PopOrderGate(async () => ['ghost', 'a'], { waitForEarlierMs: 30 });
    const t0 = Date.now();
    await gate.turn('a').then((entered) => entered());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    // and it is not waited for a second time
    const t1 = Date.now();
    await gate.turn('b').then((entered) => entered());
    expect(Date.now() - t1).toBeLessThan(25);
  });

  it('calling entered twice admits the next job once; without a readable order, arrival order', async () => {
    const gate = new PopOrderGate(async () => {
      throw new Error('redis down');
    });
    const order: string[] = [];
    await Promise.all(
      ['b', 'a', 'c'].map((id) =>
        gate.turn(id).then((entered) => {
          order.push(id);
          entered();
          entered();
        }),
      ),
    );
    expect(order).toEqual(['b', 'a', 'c']);
  });
});
