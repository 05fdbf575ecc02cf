// Cleanup at the end of the test process. jest gives each test file a copy of `process` whose
// events never fire: handlers must go on the real one, the main context's. They are installed
// once per process; every module instance (one per test file) adds its own cleanup to the set.
import { runInThisContext } from 'node:vm';

const real = runInThisContext('process') as NodeJS.Process;
const KEY = Symbol.for('srv6t.exit-cleanups');
const holder = real as unknown as Record<symbol, Set<() => void> | undefined>;

/** Runs `cleanup` (synchronous) when the process exits, or is interrupted by SIGINT/SIGTERM. */
export function onProcessExit(cleanup: () => void): void {
  let cleanups = holder[KEY];
  if (!cleanups) {
    const all = (cleanups = holder[KEY] = new Set());
    const runAll = () =>
      all.forEach((f) => {
        try {
          f();
        } catch {
          /* the others still run */
        }
      });
    real.once('exit', runAll);
    for (const [sig, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const)
      real.once(sig, () => {
        runAll();
        real.exit(code);
      });
  }
  cleanups.add(cleanup);
}
