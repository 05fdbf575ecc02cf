import { fieldPath, formatProblems, JobFileError, parseJobFile, validateJobFile } from './job-file';

const NODE_YAML = `# the node, then a tenant
type: upsert-node
node:
  underlay: [ul0]
  locator: fc00:0:1::/48
  encapSource: fc00:0:1::1
  underlayMtu: 1500
`;

const TWO_DOCS = `${NODE_YAML}---
type: upsert-tenant
idempotencyKey: t-alpha-1
tenant:
  id: alpha
  behaviour: End.DT6
  interfaces:
    - name: ta0
      gateways: [10.0.0.1/24]
  routes:
    - prefix: 10.1.0.0/24
      sids: ["fc00:0:2:1::"]
`;

describe('parseJobFile', () => {
  it('refuses a file whose aliases would expand it many times over (a YAML bomb) before building it', () => {
    // Each level aliases the one before ten times: 100 copies of the first list from three lines
    // (yaml's default bound refuses it; the 1000 the parser was given before let it through).
    const levels = ['a: &a [fc00::1, fc00::2, fc00::3, fc00::4, fc00::5, fc00::6, fc00::7, fc00::8, fc00::9, fc00::a]'];
    for (let i = 1; i <= 2; i++)
      levels.push(
        `l${i}: &l${i} [${Array(10)
          .fill(i === 1 ? '*a' : `*l${i - 1}`)
          .join(', ')}]`,
      );
    const bomb = `type: resync\n${levels.join('\n')}\n`;
    expect(() => parseJobFile(bomb, 'bomb.yaml')).toThrow(JobFileError);
    expect(() => parseJobFile(bomb, 'bomb.yaml')).toThrow(/bomb\.yaml: .*alias/i);
    // A few aliases, as a job file may use them for shared SID lists, are fine.
    const shared = 'type: routes\ntenant: alpha\nadd:\n  - { prefix: 10.1.0.0/24, sids: &s ["fc00:0:2:1::"] }\n  - { prefix: 10.2.0.0/24, sids: *s }\n';
    expect(validateJobFile(parseJobFile(shared, 'shared.yaml')).problems).toEqual([]);
  });

  it('one YAML job: not a list', () => {
    const f = parseJobFile(NODE_YAML, 'node.yaml');
    expect(f.list).toBe(false);
    expect(f.jobs).toEqual([{ type: 'upsert-node', node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 } }]);
    expect(validateJobFile(f).problems).toEqual([]);
  });

  it('several YAML documents are a list of jobs, in order', () => {
    const f = parseJobFile(TWO_DOCS, 'dc.yaml');
    expect(f.list).toBe(true);
    expect(f.jobs.map((j: any) => j.type)).toEqual(['upsert-node', 'upsert-tenant']);
    expect(validateJobFile(f)).toMatchObject({ problems: [], jobs: [{ type: 'upsert-node' }, { type: 'upsert-tenant', idempotencyKey: 't-alpha-1' }] });
  });

  it('a YAML or JSON list is a list; a JSON object is one job', () => {
    expect(parseJobFile('- type: resync\n- type: resync\n', 'l.yaml')).toMatchObject({ list: true, jobs: [{ type: 'resync' }, { type: 'resync' }] });
    expect(parseJobFile('[{"type":"resync"}]', 'l.json')).toMatchObject({ list: true, jobs: [{ type: 'resync' }] });
    expect(parseJobFile(' {"type":"resync"}\n', 'o.json')).toMatchObject({ list: false, jobs: [{ type: 'resync' }] });
    expect(parseJobFile('{type: resync}', 'flow.yaml')).toMatchObject({ list: false, jobs: [{ type: 'resync' }] }); // YAML flow style
  });

  it.each([
    ['', /e\.yaml: holds no job/],
    ['# nothing\n---\n', /e\.yaml: holds no job/],
    ['[]', /e\.yaml: holds no job/],
    ['type: resync\n  bad: indent\n', /^e\.yaml:1:7: not valid YAML or JSON: Nested mappings/],
    ['{"type": "resync"', /^e\.yaml:1:\d+: not valid YAML or JSON/],
    ['type: a\ntype: b\n', /^e\.yaml:\d+:\d+: not valid YAML or JSON: Map keys must be unique/],
  ])('%j is not a job file', (text, msg) => {
    expect(() => parseJobFile(text, 'e.yaml')).toThrow(JobFileError);
    expect(() => parseJobFile(text, 'e.yaml')).toThrow(msg);
  });

  it('fieldPath', () => {
    expect(fieldPath('tenant.routes[3].sids[0]')).toEqual(['tenant', 'routes', 3, 'sids', 0]);
    expect(fieldPath('add[12].prefix')).toEqual(['add', 12, 'prefix']);
    expect(fieldPath('(job)')).toEqual([]);
  });
});

describe('validation problems, located in the file', () => {
  it('field errors of every job, with the line of the offending value', () => {
    const text = `${NODE_YAML}---
type: routes
tenant: alpha
add:
  - prefix: 10.1.0.0/24
    sids: ["fc00:0:2:1::"]
  - prefix: 10.0.0.300/24
    sids: []
bogus: 1
`;
    const f = parseJobFile(text, 'dc.yaml');
    const { problems } = validateJobFile(f);
    expect(problems.map((p) => [p.job, p.field, p.line])).toEqual([
      [1, 'bogus', 16],
      [1, 'add[1].prefix', 14],
      [1, 'add[1].sids', 15],
    ]);
    expect(formatProblems(f, problems)).toEqual([
      'dc.yaml:16: job 2 (routes): bogus: property bogus should not exist',
      'dc.yaml:14: job 2 (routes): add[1].prefix: must be an IP prefix (address/length, host bits zero)',
      'dc.yaml:15: job 2 (routes): add[1].sids: must contain at least 1 elements',
    ]);
  });

  it('a missing field points at the object that lacks it; one job is not numbered', () => {
    const f = parseJobFile('\n\ntype: upsert-tenant\ntenant:\n  id: alpha\n  routes: []\n', 't.yaml');
    const lines = formatProblems(f, validateJobFile(f).problems);
    expect(lines).toEqual([
      't.yaml:5: tenant.behaviour: is required (one of the following values: End.DT4, End.DT6, End.DT46, End.DX4, End.DX6)',
      't.yaml:5: tenant.interfaces: is required',
    ]);
    expect(lines.every((l) => !l.includes('job 1'))).toBe(true);
  });

  it('a wrong or missing type, and a job that is not an object', () => {
    const f = parseJobFile('- type: upsert-everything\n- 42\n- {}\n', 'l.yaml');
    expect(formatProblems(f, validateJobFile(f).problems)).toEqual([
      'l.yaml:1: job 1: type: must be one of upsert-node, upsert-tenant, delete-tenant, routes, resync',
      'l.yaml:2: job 2: (job): a job must be a JSON object',
      'l.yaml:3: job 3: type: is required (one of upsert-node, upsert-tenant, delete-tenant, routes, resync)',
    ]);
  });

  it('JSON is located too (parsed again only when a line is wanted)', () => {
    const json = JSON.stringify({ type: 'delete-tenant', tenant: 'NOT OK' }, null, 2);
    const f = parseJobFile(json, 'd.json');
    expect(formatProblems(f, validateJobFile(f).problems)).toEqual([
      'd.json:3: tenant: must be a tenant id (1..11 characters of a-z, 0-9, "_" or "-", not "constructor")',
    ]);
    expect(f.hints()).toEqual([]);
  });

  it('an unquoted YAML address ending in "::" gets a hint with its line', () => {
    const text = 'type: routes\ntenant: alpha\nadd:\n  - prefix: 10.1.0.0/24\n    sids:\n      - fc00:0:2:1::\n';
    const f = parseJobFile(text, 'r.yaml');
    const { problems } = validateJobFile(f);
    expect(problems).not.toEqual([]);
    expect(f.hints()).toEqual([
      'r.yaml:6: fc00:0:2:1:: was read as a mapping key because YAML ends a plain value at ":" + space or end of line; quote addresses that end in "::", e.g. "fc00:0:2:1::"',
    ]);
  });

  it('an oversized job is refused before its fields are checked', () => {
    const f = parseJobFile(
      JSON.stringify({ type: 'routes', tenant: 'alpha', add: [{ prefix: '10.0.0.0/24', sids: ['fc00::1'], pad: 'x'.repeat(17 * 1024 * 1024) }] }),
      'big.json',
    );
    const { problems } = validateJobFile(f);
    expect(problems).toEqual([
      expect.objectContaining({ field: '(job)', messages: [expect.stringMatching(/^the job is \d+ bytes of JSON, at most 16777216: split it/)] }),
    ]);
  });
});
