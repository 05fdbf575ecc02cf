// Drift: foreign changes to owned objects, seen on the netlink monitor, trigger a debounced
// repair (a resync of the dataplane); the agent's own changes (its request socket's port) do not.
import { MonitorEvent, NetlinkMonitor } from '../netlink/monitor';
import type { Ownership } from './kernel-objects';

/** Is this monitor event about something the agent owns (or configures)? `interfaces` is asked for link events only (it lists every tenant's). */
export function touchesOwned(e: MonitorEvent, own: Ownership, interfaces: () => Set<string>): boolean {
  switch (e.kind) {
    case 'route':
      return e.route.protocol === own.protocol;
    case 'nexthop':
      return e.nexthop.protocol === own.protocol || (e.action === 'del' && e.nexthop.protocol === undefined);
    case 'rule':
      return e.rule.protocol === own.protocol;
    case 'address':
      return e.address.protocol === own.protocol;
    case 'link':
      return interfaces().has(e.link.name) || e.link.name.startsWith(own.vrfPrefix);
  }
}

/**
 * Watches the kernel and calls `repair` at most once per `debounceMs` after an owned object changed;
 * never two repairs at once (a change during a repair schedules one more).
 */
export class DriftWatcher {
  private monitor?: NetlinkMonitor;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  onError?: (e: unknown, reason: string) => void;
  /** Every change made by someone else, owned or not (undefined: events were lost). */
  onForeignChange?: (e?: MonitorEvent) => void;

  constructor(
    private readonly netns: string | undefined,
    private readonly own: Ownership,
    private readonly interfaces: () => Set<string>,
    private readonly repair: (reason: string) => Promise<void>,
    /** Port of the agent's own request socket: its changes are not drift. */
    private readonly ownPort: number,
    private readonly debounceMs = 100,
  ) {}

  start(): void {
    this.monitor = new NetlinkMonitor({ netns: this.netns });
    this.monitor.on('event', (e: MonitorEvent) => {
      if (e.pid === this.ownPort) return;
      this.onForeignChange?.(e);
      if (touchesOwned(e, this.own, this.interfaces)) this.schedule(`${e.kind} ${e.action} by port ${e.pid}`);
    });
    // The kernel dropped events, or one could not be read: anything may have changed.
    for (const [signal, reason] of [
      ['overrun', 'monitor overrun'],
      ['decode-error', 'undecodable monitor event'],
    ]) {
      this.monitor.on(signal, () => {
        this.onForeignChange?.();
        this.schedule(reason);
      });
    }
  }

  schedule(reason: string): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run(reason);
    }, this.debounceMs);
  }

  private async run(reason: string): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    try {
      await this.repair(reason);
    } catch (e) {
      // A failed repair is retried by the next event or the periodic resync; never unhandled.
      if (!this.stopped) this.onError?.(e, reason);
    } finally {
      this.running = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.schedule('changes during repair');
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.monitor?.close();
  }
}
