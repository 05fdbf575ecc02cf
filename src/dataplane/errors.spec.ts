// The desired-state store's write failures as the dataplane's typed error: transient, with the
// system error's code (the failure a job reports; see state-store.spec.ts for what stays on disk).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryOf } from '../common/domain-error';
import { emptyState } from './desired-state';
import { StateWriteError } from './errors';
import { DesiredStateStore } from './state-store';

describe('StateWriteError', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'srv6-errors-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is what save() and saveAsync() throw when the state directory cannot be written', async () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, '');
    const store = new DesiredStateStore(join(file, 'state'));
    const next = { ...emptyState(), version: 1 };
    const sync = (() => {
      try {
        store.save(next);
      } catch (e) {
        return e;
      }
    })();
    const async = await store.saveAsync(next).catch((e: unknown) => e);
    for (const e of [sync, async]) {
      expect(e).toBeInstanceOf(StateWriteError);
      expect(e).toMatchObject({ code: 'ENOTDIR', message: expect.stringMatching(/could not be saved: ENOTDIR/) });
      expect(retryOf(e)).toBe('transient');
    }
  });
});
