// The declarations alone decide: retryOf and the answer read nothing else.
import { DomainError, retryOf } from './domain-error';
import { answerOf } from './domain-exception.filter';

class Busy extends DomainError {
  readonly retry = 'transient';
  readonly status = 409;
  readonly error = 'Busy';
  constructor(readonly holder?: string) {
    super('busy');
  }

  override details() {
    return { holder: this.holder };
  }
}

describe('DomainError', () => {
  it('retryOf: the declaration for a DomainError, permanent for anything else', () => {
    expect(retryOf(new Busy())).toBe('transient');
    for (const e of [new Error('?'), new TypeError('x'), Object.assign(new Error('EIO'), { code: 'EIO' }), 'text', undefined])
      expect(retryOf(e)).toBe('permanent');
  });

  it('answerOf: status, error, message, then the details; an unknown detail is null', () => {
    expect(answerOf(new Busy('a1'))).toEqual({ status: 409, body: { statusCode: 409, error: 'Busy', message: 'busy', holder: 'a1' } });
    expect(answerOf(new Busy())).toEqual({ status: 409, body: { statusCode: 409, error: 'Busy', message: 'busy', holder: null } });
    expect(answerOf(new Busy(), 'busy: try later').body.message).toBe('busy: try later');
  });
});
