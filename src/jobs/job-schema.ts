// A JSON Schema of job files, generated from the DTOs' class-validator metadata so that it says
// what validateJob says: editors validate YAML job files with it (deploy/schema/srv6-job.schema.json,
// written by `npm run schema`; a unit test keeps the committed file equal to this generator's).
// Rules a schema cannot state (a byte length, "unicast", host bits) are in the fields' descriptions.
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, ValidationArguments } from 'class-validator';
import { JOB_DTOS, JOB_TYPES } from './job.dto';

export type JsonSchema = { [key: string]: unknown };
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/** Where the schema is committed, relative to the repository root. */
export const JOB_SCHEMA_PATH = 'deploy/schema/srv6-job.schema.json';

// Loose shapes of addresses: the agent's parser (netlink/ip.ts) decides, these only catch typos.
const V4 = '[0-9]{1,3}(?:\\.[0-9]{1,3}){3}';
const V6 = '[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*';
const LEN = '(?:/[0-9]{1,3})?';
const IFNAME = '^(?!\\.{1,2}$)[^\\s/:\\u0000-\\u001f\\u007f]{1,15}$';

function family(message: string): 4 | 6 | undefined {
  return message.includes('IPv6') ? 6 : message.includes('IPv4') ? 4 : undefined;
}

function addressPattern(message: string, prefix: boolean): string {
  const f = family(message);
  const addr = f === 4 ? V4 : f === 6 ? V6 : `(?:${V4}|${V6})`;
  return `^${addr}${prefix ? LEN : ''}$`;
}

/** What a custom validator (dataplane/validators.ts) requires, as far as a schema can say it. */
const CUSTOM: Record<string, (message: string) => JsonSchema> = {
  isIpAddr: (m) => ({ type: 'string', pattern: addressPattern(m, false) }),
  isIpPrefix: (m) => ({ type: 'string', pattern: addressPattern(m, true) }),
  isIfname: () => ({ type: 'string', pattern: IFNAME, not: { enum: Object.getOwnPropertyNames(Object.prototype).sort() } }),
  isNotLoopback: () => ({ not: { const: 'lo' } }),
  isUnicast: () => ({}),
  isRoutedPrefix: () => ({}),
};

/** The message a validator gives for a field, as the rule's description. */
function ruleText(m: ValidationMetadata, property: string): string | undefined {
  if (typeof m.message === 'string') return m.message;
  const c = m.constraintCls as (new () => { defaultMessage?(a: ValidationArguments): string }) | undefined;
  const text = c ? new c().defaultMessage?.({ property, value: undefined, constraints: m.constraints, targetName: '', object: {} }) : undefined;
  return text && m.name && m.name in CUSTOM ? text : undefined;
}

/** Adds `extra` to `s`; a keyword already there (two patterns, two `not`s) goes into allOf. */
function merge(s: JsonSchema, extra: JsonSchema): void {
  for (const [k, v] of Object.entries(extra)) {
    if (!(k in s)) s[k] = v;
    else if (s[k] !== v && JSON.stringify(s[k]) !== JSON.stringify(v)) s.allOf = [...((s.allOf as JsonSchema[]) ?? []), { [k]: v }];
  }
}

function valueSchema(metas: ValidationMetadata[], property: string, nested: string | undefined): JsonSchema {
  const s: JsonSchema = {};
  const rules: string[] = [];
  for (const m of metas) {
    const c = m.constraints ?? [];
    switch (m.name) {
      case 'isString':
        merge(s, { type: 'string' });
        break;
      case 'isInt':
        merge(s, { type: 'integer' });
        break;
      case 'isBoolean':
        merge(s, { type: 'boolean' });
        break;
      case 'isObject':
        merge(s, { type: 'object' });
        break;
      case 'isIn':
        merge(s, { enum: c[0] });
        break;
      case 'matches':
        merge(s, { pattern: (c[0] as RegExp).source });
        break;
      case 'min':
        merge(s, { minimum: c[0] });
        break;
      case 'max':
        merge(s, { maximum: c[0] });
        break;
      case 'maxLength':
        merge(s, { maxLength: c[0] });
        break;
      default:
        if (m.name && m.name in CUSTOM) merge(s, CUSTOM[m.name](ruleText(m, property) ?? ''));
        else if (m.name) throw new Error(`job schema: no rule for the validator ${m.name} of ${property}`);
    }
    const text = ruleText(m, property);
    if (text && !rules.includes(text)) rules.push(text);
  }
  if (nested) {
    delete s.type; // the definition says it
    s.$ref = `#/definitions/${nested}`;
  }
  if (rules.length) s.description = rules.join('; ');
  return s;
}

/** The nested DTO class class-transformer makes of an object (or a list's element) at `property`. */
function nestedClass(cls: new () => object, property: string, list: boolean): (new () => object) | undefined {
  const made = (plainToInstance(cls, { [property]: list ? [{}] : {} }) as Record<string, unknown>)[property];
  const ctor = ((list ? (made as unknown[])?.[0] : made) as object | undefined)?.constructor as (new () => object) | undefined;
  return ctor && ctor !== Object ? ctor : undefined;
}

const defName = (cls: { name: string }) => cls.name.replace(/Dto$/, '');

function objectSchema(cls: new () => object, defs: Record<string, JsonSchema>, fixed: Record<string, JsonSchema> = {}): JsonSchema {
  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  const names = [...new Set(metas.map((m) => m.propertyName))];
  names.sort((a, b) => Number(b in fixed) - Number(a in fixed)); // `type` first
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of names) {
    const mine = metas.filter((m) => m.propertyName === p);
    // IsAbsentOr: absent is fine, null is not (so no "null" type either).
    if (!mine.some((m) => m.type === 'conditionalValidation')) required.push(p);
    if (fixed[p]) {
      properties[p] = fixed[p];
      continue;
    }
    const list = mine.some((m) => m.name === 'isArray');
    const nested = mine.some((m) => m.type === 'nestedValidation') ? nestedClass(cls, p, list) : undefined;
    if (nested && !defs[defName(nested)]) {
      defs[defName(nested)] = {}; // reserved before recursing
      defs[defName(nested)] = objectSchema(nested, defs);
    }
    const own = mine.filter((m) => m.type === 'customValidation' && !m.each && m.name !== 'isArray');
    const each = mine.filter((m) => m.type === 'customValidation' && m.each);
    const nestedName = nested && defName(nested);
    if (!list) {
      properties[p] = valueSchema(own, p, nestedName);
      continue;
    }
    const s: JsonSchema = { type: 'array' };
    for (const m of own) {
      if (m.name === 'arrayMinSize') s.minItems = m.constraints[0];
      else if (m.name === 'arrayMaxSize') s.maxItems = m.constraints[0];
      else throw new Error(`job schema: no rule for the list validator ${m.name} of ${p}`);
    }
    s.items = valueSchema(each, p, nestedName);
    properties[p] = s;
  }
  return { type: 'object', additionalProperties: false, required, properties };
}

/** The schema of a job file: one job or a list of jobs, each one of the job types. */
export function jobSchema(): JsonSchema {
  const defs: Record<string, JsonSchema> = {};
  const jobs = JOB_TYPES.map((t) => {
    const s = objectSchema(JOB_DTOS[t], defs, { type: { const: t } });
    // validateJob's own rule, beside the DTO's decorators.
    if (t === 'routes') s.anyOf = [{ required: ['set'] }, { required: ['add'] }, { required: ['remove'] }];
    return { title: t, ...s };
  });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'srv6-job.schema.json',
    title: 'srv6-agent job file',
    description: 'One job or a list of jobs for `srv6-agent submit` (or several YAML documents, one job each). Generated from the DTOs by `npm run schema`.',
    anyOf: [{ $ref: '#/definitions/Job' }, { type: 'array', items: { $ref: '#/definitions/Job' } }],
    definitions: {
      Job: { type: 'object', required: ['type'], properties: { type: { enum: [...JOB_TYPES] } }, oneOf: jobs },
      ...Object.fromEntries(Object.entries(defs).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

/** The schema as committed: JSON, two-space indented (prettier formats it the same). */
export function jobSchemaText(): string {
  return `${JSON.stringify(jobSchema(), null, 2)}\n`;
}
