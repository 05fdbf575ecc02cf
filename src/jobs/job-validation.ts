// Validation of raw job payloads (from Redis or HTTP) into typed DTOs, with field-level errors.
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { AnyJob, JOB_DTOS, JOB_TYPES, JobType } from './job.dto';

export interface FieldError {
  /** Dotted path, e.g. "tenant.routes[3].sids[0]". */
  field: string;
  messages: string[];
}

/** A payload that cannot be a job: never retried, nothing applied. */
export class JobValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid job: ${errors.map((e) => `${e.field}: ${e.messages.join('; ')}`).join(' | ')}`.slice(0, 2000));
    this.name = 'JobValidationError';
  }
}

// A job is bounded in size before it is parsed field by field (a 100k-route job is ~10 MB of JSON).
export const MAX_JOB_BYTES = 16 * 1024 * 1024;

export function flattenErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = parent ? (/^\d+$/.test(e.property) ? `${parent}[${e.property}]` : `${parent}.${e.property}`) : e.property;
    if (e.constraints) out.push({ field, messages: Object.values(e.constraints) });
    if (e.children?.length) out.push(...flattenErrors(e.children, field));
  }
  return out;
}

export function validateJob(raw: unknown): AnyJob {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new JobValidationError([{ field: '(job)', messages: ['a job must be a JSON object'] }]);
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string' || !(JOB_TYPES as readonly string[]).includes(type))
    throw new JobValidationError([{ field: 'type', messages: [`type must be one of ${JOB_TYPES.join(', ')}`] }]);
  const dto = plainToInstance(JOB_DTOS[type as JobType], raw);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length) throw new JobValidationError(flattenErrors(errors));
  return dto as AnyJob;
}
