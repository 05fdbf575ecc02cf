// Validation of raw job payloads (from Redis or HTTP) into typed DTOs, with field-level errors.
import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { DomainError } from '../common/domain-error';
import { MAX_ROUTES_PER_JOB } from '../dataplane/spec.dto';
import { AnyJob, JOB_DTOS, JOB_TYPES, JobType } from './job.dto';

export interface FieldError {
  /** Dotted path, e.g. "tenant.routes[3].sids[0]". */
  field: string;
  messages: string[];
}

/** A payload that cannot be a job: never retried, nothing applied. */
export class JobValidationError extends DomainError {
  readonly retry = 'permanent';
  readonly status = 400;
  readonly error = 'InvalidJob';
  constructor(readonly errors: FieldError[]) {
    super(`invalid job: ${errors.map((e) => `${e.field}: ${e.messages.join('; ')}`).join(' | ')}`.slice(0, 2000));
    this.name = 'JobValidationError';
  }

  override details() {
    return { errors: this.errors };
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new JobValidationError([{ field: '(job)', messages: ['a job must be a JSON object'] }]);
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string' || !(JOB_TYPES as readonly string[]).includes(type))
    throw new JobValidationError([{ field: 'type', messages: [`type must be one of ${JOB_TYPES.join(', ')}`] }]);
  // Oversized lists are refused before each of their elements is transformed and validated.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any shape: only the list lengths are read here
  const r = raw as Record<string, any>;
  const lists: [string, unknown][] = [
    ['add', r.add],
    ['set', r.set],
    ['remove', r.remove],
    ['tenant.routes', r.tenant?.routes],
  ];
  const over = lists.filter(([, v]) => Array.isArray(v) && v.length > MAX_ROUTES_PER_JOB);
  if (over.length)
    throw new JobValidationError(
      over.map(([field, v]) => ({ field, messages: [`${field} has ${(v as unknown[]).length} entries, at most ${MAX_ROUTES_PER_JOB}`] })),
    );
  if (type === 'routes' && r.set === undefined && r.add === undefined && r.remove === undefined)
    throw new JobValidationError([{ field: 'add', messages: ['a routes job needs set, add or remove'] }]);
  const odd = oddKeys(raw);
  if (odd.length) throw new JobValidationError(odd.map((field) => ({ field, messages: [`${field.split('.').pop()} is not a field of a job`] })));
  const dto = plainToInstance(JOB_DTOS[type as JobType], raw);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length) throw new JobValidationError(flattenErrors(errors));
  return dto as AnyJob;
}

/** The fields validateJob names for `raw` ([] when it accepts it): what field-level tests compare. */
export function refusedFields(raw: unknown): string[] {
  try {
    validateJob(raw);
    return [];
  } catch (e) {
    if (!(e instanceof JobValidationError)) throw e;
    return e.errors.map((x) => x.field);
  }
}

/**
 * Keys that no DTO has and that object machinery treats specially: never passed on. The names of
 * Object.prototype's members (toString, valueOf, hasOwnProperty, …) among them, because
 * class-transformer silently drops those from a DTO instead of keeping them for the whitelist to
 * refuse; so they are looked for in every element of every list (a key in the 100,000th route is
 * as unknown as one in the first).
 */
const FORBIDDEN_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

function oddKeys(v: unknown, path = '', depth = 0, out: string[] = []): string[] {
  if (depth > 6 || typeof v !== 'object' || v === null || out.length > 20) return out;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && out.length <= 20; i++) if (typeof v[i] === 'object' && v[i] !== null) oddKeys(v[i], `${path}[${i}]`, depth + 1, out);
    return out;
  }
  for (const k of Object.keys(v)) {
    const p = path ? `${path}.${k}` : k;
    if (FORBIDDEN_KEYS.has(k)) out.push(p);
    else oddKeys((v as Record<string, unknown>)[k], p, depth + 1, out);
  }
  return out;
}
