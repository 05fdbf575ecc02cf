// The one place where domain errors become HTTP answers, each by its own declaration (status,
// error, details: domain-error.ts). Anything else (HttpException from the ValidationPipe, bugs)
// falls through to Nest's own handler.
import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';

import { DomainError } from './domain-error';

export interface ErrorResponse {
  status: number;
  body: Record<string, unknown> & { statusCode: number; error: string; message: string };
}

/** The answer to a domain error: its status, `error` and message, then its details (unknown ones null). */
export function answerOf(err: DomainError, message = err.message): ErrorResponse {
  const body: ErrorResponse['body'] = { statusCode: err.status, error: err.error, message };
  for (const [k, v] of Object.entries(err.details())) body[k] = v ?? null;
  return { status: err.status, body };
}

/** The HTTP status and body for a domain error; undefined for anything else. Pure: unit-tested. */
export function mapDomainError(err: unknown): ErrorResponse | undefined {
  return err instanceof DomainError ? answerOf(err) : undefined;
}

/** What the filter needs of the platform's response object (express, but not typed against it). */
export interface HttpResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

/** Writes an answer to the response of the request being handled. */
export function send(host: ArgumentsHost, answer: ErrorResponse): void {
  host.switchToHttp().getResponse<HttpResponseLike>().status(answer.status).json(answer.body);
}

@Catch(DomainError)
export class DomainExceptionFilter implements ExceptionFilter<DomainError> {
  private readonly logger = new Logger(DomainExceptionFilter.name);

  catch(err: DomainError, host: ArgumentsHost): void {
    const answer = answerOf(err);
    if (answer.status >= 500) this.logger.warn(err.message);
    send(host, answer);
  }
}
