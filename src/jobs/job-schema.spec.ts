// The committed JSON Schema of job files is the generator's, and it agrees with validateJob on
// everything a schema can express (the rest is in its descriptions).
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE, badJobCorpus, Category } from '../testing/bad-jobs';
import { JOB_SCHEMA_PATH, jobSchema } from './job-schema';
import { refusedFields } from './job-validation';

const ROOT = join(__dirname, '..', '..');
const validate = new Ajv({ allErrors: true }).compile(jobSchema());
const schemaErrors = (job: unknown) => (validate(job) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

/** Refusals a schema states (types, required, unknown keys, patterns, bounds); the others need the agent's parsers. */
const EXPRESSIBLE: Category[] = [
  'wrong-type',
  'out-of-bounds',
  'missing-required',
  'unknown-field',
  'prototype-name',
  'idempotency-key',
  'mtu',
  'too-many-sids',
];

it(`${JOB_SCHEMA_PATH} is what the generator makes (npm run schema)`, () => {
  const committed = JSON.parse(readFileSync(join(ROOT, JOB_SCHEMA_PATH), 'utf8'));
  expect(committed).toEqual(jobSchema());
});

it('is a valid draft-07 schema with one branch per job type, discriminated by type', () => {
  const s = jobSchema() as any;
  expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
  expect(s.definitions.Job.oneOf.map((b: any) => b.properties.type.const)).toEqual(['upsert-node', 'upsert-tenant', 'delete-tenant', 'routes', 'resync']);
  expect(s.definitions.NodeSpec.properties.underlayMtu).toEqual({ type: 'integer', minimum: 1280, maximum: 65535 });
  expect(s.definitions.TenantSpec.required).toEqual(['id', 'behaviour', 'interfaces', 'routes']);
  expect(s.definitions.RemoteRoute.properties.sids).toMatchObject({ minItems: 1, maxItems: 16 });
  // A rule no keyword states is described.
  expect(s.definitions.NodeSpec.properties.encapSource.description).toMatch(/unicast/);
});

it('accepts the base state of the bad-job corpus, one job and a list', () => {
  const jobs = [{ type: 'upsert-node', node: BASE.node }, ...BASE.tenants.map((tenant) => ({ type: 'upsert-tenant', tenant })), { type: 'resync' }];
  for (const job of jobs) {
    expect(refusedFields(job)).toEqual([]);
    expect(schemaErrors(job)).toEqual([]);
  }
  expect(schemaErrors(jobs)).toEqual([]);
});

describe('agrees with validateJob on the bad-job corpus', () => {
  const corpus = badJobCorpus({ srv6: true });

  it('refuses every job validateJob refuses for what a schema can express', () => {
    const refused = corpus.filter((j) => EXPRESSIBLE.includes(j.category) && refusedFields(j.job).length > 0);
    expect(refused.length).toBeGreaterThan(500);
    expect(refused.filter((j) => validate(j.job)).map((j) => j.name)).toEqual([]);
  });

  it('accepts every job validateJob accepts (those the agent refuses later, on its state)', () => {
    const accepted = corpus.filter((j) => refusedFields(j.job).length === 0);
    expect(accepted.length).toBeGreaterThan(10);
    expect(accepted.filter((j) => !validate(j.job)).map((j) => ({ name: j.name, errors: schemaErrors(j.job) }))).toEqual([]);
  });

  it('refuses a routes job with none of set, add, remove, as validateJob does', () => {
    const job = { type: 'routes', tenant: 'alpha' };
    expect(refusedFields(job)).toEqual(['add']);
    expect(validate(job)).toBe(false);
  });
});
