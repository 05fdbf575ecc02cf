// The client commands against a stand-in agent (a plain HTTP server on loopback that answers
// like the REST API): requests sent, output printed, exit codes, and the messages for every way
// talking to the agent goes wrong.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { unreachableMessage } from './agent-client';
import { CliIo } from './commands';
import { main } from './srv6-agent';

type Handler = (req: { method: string; url: string; auth?: string; body: any }) => { status?: number; body?: unknown; raw?: string } | undefined;

let server: Server;
let url: string;
let handler: Handler;
const requests: { method: string; url: string; auth?: string; body: any }[] = [];
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'srv6t-cmd-'));
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const r = { method: req.method!, url: req.url!, auth: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
      requests.push(r);
      const a = handler(r) ?? { status: 404, body: { statusCode: 404, message: `Cannot ${r.method} ${r.url}` } };
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
      res.end(a.raw ?? JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  requests.length = 0;
  handler = () => undefined;
});

function io(stdin = ''): CliIo & { stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (s) => void out.push(s),
    err: (s) => void err.push(s),
    readStdin: async () => stdin,
    errIsTTY: false,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const T = 1_700_000_000_000;
const view = (id: string, type: string, state: string, extra: object = {}) => ({
  id,
  type,
  state,
  submittedAt: T,
  ...(state === 'completed' || state === 'failed' ? { finishedAt: T + 12 } : {}),
  ...extra,
});
const RESULT = { type: 'upsert-node', created: { sysctl: 2 }, updated: {}, deleted: {}, failed: [], operations: 2, durationMs: 3, version: 1 };
const NODE = { type: 'upsert-node', node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 } };
const NODE_YAML = 'type: upsert-node\nnode:\n  underlay: [ul0]\n  locator: fc00:0:1::/48\n  encapSource: fc00:0:1::1\n  underlayMtu: 1500\n';

describe('submit', () => {
  it('posts the job with ?wait, prints its result as JSON and exits 0', async () => {
    handler = (r) =>
      r.method === 'POST' ? { status: 202, body: { job: view('1', 'upsert-node', 'completed', { result: RESULT }), duplicate: false } } : undefined;
    const o = io();
    expect(await main(['submit', file('node.yaml', NODE_YAML), '--url', url], o, {})).toBe(0);
    expect(requests).toEqual([{ method: 'POST', url: '/v1/jobs?wait=60000', auth: undefined, body: NODE }]);
    expect(JSON.parse(o.stdout())).toEqual(view('1', 'upsert-node', 'completed', { result: RESULT }));
    expect(o.stderr()).toBe('');
  });

  it('sends the bearer token from SRV6_TOKEN_FILE; reads the jobs from stdin for "-"', async () => {
    handler = () => ({ status: 202, body: { job: view('2', 'resync', 'completed', { result: RESULT }), duplicate: false } });
    const token = file('token', 's3cret\n');
    expect(await main(['submit', '-', '--url', url, '--wait', '1.5'], io('{"type":"resync"}'), { SRV6_TOKEN_FILE: token })).toBe(0);
    expect(requests[0]).toMatchObject({ url: '/v1/jobs?wait=1500', auth: 'Bearer s3cret', body: { type: 'resync' } });
  });

  it('--no-wait only enqueues', async () => {
    handler = () => ({ status: 202, body: { job: view('3', 'resync', 'waiting'), duplicate: false } });
    const o = io();
    expect(await main(['submit', file('r.json', '{"type":"resync"}'), '--url', url, '--no-wait'], o, {})).toBe(0);
    expect(requests.map((r) => r.url)).toEqual(['/v1/jobs']);
    expect(JSON.parse(o.stdout())).toMatchObject({ id: '3', state: 'waiting' });
  });

  it('a list: in order, each waited for; the first failure stops it (exit 1) with errno and extack', async () => {
    let n = 0;
    handler = (r) => {
      if (r.method !== 'POST') return undefined;
      n++;
      if (n === 1) return { status: 202, body: { job: view('10', 'upsert-node', 'completed', { result: RESULT }), duplicate: false } };
      return {
        status: 202,
        body: {
          job: view('11', 'upsert-tenant', 'failed', {
            failure: {
              name: 'KernelApplyError',
              message: '1 kernel operation(s) failed; first: route 10.1.0.0/24 table 10000: EINVAL Invalid nexthop id',
              retry: 'permanent',
              failures: [
                {
                  kind: 'route',
                  action: 'create',
                  what: 'route 10.1.0.0/24 table 10000',
                  errno: 22,
                  code: 'EINVAL',
                  extack: 'Invalid nexthop id',
                  message: 'EINVAL',
                },
              ],
            },
          }),
          duplicate: false,
        },
      };
    };
    const jobs = [NODE, { type: 'delete-tenant', tenant: 'alpha' }, { type: 'resync' }];
    const o = io();
    expect(await main(['submit', file('list.json', JSON.stringify(jobs)), '--url', url], o, {})).toBe(1);
    expect(requests.map((r) => r.body.type)).toEqual(['upsert-node', 'delete-tenant']);
    expect(JSON.parse(o.stdout()).map((j: { id: string; state: string }) => [j.id, j.state])).toEqual([
      ['10', 'completed'],
      ['11', 'failed'],
    ]);
    expect(o.stderr()).toContain('job 11 (upsert-tenant) from job 2 of');
    expect(o.stderr()).toContain('  route 10.1.0.0/24 table 10000: EINVAL (errno 22): kernel says: Invalid nexthop id\n');
    expect(o.stderr()).toMatch(/1 job of .*list\.json \(from job 3 on\) was not submitted/);
  });

  it("keeps waiting past the agent's answer by polling, and exits 3 when the job does not finish in time", async () => {
    handler = (r) =>
      r.method === 'POST' ? { status: 202, body: { job: view('20', 'resync', 'active'), duplicate: false } } : { body: view('20', 'resync', 'active') };
    const o = io();
    expect(await main(['submit', file('r2.json', '{"type":"resync"}'), '--url', url, '--wait', '0.6'], o, {})).toBe(3);
    expect(requests[0]!.url).toBe('/v1/jobs?wait=600');
    expect(requests.slice(1).every((r) => r.method === 'GET' && r.url === '/v1/jobs/20')).toBe(true);
    expect(requests.length).toBeGreaterThan(1);
    expect(o.stderr()).toMatch(
      /job 20 \(resync\) from .*r2\.json did not finish within 0\.6 s; it is active and may still run: follow it with `srv6-agent jobs 20`/,
    );
    expect(JSON.parse(o.stdout())).toMatchObject({ id: '20', state: 'active' });
  });

  it('a job that finishes while polled is completed (exit 0)', async () => {
    let polls = 0;
    handler = (r) =>
      r.method === 'POST'
        ? { status: 202, body: { job: view('21', 'resync', 'waiting'), duplicate: false } }
        : { body: ++polls < 2 ? view('21', 'resync', 'active') : view('21', 'resync', 'completed', { result: RESULT }) };
    expect(await main(['submit', file('r3.json', '{"type":"resync"}'), '--url', url, '--wait', '5'], io(), {})).toBe(0);
  });

  it("a duplicate idempotency key: the first job's result, marked, and a note", async () => {
    handler = () => ({ status: 202, body: { job: view('k-1', 'resync', 'completed', { result: RESULT, idempotencyKey: 'k-1' }), duplicate: true } });
    const o = io();
    expect(await main(['submit', file('d.json', '{"type":"resync","idempotencyKey":"k-1"}'), '--url', url], o, {})).toBe(0);
    expect(JSON.parse(o.stdout())).toMatchObject({ id: 'k-1', duplicate: true });
    expect(o.stderr()).toMatch(/its idempotency key was submitted before: this is job k-1's result, nothing was applied again/);
  });

  it('an invalid file: field errors with lines, exit 2, nothing sent', async () => {
    const o = io();
    const f = file('bad.yaml', 'type: routes\ntenant: alpha\nadd:\n  - prefix: 10.0.0.300/24\n    sids: []\n');
    expect(await main(['submit', f, '--url', url], o, {})).toBe(2);
    expect(requests).toEqual([]);
    expect(o.stderr()).toBe(
      [
        `srv6-agent: ${f}: the job is invalid; nothing was submitted`,
        `${f}:4: add[0].prefix: must be an IP prefix (address/length, host bits zero)`,
        `${f}:5: add[0].sids: must contain at least 1 elements`,
        '',
      ].join('\n'),
    );
  });

  it('the agent disagreeing with the local validation (another version): its field errors, exit 2', async () => {
    handler = () => ({
      status: 400,
      body: { statusCode: 400, error: 'InvalidJob', message: 'invalid job', errors: [{ field: 'reason', messages: ['reason must be shorter'] }] },
    });
    const o = io();
    const f = file('skew.yaml', 'type: resync\nreason: because\n');
    expect(await main(['submit', f, '--url', url], o, {})).toBe(2);
    expect(o.stderr()).toContain(`srv6-agent: the agent rejected ${f} (is this CLI the agent's version?)`);
    expect(o.stderr()).toContain(`${f}:2: reason: must be shorter`);
  });
});

describe('talking to the agent goes wrong', () => {
  it('401 without a token: exit 4, says how to pass one', async () => {
    handler = () => ({ status: 401, body: { statusCode: 401, message: 'missing or wrong bearer token' } });
    const o = io();
    expect(await main(['jobs', '--url', url], o, {})).toBe(4);
    expect(o.stderr()).toBe(
      `srv6-agent: the agent at ${url} refused the request (401: missing or wrong bearer token); this address needs a bearer token: pass --token-file FILE (or set SRV6_TOKEN_FILE) with the content of the agent's auth.tokenFile\n`,
    );
  });

  it('401 with a token: says that token was not accepted', async () => {
    handler = () => ({ status: 401, body: { statusCode: 401, message: 'missing or wrong bearer token' } });
    const o = io();
    const t = file('wrong-token', 'nope');
    expect(await main(['state', '--url', url, '--token-file', t], o, {})).toBe(4);
    expect(o.stderr()).toContain(`the token in ${t} was not accepted`);
  });

  it('nothing listening: exit 4, "is srv6-agent serve running?"', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const o = io();
    expect(await main(['submit', file('n.yaml', NODE_YAML), '--url', `http://127.0.0.1:${port}`], o, {})).toBe(4);
    expect(o.stderr()).toBe(
      `srv6-agent: cannot reach the agent at http://127.0.0.1:${port}: connection refused — is \`srv6-agent serve\` running (systemctl status srv6-agent), and is 127.0.0.1:${port} its server.listen address?\n`,
    );
    expect(o.stdout()).toBe('');
  });

  it('something that is not the agent: exit 4', async () => {
    handler = () => ({ status: 200, raw: '<html>hello</html>' });
    const o = io();
    expect(await main(['state', '--url', url], o, {})).toBe(4);
    expect(o.stderr()).toMatch(/answered 200 with something that is not JSON — is --url the agent's HTTP API\?/);
  });

  it("a job too large for the agent's HTTP body limit: exit 2, says how to split it", async () => {
    handler = () => ({ status: 413, body: { statusCode: 413, message: 'request entity too large' } });
    const o = io();
    expect(await main(['submit', file('big.json', '{"type":"resync"}'), '--url', url], o, {})).toBe(2);
    expect(o.stderr()).toMatch(/refused the request as too large \(413: request entity too large\).*split the job/);
  });

  it('an agent-side error: exit 1 with its message', async () => {
    handler = () => ({ status: 500, body: { statusCode: 500, message: 'Internal server error' } });
    const o = io();
    expect(await main(['state', '--url', url], o, {})).toBe(1);
    expect(o.stderr()).toMatch(/GET \/v1\/state failed at the agent \(500: Internal server error\) — see its logs/);
  });

  it.each([
    [{ name: 'TimeoutError' }, /did not answer within 3 s/],
    [Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }), /host name not found — check --url/],
    [Object.assign(new TypeError('fetch failed'), { cause: { errors: [{ code: 'EHOSTUNREACH' }] } }), /no route to 10\.0\.0\.9:9610/],
    [Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } }), /closed without an answer — is --url the agent's HTTP API/],
    [
      Object.assign(new TypeError('fetch failed'), { cause: new Error('bad port') }),
      /Node's fetch refuses port 9610 .*give the agent another server\.listen port/,
    ],
  ])('unreachableMessage(%j)', (e, msg) => expect(unreachableMessage('http://10.0.0.9:9610', e, 3000)).toMatch(msg));
});

describe('jobs, state, capabilities --url', () => {
  it('jobs: a table by default, JSON with --json; ?limit passed', async () => {
    handler = (r) =>
      r.url.startsWith('/v1/jobs?') ? { body: [view('2', 'resync', 'completed', { result: RESULT }), view('1', 'upsert-node', 'waiting')] } : undefined;
    const text = io();
    expect(await main(['jobs', '--url', url, '--limit', '2'], text, {})).toBe(0);
    expect(requests[0]!.url).toBe('/v1/jobs?limit=2');
    expect(text.stdout().split('\n')[0]).toMatch(/^ID\s+TYPE\s+STATE\s+SUBMITTED\s+TOOK\s+OUTCOME$/);
    expect(text.stdout()).toContain('created sysctl 2; 2 kernel operations in 3 ms; state v1');
    const json = io();
    expect(await main(['jobs', '--url', url, '--json'], json, {})).toBe(0);
    expect(JSON.parse(json.stdout())).toHaveLength(2);
  });

  it('jobs ID: the job; an unknown one exits 1', async () => {
    handler = (r) =>
      r.url === '/v1/jobs/o%2F1'
        ? { body: view('o/1', 'resync', 'completed', { result: RESULT }) }
        : { status: 404, body: { statusCode: 404, message: 'no job 9' } };
    const o = io();
    expect(await main(['jobs', 'o/1', '--url', url], o, {})).toBe(0);
    expect(o.stdout()).toMatch(/^job o\/1: resync, completed\n/);
    const missing = io();
    expect(await main(['jobs', '9', '--url', url], missing, {})).toBe(1);
    expect(missing.stderr()).toMatch(/^srv6-agent: no job 9 at http:\/\/127\.0\.0\.1:\d+ \(finished jobs are kept for audit up to a bound/);
  });

  it('state and state TENANT; an unknown tenant exits 1', async () => {
    const summary = { hypervisor: 'hv1', mode: 'table', version: 1, node: null, owned: {}, driftRepairs: 0, tenants: [] };
    handler = (r) => (r.url === '/v1/state' ? { body: summary } : { status: 404, body: { statusCode: 404, message: 'no tenant beta' } });
    const o = io();
    expect(await main(['state', '--url', url], o, {})).toBe(0);
    expect(o.stdout()).toMatch(/^hypervisor hv1, table mode/);
    const json = io();
    expect(await main(['state', '--url', url, '--json'], json, {})).toBe(0);
    expect(JSON.parse(json.stdout())).toEqual(summary);
    const missing = io();
    expect(await main(['state', 'beta', '--url', url], missing, {})).toBe(1);
    expect(missing.stderr()).toMatch(/no tenant beta on the agent at .* \(`srv6-agent state` lists its tenants\)/);
  });

  it("capabilities --url: the running agent's report", async () => {
    handler = (r) => (r.url === '/v1/capabilities' ? { body: { kernel: '6.1.0', mode: 'vrf', features: {}, probedAt: 'x' } } : undefined);
    const o = io();
    expect(await main(['capabilities', '--url', url], o, {})).toBe(0);
    expect(JSON.parse(o.stdout())).toMatchObject({ kernel: '6.1.0', mode: 'vrf' });
  });
});
