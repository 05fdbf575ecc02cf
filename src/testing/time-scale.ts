// Deadlines in tests, scaled to the machine: the lab VM (qemu TCG, 10-40x slower than the host)
// sets SRV6_TEST_TIME_SCALE (netns-tests/lab/run.sh). A test states the deadline the host must
// meet ("repaired within 1 s") and waits scaled(1000): the same assertion, the same event, only
// more time where the CPU is emulated. Never a reason to loosen what is asserted.

function parse(v: string | undefined): number {
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1) throw new Error(`SRV6_TEST_TIME_SCALE=${v}: a number >= 1`);
  return n;
}

/** How many times slower than the host this machine runs the tests (1 on the host). */
export const TIME_SCALE = parse(process.env.SRV6_TEST_TIME_SCALE);

/** A host deadline in ms, scaled to this machine. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_SCALE);
}
