// examples/: one job file per job type and tenant behaviour (and routes set/add/remove with both
// encapsulation modes), read as `srv6-agent submit` reads them and valid for the agent and for
// the JSON Schema editors use. The examples describe one node and tenants within its locator.
import Ajv from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jobSchema } from '../jobs/job-schema';
import { validateJob } from '../jobs/job-validation';
import { JOB_TYPES } from '../jobs/job.dto';
import { DECAP_BEHAVIOURS, ENCAP_MODES } from '../dataplane/spec.dto';
import { mask, parsePrefix } from '../netlink/ip';
import { emptyState } from '../dataplane/desired-state';
import { changeRoutes, deleteTenant, upsertNode, upsertTenant } from '../dataplane/state-transitions';
import { parseJobFile } from './job-file';

const DIR = join(__dirname, '..', '..', 'examples');
const FILES = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));
const validate = new Ajv({ allErrors: true }).compile(jobSchema());
const examples = FILES.map((f) => ({ file: f, text: readFileSync(join(DIR, f), 'utf8') })).flatMap(({ file, text }) =>
  parseJobFile(text, file).jobs.map((job) => ({ file, job: job as any })),
);

it.each(FILES)('%s is valid for validateJob and the JSON Schema', (file) => {
  const jobs = parseJobFile(readFileSync(join(DIR, file), 'utf8'), file).jobs;
  expect(jobs.length).toBeGreaterThan(0);
  for (const job of jobs) {
    expect(() => validateJob(job)).not.toThrow();
    expect(validate(job) ? [] : validate.errors).toEqual([]);
  }
});

it('has every job type, behaviour, routes operation and encapsulation mode', () => {
  const types = new Set(examples.map((e) => e.job.type));
  expect(JOB_TYPES.filter((t) => !types.has(t))).toEqual([]);
  const behaviours = new Set(examples.filter((e) => e.job.type === 'upsert-tenant').map((e) => e.job.tenant.behaviour));
  expect(DECAP_BEHAVIOURS.filter((b) => !behaviours.has(b))).toEqual([]);
  const routes = examples.filter((e) => e.job.type === 'routes');
  expect(['set', 'add', 'remove'].filter((op) => !routes.some((e) => e.job[op]))).toEqual([]);
  const modes = new Set(examples.flatMap((e) => [...(e.job.set ?? []), ...(e.job.add ?? []), ...(e.job.tenant?.routes ?? [])]).map((r) => r.mode ?? 'encap'));
  expect(ENCAP_MODES.filter((m) => !modes.has(m))).toEqual([]);
  expect(examples.some((e) => e.job.tenant?.xdpOffload === true)).toBe(true);
});

it('describes one node, tenants whose SIDs lie in its locator, and jobs about those tenants only', () => {
  const nodes = examples.filter((e) => e.job.type === 'upsert-node').map((e) => JSON.stringify(e.job.node));
  expect(new Set(nodes).size).toBe(1);
  const node = JSON.parse(nodes[0]);
  const locator = parsePrefix(node.locator, 'locator');
  const inLocator = (sid: string) => mask(parsePrefix(sid, 'sid').addr, locator.len).equals(locator.addr);
  const tenants = examples.filter((e) => e.job.type === 'upsert-tenant').map((e) => e.job.tenant);
  for (const t of tenants.filter((t) => t.sid))
    expect({ id: t.id, sid: t.sid, inLocator: inLocator(t.sid) }).toEqual({ id: t.id, sid: t.sid, inLocator: true });
  const ids = new Set(tenants.map((t) => t.id));
  const named = examples.filter((e) => e.job.type === 'routes' || e.job.type === 'delete-tenant').map((e) => e.job.tenant);
  expect(named.filter((id) => !ids.has(id))).toEqual([]);
  // The sandbox (serve --sandbox) has one VM interface: every tenant uses it.
  expect([...new Set(tenants.flatMap((t) => t.interfaces.map((i: { name: string }) => i.name)))]).toEqual(['sbx-tap0']);
  expect(node.underlay).toEqual(['sbx-uplink']);
});

it('applies to the agent’s desired state: each tenant on the node alone (they share sbx-tap0), routes and delete on their tenant', () => {
  const job = (type: string, pick: (j: any) => boolean = () => true) => examples.filter((e) => e.job.type === type && pick(e.job)).map((e) => e.job);
  const node = upsertNode(emptyState(), job('upsert-node')[0].node);
  const withTenant = (id: string) => upsertTenant(node, job('upsert-tenant', (j) => j.tenant.id === id).at(-1).tenant, 'vrf');
  for (const t of job('upsert-tenant')) expect(() => upsertTenant(node, t.tenant, 'vrf')).not.toThrow();
  for (const r of job('routes')) expect(() => changeRoutes(withTenant(r.tenant), r.tenant, { set: r.set, add: r.add, remove: r.remove })).not.toThrow();
  for (const d of job('delete-tenant')) expect(() => deleteTenant(withTenant(d.tenant), d.tenant)).not.toThrow();
});
