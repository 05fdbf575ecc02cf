// The traces API's errors as HTTP answers (scoped to TraceController, ahead of the global
// DomainExceptionFilter, which answers everything else there: CapabilityMissingError with 501 and
// the feature name, BpfError with 502). The API's own errors (TraceError) answer by their
// declarations; two answers depend on being under /v1/traces:
// - InvalidArgumentError: field errors have one shape here whether the body pipe or the service
//   found them, `InvalidTraceRequest` with `errors: [{field, messages}]`;
// - TraceAbortedError: the agent aborts a start only when it shuts down (the CLI, on a signal).
import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';

import { answerOf, ErrorResponse, send } from '../common/domain-exception.filter';
import { InvalidArgumentError } from '../netlink/errors';
import { TraceError } from './trace-error';
import { TraceAbortedError } from './tracer';

/** The HTTP status and body for an error under /v1/traces; undefined for the global filter's. Pure: unit-tested. */
export function mapTraceError(err: unknown): ErrorResponse | undefined {
  if (err instanceof InvalidArgumentError) {
    const status = err.status;
    return {
      status,
      body: { statusCode: status, error: 'InvalidTraceRequest', message: err.message, errors: [{ field: err.field, messages: [err.message] }] },
    };
  }
  if (err instanceof TraceAbortedError) return answerOf(err, `${err.message}: the agent is shutting down`);
  if (err instanceof TraceError) return answerOf(err);
  return undefined;
}

@Catch(TraceError, InvalidArgumentError)
export class TraceExceptionFilter implements ExceptionFilter<TraceError | InvalidArgumentError> {
  catch(err: TraceError | InvalidArgumentError, host: ArgumentsHost): void {
    send(host, mapTraceError(err)!); // @Catch lists exactly what mapTraceError answers
  }
}
