// A job's Bull lock, kept alive for as long as the agent works on the job.
import type Bull from 'bull';

/**
 * Extends a job's lock while its handler runs. Bull renews locks too, but its renewer gives up
 * after the first Redis error: after a Redis restart every job still waiting in the dataplane's
 * queue would lose its lock and, applied, fail with "Missing lock". This one retries until the
 * lock is extended or found taken (then the job stalled, and Bull hands it out again).
 */
export class LockKeeper {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly job: Pick<Bull.Job, 'extendLock'>,
    private readonly lockMs: number,
  ) {
    this.schedule(lockMs / 2);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.extend(), ms);
    this.timer.unref();
  }

  private async extend(): Promise<void> {
    try {
      const held = await this.job.extendLock(this.lockMs);
      if (held) this.schedule(this.lockMs / 2);
    } catch {
      this.schedule(Math.min(100, this.lockMs / 4)); // Redis away: soon again, within the lock's life
    }
  }
}
