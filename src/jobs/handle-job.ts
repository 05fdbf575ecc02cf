// What the agent does with one Bull job: validate, apply once (idempotency), report (the Nest @Processor in jobs.processor.ts and the benchmark call it).
import { bullInternals } from './bull-internals';
import type Bull from 'bull';
import { Dataplane } from '../dataplane/dataplane';
import { DataplaneNotStartedError } from '../dataplane/errors';
import { validateJob } from './job-validation';
import { JobOutcome, runJob } from './job-runner';
import { failedJob } from './job-failure';
import { IdempotencyStore } from './job-queue';
import { LockKeeper } from './lock-keeper';
import { activeListOrder, PopOrderGate } from './pop-order-gate';

export interface ProcessedJob extends JobOutcome {
  /** True when the idempotency key was seen before: nothing was applied, this is the first result. */
  duplicate?: boolean;
}

/**
 * One job: validated, looked up by idempotency key, applied. `entered` is called once the job is
 * in the dataplane's queue (or has ended without getting there): a PopOrderGate lets the next
 * job in at that moment.
 */
export async function processJob(
  job: Bull.Job,
  dp: Dataplane | Promise<Dataplane>,
  idem: IdempotencyStore,
  entered: () => void = () => undefined,
): Promise<ProcessedJob> {
  try {
    const validated = validateJob(job.data);
    const key = validated.idempotencyKey;
    if (key) {
      const seen = await idem.get(key);
      if (seen) return { ...(seen as JobOutcome), duplicate: true };
    }
    // The call enqueues synchronously; from here on later jobs may follow it in.
    // Transient errors are retried by the dataplane, in place: a retry from here would run behind later jobs.
    const running = runJob(await started(dp), validated);
    entered();
    const outcome = await running;
    if (key) await idem.put(key, outcome);
    return outcome;
  } catch (e) {
    // Bull keeps only a message: it carries the failure encoded (job-failure.ts).
    throw failedJob(e);
  } finally {
    entered();
  }
}

/** The dataplane once started; its start failing is no fault of the job (DataplaneNotStartedError). */
async function started(dp: Dataplane | Promise<Dataplane>): Promise<Dataplane> {
  try {
    return await dp;
  } catch (e) {
    throw new DataplaneNotStartedError(e);
  }
}

/**
 * Jobs handed to the dataplane by this many concurrent Bull handlers, in pop order (PopOrderGate):
 * jobs that arrive while one is applied queue up in the dataplane and go as a group (ADR 0009).
 * Each keeps its lock alive while it waits there (LockKeeper).
 */
export const JOB_CONCURRENCY = 32;

/** The handler for `queue.process(JOB_CONCURRENCY, ...)`: the agent's and the benchmark's. */
export class OrderedJobProcessor {
  private readonly gate: PopOrderGate;
  private readonly lockMs: number;

  constructor(
    queue: Bull.Queue,
    private readonly dp: () => Dataplane | Promise<Dataplane>,
    private readonly idem: IdempotencyStore,
  ) {
    const q = bullInternals(queue);
    this.gate = new PopOrderGate(activeListOrder(queue.client, q.key('active')));
    this.lockMs = q.lockDurationMs;
  }

  async handle(job: Bull.Job): Promise<ProcessedJob> {
    const keeper = new LockKeeper(job, this.lockMs);
    try {
      const entered = await this.gate.turn(String(job.id));
      return await processJob(job, this.dp(), this.idem, entered);
    } finally {
      keeper.stop();
    }
  }
}
