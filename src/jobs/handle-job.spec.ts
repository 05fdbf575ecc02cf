// What processJob hands Bull when a job fails: the failure encoded (job-failure.ts).
import type Bull from 'bull';
import type { Dataplane } from '../dataplane/dataplane';
import { StateMissingError } from '../dataplane/errors';
import { processJob } from './handle-job';
import { decodeFailure } from './job-failure';
import type { IdempotencyStore } from './job-queue';

const job = (data: unknown) => ({ id: '1', data }) as Bull.Job;
const noIdem = {} as IdempotencyStore; // no idempotency key: never called

describe('processJob failures', () => {
  it('a job taken while the dataplane failed to start never ran: transient, the cause in the message', async () => {
    const dp = Promise.reject(new StateMissingError('/var/lib/srv6-agent', 196, { rules: 2 }));
    dp.catch(() => undefined);
    const e = (await processJob(job({ type: 'resync' }), dp, noIdem).catch((x: unknown) => x)) as Error;
    expect(decodeFailure(e.message)).toEqual({
      name: 'DataplaneNotStartedError',
      message: expect.stringMatching(/^the dataplane did not start: no desired state in \/var\/lib\/srv6-agent/),
      retry: 'transient',
    });
  });

  it('an invalid job: its field errors, permanent, nothing asked of the dataplane', async () => {
    const e = (await processJob(job({ type: 'nope' }), {} as Dataplane, noIdem).catch((x: unknown) => x)) as Error;
    expect(decodeFailure(e.message)).toMatchObject({ name: 'JobValidationError', retry: 'permanent', errors: [expect.objectContaining({ field: 'type' })] });
  });
});
