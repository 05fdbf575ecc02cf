// Jobs enter the dataplane in the order Bull popped them from the wait list.
//
// With concurrency > 1 (so that jobs can queue up in the dataplane and be applied as a group),
// Bull calls the handlers in an order that can differ from its pop order: an idle worker pops on
// its blocking connection, a busy one pops while completing a job on the other connection, and
// the two replies are read in whichever order the sockets are, then travel promise chains of
// different length. Redis's active list records the true order (each pop pushes onto its head).
// The gate admits jobs in that order, each once the one before it has entered the dataplane, and
// holds a job back briefly while one popped before it has not reached its handler yet.

type Admit = (entered: () => void) => void;

export interface PopOrderGateOptions {
  /** How long to wait for a job popped earlier that has not reached its handler (e.g. one whose
   * worker died: Bull's stalled-job check gives it back to the queue much later). */
  waitForEarlierMs?: number;
}

export class PopOrderGate {
  private arrivals: { id: string; admit: Admit }[] = [];
  private scheduled = false;
  private tail: Promise<void> = Promise.resolve();
  /** Jobs admitted (or given up on) and still active: not waited for again. */
  private readonly done = new Set<string>();
  private readonly waitMs: number;

  /** `activeOrder` returns the ids of the queue's active jobs, oldest pop first. */
  constructor(
    private readonly activeOrder: () => Promise<string[]>,
    opts: PopOrderGateOptions = {},
  ) {
    this.waitMs = opts.waitForEarlierMs ?? 100;
  }

  /**
   * Resolves when it is this job's turn, with a function to call once the job has entered the
   * dataplane (or ended without entering): the next job waits for exactly that. Idempotent.
   */
  turn(id: string): Promise<() => void> {
    return new Promise((resolve) => {
      this.arrivals.push({ id, admit: resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the microtasks and nextTicks of this turn: every reply of one socket read is in.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    this.tail = this.tail.then(() => this.admitArrivals());
  }

  private async admitArrivals(): Promise<void> {
    let batch = this.take();
    if (!batch.length) return;
    let order: string[] = [];
    const t0 = Date.now();
    for (;;) {
      try {
        order = await this.activeOrder();
      } catch {
        break; // Redis unreachable: the jobs cannot complete either; arrival order will do
      }
      const here = new Set(batch.map((a) => a.id));
      const last = Math.max(...batch.map((a) => order.indexOf(a.id)));
      const missing = order.slice(0, last + 1).filter((id) => !here.has(id) && !this.done.has(id));
      if (!missing.length) break;
      if (Date.now() - t0 >= this.waitMs) {
        for (const id of missing) this.done.add(id); // not ours to wait for any longer
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
      batch = [...batch, ...this.take()];
    }
    const rank = new Map(order.map((id, i) => [id, i]));
    batch.sort((a, b) => (rank.get(a.id) ?? Infinity) - (rank.get(b.id) ?? Infinity));
    if (order.length) for (const id of this.done) if (!rank.has(id)) this.done.delete(id); // finished: forget
    for (const a of batch) {
      this.done.add(a.id);
      await new Promise<void>((entered) => {
        let called = false;
        a.admit(() => {
          if (!called) entered();
          called = true;
        });
      });
    }
  }

  private take(): { id: string; admit: Admit }[] {
    const b = this.arrivals;
    this.arrivals = [];
    return b;
  }
}

/** Active jobs of a Bull queue, oldest pop first (Redis keeps them newest first). */
export function activeListOrder(client: { lrange(key: string, start: number, stop: number): Promise<string[]> }, activeKey: string): () => Promise<string[]> {
  return async () => (await client.lrange(activeKey, 0, -1)).reverse();
}
