// Issue 15: a corpus of more than 1,000 bad jobs (src/testing/bad-jobs.ts: every field of every job
// DTO given wrong types, out-of-bound values, overlaps with the agent's state, foreign interfaces,
// addresses outside their ranges, and, where the kernel lacks SRv6, tenant jobs it cannot carry
// out), each submitted to a running agent through REST and through Redis. Every job is refused,
// as its corpus entry says (the field named, or the capability/domain error naming the problem);
// the kernel as iproute2 and procfs show it, GET /v1/state and the saved desired state are
// byte-identical before and after; the agent is alive and still applies a valid job.
//
//   host: 127.0.0.1:<random>  ── HTTP ──  this test (POST /v1/jobs?wait, 16 at a time)
//   host: redis-server 127.0.0.1:<random>: the agent's queue; this test also adds the jobs to it
//         directly, unvalidated (a buggy orchestrator), and awaits their failures
//   netns srv6t-bad-<pid>-<rnd>: the agent's managed namespace (SRV6_NETNS)
//       ul0 <-> ul1  underlay, MTU 1500 (node: locator fc00:0:1::/48, encap source fc00:0:1::1)
//       ta0 <-> ta1  tenant alpha  10.0.0.1/24 fd00:a::1/64  SID fc00:0:1:a::  }  only where the kernel
//       tb0 <-> tb1  tenant beta   10.0.1.1/24, End.DX4 -> 10.0.1.2  fc00:0:1:b::  }  has SRv6 (the lab)
//       tc0 <-> tc1, td0 <-> td1   free VM interfaces (the corpus's tenants gamma and delta name them)
//       mg0 <-> mg1  192.0.2.10/24 2001:db8:ff::10/64: a management link, not the agent's
import { INestApplication } from '@nestjs/common';
import type Bull from 'bull';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Capabilities } from '../capabilities/capabilities.model';
import { loadConfig } from '../config/config.loader';
import { bootstrap } from '../main';
import { BadJob, badJobCorpus, BASE, CATEGORIES } from '../testing/bad-jobs';
import { kernelLacks, SRV6 } from '../testing/kernel-features';
import { destroyAllNetns, TestNetns } from '../testing/netns';
import { TestRedis } from '../testing/redis';
import { scaled } from '../testing/time-scale';
import { JobFailedError, JobFailure, JobQueue, JobTimeoutError, openQueue } from './job-queue';

jest.setTimeout(scaled(120_000));
/**
 * In the lab VM (single-threaded TCG) only the jobs whose meaning depends on the tenants the lab's
 * kernel lets exist; the rest are refused alike on every kernel and run on the host.
 */
const LAB = process.env.LAB === '1';
const LAB_CATEGORIES = ['overlap', 'mtu', 'foreign-interface', 'address-range'];
const WAIT = scaled(30_000); // for one job's result
const HV = `bad-${process.pid}`;

/** How one submission ended, whatever the channel. */
interface Outcome {
  /** HTTP status (REST only). */
  status?: number;
  /** The job's state when it ended (or when the wait gave up). */
  state: string;
  failure?: JobFailure;
}

let redis: TestRedis;
let stateDir: string;
let ns: TestNetns;
let app: INestApplication;
let url: string;
let client: JobQueue;
let srv6: boolean;
let corpus: BadJob[];
/** Features the agent's capability report does not show working. */
let unsupported: Set<string>;
let before: Observed;

beforeAll(async () => {
  redis = await TestRedis.start();
  stateDir = mkdtempSync(join(tmpdir(), 'srv6t-bad-'));
  ns = TestNetns.create('bad');
  ns.vethPairs([...BASE.vethPairs, ['mg0', 'mg1']]);
  ns.ip(['addr', 'add', '192.0.2.10/24', 'dev', 'mg0']);
  ns.ip(['-6', 'addr', 'add', '2001:db8:ff::10/64', 'dev', 'mg0', 'nodad']);
  const config = loadConfig({
    env: { SRV6_LISTEN: '127.0.0.1:0', SRV6_REDIS_URL: redis.url, SRV6_STATE_DIR: stateDir, SRV6_HYPERVISOR: HV, SRV6_NETNS: ns.name },
  });
  ({ app, url } = await bootstrap(config, { logger: ['error'] }));
  client = new JobQueue(openQueue(redis.url, HV));

  // The base state: a node everywhere; two tenants where the kernel can carry them (iproute2 decides, not the agent).
  srv6 = kernelLacks(SRV6).length === 0;
  const base = [{ type: 'upsert-node', node: BASE.node }, ...(srv6 ? BASE.tenants.map((tenant) => ({ type: 'upsert-tenant', tenant })) : [])];
  for (const job of base) {
    const r = await post(`/v1/jobs?wait=${WAIT}`, job);
    expect({ job: job.type, status: r.status, state: r.body.job?.state, failure: r.body.job?.failure }).toEqual({
      job: job.type,
      status: 202,
      state: 'completed',
      failure: undefined,
    });
  }
  const caps = (await get<Capabilities>('/v1/capabilities')).body;
  unsupported = new Set(
    Object.entries(caps.features)
      .filter(([, s]) => s.supported !== true)
      .map(([f]) => f),
  );
  corpus = badJobCorpus({ srv6 }).filter((j) => !LAB || LAB_CATEGORIES.includes(j.category));
  before = await settled();
});

afterAll(async () => {
  await client?.close();
  await app?.close();
  destroyAllNetns();
  await redis?.destroy();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/**
 * One HTTP request on a connection of its own (Connection: close): a kept-alive connection that the
 * server closes as idle just when the next request goes out on it would fail that request
 * (ECONNRESET), and a POST must not be sent twice.
 */
function request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port: Number(port),
        path,
        method,
        agent: false,
        headers: { connection: 'close', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const { status, text } = await request('POST', path, body);
  try {
    return { status, body: JSON.parse(text) };
  } catch {
    return { status, body: { text } };
  }
}

async function get<T>(path: string): Promise<{ status: number; body: T; text: string }> {
  const { status, text } = await request('GET', path);
  return { status, body: JSON.parse(text) as T, text };
}

/** What a job could change, each part as text to compare byte for byte. */
interface Observed {
  /** iproute2 and procfs (TestNetns.kernelSnapshot: links, addresses, routes of every table, rules, nexthops, sysctls), and seg6's tunnel source. */
  kernel: string;
  /** The body of GET /v1/state. */
  state: string;
  /** The desired state on disk: file names and content hashes. */
  saved: string;
}

async function observe(): Promise<Observed> {
  let tunsrc: string;
  try {
    tunsrc = ns.ip(['sr', 'tunsrc', 'show']).trim();
  } catch (e) {
    tunsrc = `unavailable: ${String((e as { stderr?: unknown }).stderr ?? e).trim()}`; // no SEG6 genl family: nothing can change it
  }
  const kernel = JSON.stringify({ ...ns.kernelSnapshot(), tunsrc }, null, 1);
  const state = await get<unknown>('/v1/state');
  expect(state.status).toBe(200);
  const saved = readdirSync(stateDir)
    .sort()
    .map(
      (f) =>
        `${f} ${createHash('sha256')
          .update(readFileSync(join(stateDir, f)))
          .digest('hex')}`,
    )
    .join('\n');
  return { kernel, state: state.text, saved };
}

/** The state once the base jobs' after-effects (DAD, link flags) are over: two equal observations in a row. */
async function settled(): Promise<Observed> {
  let prev = await observe();
  for (const t0 = Date.now(); Date.now() - t0 < scaled(10_000);) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await observe();
    if (JSON.stringify(now) === JSON.stringify(prev)) return now;
    prev = now;
  }
  throw new Error('the namespace did not settle after the base jobs');
}

/** `fn` over `items`, `limit` at a time, results in order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** Why `o` is not the refusal `c` wants; undefined when it is. */
function judge(c: BadJob, o: Outcome, channel: 'rest' | 'redis'): string | undefined {
  const f = o.failure;
  if (!f) return `not refused: ${o.status ?? ''} ${o.state}`.trim();
  if (f.retry !== 'permanent') return `refused as transient (${f.name}: ${f.message})`;
  const want = c.refusal;
  if (channel === 'rest' && o.status !== (want.kind === 'field' ? 400 : 202)) return `HTTP ${o.status}`;
  switch (want.kind) {
    case 'field': {
      if (f.name !== 'JobValidationError') return `${f.name}: ${f.message}`;
      const named = f.errors?.find((e) => e.field === want.field);
      if (!named) return `no error for ${want.field} (errors for ${f.errors?.map((e) => e.field).join(', ')})`;
      if (!named.messages.length || named.messages.some((m) => typeof m !== 'string' || !m.trim())) return `empty message for ${want.field}`;
      return undefined;
    }
    case 'invalid-argument':
      if (f.name !== 'InvalidArgumentError' || f.field !== want.field || !f.message.startsWith(`${want.field}: `))
        return `${f.name} (field ${f.field}): ${f.message}`;
      return undefined;
    case 'unknown-tenant':
      return f.name === 'UnknownTenantError' && f.tenant === want.tenant && f.message.includes(want.tenant) ? undefined : `${f.name}: ${f.message}`;
    case 'missing-interface':
      return f.name === 'MissingInterfaceError' && f.ifname === want.ifname && f.message.includes(want.ifname) ? undefined : `${f.name}: ${f.message}`;
    case 'capability': {
      const features = (f.features ?? []) as string[];
      if (f.name !== 'CapabilityMissingError' || !features.length) return `${f.name}: ${f.message}`;
      const supported = features.filter((x) => !unsupported.has(x));
      if (supported.length) return `names features the capability report shows working: ${supported.join(', ')}`;
      return features.every((x) => f.message.includes(x)) ? undefined : `message does not name ${features.join(', ')}: ${f.message}`;
    }
  }
}

/** Checked after every batch of jobs: nothing changed so far. */
async function unchangedSoFar(batch: number): Promise<string[]> {
  const now = await observe();
  return (['kernel', 'state', 'saved'] as const).filter((k) => now[k] !== before[k]).map((k) => `after batch ${batch}: ${k} changed`);
}

const tally = (xs: BadJob[], key: (j: BadJob) => string) => xs.reduce<Record<string, number>>((a, j) => ((a[key(j)] = (a[key(j)] ?? 0) + 1), a), {});

describe('a corpus of bad jobs (issue 15)', () => {
  it('has more than 1,000 jobs, of every job type and every category this kernel has jobs of (in the lab: the categories that depend on tenants)', () => {
    if (LAB) {
      expect(Object.keys(tally(corpus, (j) => j.category)).sort()).toEqual([...LAB_CATEGORIES].sort());
      expect(corpus.filter((j) => j.category === 'overlap').length).toBeGreaterThan(30);
      console.log(`bad-input corpus in the lab: ${corpus.length} jobs by category ${JSON.stringify(tally(corpus, (j) => j.category))}`);
      return;
    }
    expect(corpus.length).toBeGreaterThanOrEqual(1000);
    expect(Object.keys(tally(corpus, (j) => j.jobType)).sort()).toEqual(['(none)', 'delete-tenant', 'resync', 'routes', 'upsert-node', 'upsert-tenant']);
    // Valid tenant jobs are "bad" only where the kernel cannot carry them out.
    expect(Object.keys(tally(corpus, (j) => j.category)).sort()).toEqual(CATEGORIES.filter((c) => c !== 'capability' || !srv6).sort());
    console.log(
      `bad-input corpus (${srv6 ? 'with' : 'without'} SRv6): ${corpus.length} jobs\n  by category: ${JSON.stringify(tally(corpus, (j) => j.category))}\n  by job type: ${JSON.stringify(tally(corpus, (j) => j.jobType))}\n  by refusal: ${JSON.stringify(tally(corpus, (j) => j.refusal.kind))}`,
    );
  });

  it('through REST (POST /v1/jobs?wait): every job refused as the corpus says; nothing changes on the way', async () => {
    const t0 = performance.now();
    const problems: string[] = [];
    const BATCH = 100;
    for (let i = 0, batch = 1; i < corpus.length; i += BATCH, batch++) {
      const cases = corpus.slice(i, i + BATCH);
      const outcomes = await mapLimit(cases, 16, async (c): Promise<Outcome> => {
        const r = await post(`/v1/jobs?wait=${WAIT}`, c.job);
        if (r.status === 400 && r.body.error === 'InvalidJob')
          return { status: 400, state: 'refused', failure: { name: 'JobValidationError', message: r.body.message, retry: 'permanent', errors: r.body.errors } };
        if (r.status === 202) return { status: 202, state: r.body.job.state, failure: r.body.job.failure };
        return { status: r.status, state: JSON.stringify(r.body).slice(0, 300) };
      });
      cases.forEach((c, k) => {
        const p = judge(c, outcomes[k], 'rest');
        if (p) problems.push(`${c.name}: ${p}`);
      });
      problems.push(...(await unchangedSoFar(batch)));
    }
    console.log(`REST: ${corpus.length} jobs in ${Math.round(performance.now() - t0)} ms`);
    expect(problems).toEqual([]);
    // Refused by validation: nothing enqueued. Every other job failed in the queue, none is left there.
    const counts = await client.queue.getJobCounts();
    expect(counts).toMatchObject({
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: srv6 ? 3 : 1,
      failed: corpus.filter((c) => c.refusal.kind !== 'field').length,
    });
  });

  it('through Redis (added to the agent’s queue unvalidated): every job fails as the corpus says; nothing changes on the way', async () => {
    const t0 = performance.now();
    const problems: string[] = [];
    const BATCH = 200;
    for (let i = 0, batch = 1; i < corpus.length; i += BATCH, batch++) {
      const cases = corpus.slice(i, i + BATCH);
      const jobs: Bull.Job[] = await client.queue.addBulk(cases.map((c) => ({ data: c.job as object })));
      const outcomes = await Promise.all(
        jobs.map((j) =>
          client.wait(j, WAIT).then(
            (result): Outcome => ({ state: `completed ${JSON.stringify(result)?.slice(0, 200)}` }),
            (e): Outcome =>
              e instanceof JobFailedError ? { state: 'failed', failure: e.failure } : { state: e instanceof JobTimeoutError ? 'timed out' : String(e) },
          ),
        ),
      );
      cases.forEach((c, k) => {
        const p = judge(c, outcomes[k], 'redis');
        if (p) problems.push(`${c.name}: ${p}`);
      });
      problems.push(...(await unchangedSoFar(batch)));
    }
    console.log(`Redis: ${corpus.length} jobs in ${Math.round(performance.now() - t0)} ms`);
    expect(problems).toEqual([]);
    expect(await client.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
  });

  it('afterwards the kernel, GET /v1/state and the saved state are byte-identical to before, and the agent is alive and applies a valid job', async () => {
    const after = await observe();
    expect(after.kernel).toBe(before.kernel);
    expect(after.state).toBe(before.state);
    expect(after.saved).toBe(before.saved);
    // Alive: live and ready (netlink, Redis, bpffs answer); a valid job through each channel applies (and finds nothing to repair).
    expect((await get<{ status: string; pid: number }>('/v1/health')).body).toMatchObject({ status: 'ok', pid: process.pid });
    const ready = await get<{ status: string }>('/v1/health/ready');
    expect([ready.status, ready.body.status]).toEqual([200, 'ready']);
    const rest = await post(`/v1/jobs?wait=${WAIT}`, { type: 'resync', reason: 'after the bad-input corpus' });
    expect(rest.body.job).toMatchObject({ state: 'completed', result: { type: 'resync', operations: 0, failed: [] } });
    const viaRedis = await client.queue.add({ type: 'resync' });
    expect(await client.wait(viaRedis, WAIT)).toMatchObject({ type: 'resync', operations: 0, failed: [] });
    expect((await observe()).kernel).toBe(before.kernel);
  });
});
