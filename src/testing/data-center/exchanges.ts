// Packets between VMs, over ICMP (iputils ping), TCP and UDP (the VMs' probes), with who answered.
import { scaled } from '../time-scale';
import { Family, Vm } from './vm';

export type Protocol = 'icmp' | 'tcp' | 'udp';
export const PROTOCOLS: Protocol[] = ['icmp', 'tcp', 'udp'];

export interface Outcome {
  protocol: Protocol;
  ok: boolean;
  /** TCP/UDP: the VM that answered (ICMP cannot say). */
  from?: string;
  error?: string;
}

/**
 * One exchange from `from` to an address; a success needs the answer within the deadline (per
 * try: `timeoutMs`, 2 s scaled; ICMP: ping's own 1 s scaled).
 */
export async function exchange(from: Vm, to: string, protocol: Protocol, opts: { tries?: number; timeoutMs?: number } = {}): Promise<Outcome> {
  if (protocol === 'icmp') return { protocol, ok: opts.tries === 1 ? await from.ping(to) : await from.reaches(to, opts.tries ?? 3) };
  let last: Outcome = { protocol, ok: false };
  for (let i = 0; i < (opts.tries ?? 2); i++) {
    const a = await from.exchange(protocol, to, opts.timeoutMs ?? scaled(2000));
    last = a.ok ? { protocol, ok: true, from: a.from } : { protocol, ok: false, error: a.error };
    if (a.ok) break;
  }
  return last;
}

/** Every protocol from `from` to `to`'s address of a family: a line per protocol, for readable failures. */
export async function reachability(from: Vm, to: Vm, family: Family, opts: { tries?: number } = {}): Promise<string[]> {
  const addr = to.address(family);
  if (!addr) throw new Error(`${to.name} has no IPv${family} address`);
  const out = await Promise.all(PROTOCOLS.map((p) => exchange(from, addr, p, opts)));
  return out.map(
    (o) =>
      `${from.name} -> ${to.name} ${addr} ${o.protocol}: ${o.ok ? `answered${o.from ? ` by ${o.from}` : ''}` : `no answer${o.error ? ` (${o.error})` : ''}`}`,
  );
}

/** Polls until `from` gets an answer from `to` over UDP; resolves with the time that took. */
export async function waitReachable(from: Vm, to: string, deadlineMs: number, expectFrom?: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = await from.exchange('udp', to, 300);
    if (a.ok && (!expectFrom || a.from === expectFrom)) return performance.now() - t0;
    if (performance.now() - t0 > deadlineMs)
      throw new Error(`${from.name} -> ${to}: no answer${expectFrom ? ` from ${expectFrom}` : ''} within ${deadlineMs} ms (last: ${JSON.stringify(a)})`);
  }
}

/**
 * A steady UDP stream from one VM to another while something happens (an agent restart): one
 * exchange every `intervalMs`, counting answered and lost ones until stopped.
 */
export class Stream {
  sent = 0;
  answered = 0;
  readonly losses: { at: number; error: string }[] = [];
  /** When each answered exchange was sent (performance.now()). */
  private readonly answeredAt: number[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    readonly from: Vm,
    readonly to: string,
    intervalMs = 50,
    /** How long one exchange may take before it counts as lost. */
    timeoutMs = scaled(1000),
  ) {
    this.done = (async () => {
      while (this.running) {
        const t = performance.now();
        this.sent++;
        const a = await from.exchange('udp', to, timeoutMs);
        if (a.ok) {
          this.answered++;
          this.answeredAt.push(t);
        } else this.losses.push({ at: Date.now(), error: a.error });
        const wait = intervalMs - (performance.now() - t);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  /** The longest time between two answered exchanges: how long traffic was interrupted, at most. */
  longestGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.answeredAt.length; i++) gap = Math.max(gap, this.answeredAt[i] - this.answeredAt[i - 1]);
    return gap;
  }

  async stop(): Promise<this> {
    this.running = false;
    await this.done;
    return this;
  }
}
