import { JobValidationError, validateJob } from './job-validation';

const resync = (idempotencyKey: unknown) => ({ type: 'resync', idempotencyKey });
const fieldsOf = (raw: object) => {
  try {
    validateJob(raw);
    return [];
  } catch (e) {
    if (!(e instanceof JobValidationError)) throw e;
    return e.errors.map((x) => x.field);
  }
};

describe('idempotencyKey', () => {
  it('is refused when digits only: the queue numbers its own jobs with those ids', () => {
    for (const k of ['1', '42', '0007']) expect(fieldsOf(resync(k))).toEqual(['idempotencyKey']);
  });

  it('is accepted with any other character of the set, digits included', () => {
    for (const k of ['a', 'job-1', '1.5', '2026-12-07:1', 'x'.repeat(128)]) expect(fieldsOf(resync(k))).toEqual([]);
  });

  it('is refused empty, too long or with other characters', () => {
    for (const k of ['', 'x'.repeat(129), 'bad key', 'é']) expect(fieldsOf(resync(k))).toEqual(['idempotencyKey']);
  });
});
