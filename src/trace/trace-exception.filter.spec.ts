// The traces API's error answers: status, error name, and what a client needs to act.
import { CapabilityMissingError } from '../common/errors';
import { InvalidArgumentError } from '../netlink/errors';
import { TooManyProbesError } from './backend';
import { ManagedNetnsUnavailableError } from './managed-netns';
import { NameFilterError } from './name-filter';
import { mapTraceError, TraceExceptionFilter } from './trace-exception.filter';
import { TraceBusyError, TraceNotFoundError, TraceRequestError } from './trace.service';
import { TraceAbortedError } from './tracer';
import { TraceError } from './trace-error';

describe('mapTraceError', () => {
  const cases: Array<[Error, number, object]> = [
    [new TraceBusyError('a1'), 409, { error: 'TraceBusy', running: 'a1', message: expect.stringMatching(/one trace at a time/) }],
    [new TraceNotFoundError('nope'), 404, { error: 'TraceNotFound', id: 'nope', message: 'no trace nope' }],
    [
      new TraceRequestError([{ field: 'mark', messages: ['mark must be …'] }]),
      400,
      { error: 'InvalidTraceRequest', errors: [{ field: 'mark', messages: ['mark must be …'] }] },
    ],
    [
      new InvalidArgumentError('limit', 'must be an integer between 1 and 50000'),
      400,
      { error: 'InvalidTraceRequest', errors: [{ field: 'limit', messages: ['limit: must be an integer between 1 and 50000'] }] },
    ],
    [
      new ManagedNetnsUnavailableError('hv1', '/var/run/netns/hv1: ENOENT'),
      503,
      { error: 'ManagedNetnsUnavailable', netns: 'hv1', message: expect.stringMatching(/"hv1" is not available: .*ENOENT/) },
    ],
    [new TraceAbortedError(), 503, { error: 'TraceAborted', message: expect.stringMatching(/shutting down/) }],
    [
      new TooManyProbesError('fentry', 4620, 4096, 2310),
      400,
      {
        error: 'TooManyProbes',
        backend: 'fentry',
        probes: 4620,
        maxProbes: 4096,
        message: expect.stringMatching(/^4620 probes to attach with fentry \(2310 functions, entry and return\), more than the cap of 4096/),
      },
    ],
    [
      new NameFilterError('(a)\\1', 3, 'backreferences (\\1) are not supported'),
      400,
      { error: 'InvalidTraceRequest', errors: [{ field: 'regex', messages: [expect.stringMatching(/^backreferences .* at position 3/)] }] },
    ],
  ];
  for (const [err, status, body] of cases)
    it(`${err.name} → ${status}`, () => {
      expect(mapTraceError(err)).toEqual({ status, body: { statusCode: status, message: expect.any(String), ...body } });
    });

  it('leaves the rest to the global filter (CapabilityMissingError: 501 with the feature)', () => {
    expect(mapTraceError(new CapabilityMissingError('trace.fentry'))).toBeUndefined();
    expect(mapTraceError(new Error('bug'))).toBeUndefined();
  });

  it("catches the traces API's own errors (TraceError) and InvalidArgumentError, nothing else", () => {
    expect(Reflect.getMetadata('__filterCatchExceptions__', TraceExceptionFilter)).toEqual([TraceError, InvalidArgumentError]);
  });

  it('answers through the response object', () => {
    const sent: unknown[] = [];
    const res = { status: (code: number) => ({ json: (b: unknown) => sent.push(code, b) }) };
    new TraceExceptionFilter().catch(new TraceNotFoundError('x'), { switchToHttp: () => ({ getResponse: () => res }) } as never);
    expect(sent).toEqual([404, { statusCode: 404, error: 'TraceNotFound', message: 'no trace x', id: 'x' }]);
  });
});
