// A kernel read kept between jobs while nothing it covers has changed. Tenant plans need two
// node-wide dumps (every rule, and the agent's routes in main) of which they use a few entries:
// on a big table-mode hypervisor (2,000 rules) those dumps were most of a one-route job. The
// owner invalidates the read when the agent itself changed what it covers and when the netlink
// monitor reports that someone else did; maxAgeMs bounds what a lost event could cost.

export class CachedRead<T> {
  private kept?: { value: Promise<T>; at: number };

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The kept answer while it is valid and young enough; otherwise a new read (shared by callers while in flight). */
  get(): Promise<T> {
    const k = this.kept;
    if (k && this.now() - k.at < this.maxAgeMs) return k.value;
    const value = this.read();
    const kept = { value, at: this.now() };
    this.kept = kept;
    // A failed read is not an answer to keep.
    value.catch(() => {
      if (this.kept === kept) this.kept = undefined;
    });
    return value;
  }

  /**
   * Something the read covers changed. A read in flight may predate the change: its callers get
   * it once, the next get() reads again.
   */
  invalidate(): void {
    this.kept = undefined;
  }
}
