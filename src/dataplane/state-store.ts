// Desired state on local disk: atomic replace (write temp, fsync, rename, fsync directory), so
// after a power loss the file is either the previous or the new acknowledged version, never a mix.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DesiredState, emptyState } from './desired-state';

export class StateCorruptError extends Error {
  constructor(
    readonly path: string,
    cause: string,
  ) {
    super(`desired state ${path} is unreadable: ${cause}`);
    this.name = 'StateCorruptError';
  }
}

export class DesiredStateStore {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'desired-state.json');
  }

  load(): DesiredState {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw e;
    }
    try {
      const s = JSON.parse(text) as DesiredState;
      if (typeof s.version !== 'number' || typeof s.tenants !== 'object') throw new Error('missing version or tenants');
      return { ...emptyState(), ...s };
    } catch (e) {
      // Refuse to start from a state we cannot read rather than "reconcile" the host to empty.
      throw new StateCorruptError(this.path, (e as Error).message);
    }
  }

  save(state: DesiredState): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd); // the rename itself must survive a power loss
    } finally {
      closeSync(dfd);
    }
  }
}
