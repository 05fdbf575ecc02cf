// The traces API's errors as HTTP answers (scoped to TraceController, ahead of the global
// DomainExceptionFilter, which still answers CapabilityMissingError with 501 and the feature name,
// and BpfError with 502). Field errors have one shape whether the body pipe or the service found
// them: `errors: [{field, messages}]`.
import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';

import { InvalidArgumentError } from '../netlink/errors';
import { TooManyProbesError } from './backend';
import { ManagedNetnsUnavailableError } from './managed-netns';
import { NameFilterError } from './name-filter';
import { TraceBusyError, TraceNotFoundError, TraceRequestError } from './trace.service';
import { TraceAbortedError } from './tracer';

type TraceError =
  | TraceBusyError
  | TraceNotFoundError
  | TraceRequestError
  | InvalidArgumentError
  | ManagedNetnsUnavailableError
  | TraceAbortedError
  | TooManyProbesError
  | NameFilterError;

export interface TraceErrorResponse {
  status: number;
  body: Record<string, unknown> & { statusCode: number; error: string; message: string };
}

/** The HTTP status and body for a trace error; undefined for anything else. Pure: unit-tested. */
export function mapTraceError(err: unknown): TraceErrorResponse | undefined {
  const answer = (status: number, error: string, message: string, extra: Record<string, unknown> = {}) => ({ status, body: { statusCode: status, error, message, ...extra } });
  if (err instanceof TraceBusyError) return answer(HttpStatus.CONFLICT, 'TraceBusy', err.message, { running: err.running });
  if (err instanceof TraceNotFoundError) return answer(HttpStatus.NOT_FOUND, 'TraceNotFound', err.message, { id: err.id });
  if (err instanceof TraceRequestError) return answer(HttpStatus.BAD_REQUEST, 'InvalidTraceRequest', err.message, { errors: err.errors });
  if (err instanceof InvalidArgumentError)
    return answer(HttpStatus.BAD_REQUEST, 'InvalidTraceRequest', err.message, { errors: [{ field: err.field, messages: [err.message] }] });
  if (err instanceof TooManyProbesError)
    return answer(HttpStatus.BAD_REQUEST, 'TooManyProbes', err.message, { backend: err.backend, probes: err.probes, maxProbes: err.maxProbes });
  // The body pipe and normalize() refuse bad patterns first; this is for direct callers.
  if (err instanceof NameFilterError)
    return answer(HttpStatus.BAD_REQUEST, 'InvalidTraceRequest', err.message, { errors: [{ field: 'regex', messages: [err.message] }] });
  if (err instanceof ManagedNetnsUnavailableError) return answer(HttpStatus.SERVICE_UNAVAILABLE, 'ManagedNetnsUnavailable', err.message, { netns: err.netns });
  if (err instanceof TraceAbortedError) return answer(HttpStatus.SERVICE_UNAVAILABLE, 'TraceAborted', `${err.message}: the agent is shutting down`);
  return undefined;
}

interface HttpResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

@Catch(TraceBusyError, TraceNotFoundError, TraceRequestError, InvalidArgumentError, ManagedNetnsUnavailableError, TraceAbortedError, TooManyProbesError, NameFilterError)
export class TraceExceptionFilter implements ExceptionFilter<TraceError> {
  catch(err: TraceError, host: ArgumentsHost): void {
    const mapped = mapTraceError(err)!; // @Catch lists exactly the classes mapTraceError knows
    host.switchToHttp().getResponse<HttpResponseLike>().status(mapped.status).json(mapped.body);
  }
}
