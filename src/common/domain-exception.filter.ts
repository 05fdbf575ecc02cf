// The one place where domain errors become HTTP answers. Anything not listed here (HttpException
// from the ValidationPipe, bugs) falls through to Nest's own handler.
import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus, Logger } from '@nestjs/common';

import { BpfError } from '../bpf/errors';
import { InvalidArgumentError, KernelError } from '../netlink/errors';
import { CapabilityMissingError } from './errors';
import { JobValidationError } from '../jobs/job-validation';
import { UnknownTenantError } from '../dataplane/state-transitions';
import { ForeignObjectError, MissingInterfaceError } from '../dataplane/planner';

export type DomainError = KernelError | InvalidArgumentError | CapabilityMissingError | BpfError | JobValidationError | UnknownTenantError | MissingInterfaceError | ForeignObjectError;

export interface ErrorResponse {
  status: number;
  body: Record<string, unknown> & { statusCode: number; error: string; message: string };
}

/** The HTTP status and body for a domain error; undefined for anything else. Pure: unit-tested. */
export function mapDomainError(err: unknown): ErrorResponse | undefined {
  if (err instanceof KernelError) {
    const status = HttpStatus.BAD_GATEWAY;
    return {
      status,
      body: {
        statusCode: status,
        error: 'KernelError',
        message: err.message,
        errno: err.errno,
        code: err.code,
        extack: err.extack ?? null,
        what: err.request.what,
      },
    };
  }
  if (err instanceof InvalidArgumentError) {
    const status = HttpStatus.BAD_REQUEST;
    return { status, body: { statusCode: status, error: 'InvalidArgument', message: err.message, field: err.field } };
  }
  if (err instanceof CapabilityMissingError) {
    const status = HttpStatus.NOT_IMPLEMENTED;
    return {
      status,
      body: {
        statusCode: status,
        error: 'CapabilityMissing',
        message: err.message,
        feature: err.feature,
        features: err.features,
        alternative: err.alternative ?? null,
        reason: err.reason ?? null,
      },
    };
  }
  if (err instanceof JobValidationError) {
    const status = HttpStatus.BAD_REQUEST;
    return { status, body: { statusCode: status, error: 'InvalidJob', message: err.message, errors: err.errors } };
  }
  if (err instanceof UnknownTenantError) {
    const status = HttpStatus.NOT_FOUND;
    return { status, body: { statusCode: status, error: 'UnknownTenant', message: err.message, tenant: err.tenant } };
  }
  if (err instanceof MissingInterfaceError || err instanceof ForeignObjectError) {
    const status = HttpStatus.CONFLICT;
    return { status, body: { statusCode: status, error: err.name, message: err.message } };
  }
  if (err instanceof BpfError) {
    const status = HttpStatus.BAD_GATEWAY;
    return { status, body: { statusCode: status, error: 'BpfError', message: err.message, errno: err.errno, code: err.code, op: err.op } };
  }
  return undefined;
}

/** What the filter needs of the platform's response object (express, but not typed against it). */
interface HttpResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

@Catch(KernelError, InvalidArgumentError, CapabilityMissingError, BpfError, JobValidationError, UnknownTenantError, MissingInterfaceError, ForeignObjectError)
export class DomainExceptionFilter implements ExceptionFilter<DomainError> {
  private readonly logger = new Logger(DomainExceptionFilter.name);

  catch(err: DomainError, host: ArgumentsHost): void {
    const mapped = mapDomainError(err)!; // @Catch lists exactly the classes mapDomainError knows
    if (mapped.status >= 500) this.logger.warn(err.message);
    host.switchToHttp().getResponse<HttpResponseLike>().status(mapped.status).json(mapped.body);
  }
}
