// The traces API's error answers: status, error name, and what a client needs to act.
import { CapabilityMissingError } from '../common/errors';
import { InvalidArgumentError } from '../netlink/errors';
import { ManagedNetnsUnavailableError } from './managed-netns';
import { mapTraceError, TraceExceptionFilter } from './trace-exception.filter';
import { TraceBusyError, TraceNotFoundError, TraceRequestError } from './trace.service';
import { TraceAbortedError } from './tracer';

describe('mapTraceError', () => {
  const cases: Array<[Error, number, object]> = [
    [new TraceBusyError('a1'), 409, { error: 'TraceBusy', running: 'a1', message: expect.stringMatching(/one trace at a time/) }],
    [new TraceNotFoundError('nope'), 404, { error: 'TraceNotFound', id: 'nope', message: 'no trace nope' }],
    [new TraceRequestError([{ field: 'mark', messages: ['mark must be …'] }]), 400, { error: 'InvalidTraceRequest', errors: [{ field: 'mark', messages: ['mark must be …'] }] }],
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
  ];
  for (const [err, status, body] of cases)
    it(`${err.name} → ${status}`, () => {
      expect(mapTraceError(err)).toEqual({ status, body: { statusCode: status, message: expect.any(String), ...body } });
    });

  it('leaves the rest to the global filter (CapabilityMissingError: 501 with the feature)', () => {
    expect(mapTraceError(new CapabilityMissingError('tracing.fentry'))).toBeUndefined();
    expect(mapTraceError(new Error('bug'))).toBeUndefined();
  });

  it('answers through the response object', () => {
    const sent: unknown[] = [];
    const res = { status: (code: number) => ({ json: (b: unknown) => sent.push(code, b) }) };
    new TraceExceptionFilter().catch(new TraceNotFoundError('x'), { switchToHttp: () => ({ getResponse: () => res }) } as never);
    expect(sent).toEqual([404, { statusCode: 404, error: 'TraceNotFound', message: 'no trace x', id: 'x' }]);
  });
});
