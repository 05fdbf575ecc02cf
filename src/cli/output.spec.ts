import type { JobView } from '../jobs/job-queue';
import { describeFailure, describeOpFailure, formatJob, formatJobsTable, formatState, formatTenant, formatTime, summarizeResult, table } from './output';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

describe('job results', () => {
  it('summarizeResult names what changed, how much work and the state version', () => {
    expect(
      summarizeResult({ created: { vrf: 1, route: 3, link: 0 }, updated: { link: 1 }, deleted: {}, failed: [], operations: 12, durationMs: 4.4, version: 7 }),
    ).toBe('created vrf 1, route 3; updated link 1; 12 kernel operations in 4 ms; state v7');
    expect(summarizeResult({ created: {}, updated: {}, deleted: {}, operations: 0, version: 7, duplicate: true })).toBe(
      'no changes; 0 kernel operations; state v7; duplicate: nothing applied again',
    );
    expect(summarizeResult(undefined)).toBe('');
  });

  it("a failed kernel operation shows errno and the kernel's extended ack", () => {
    expect(
      describeOpFailure({
        kind: 'route',
        action: 'create',
        what: 'route 10.1.0.0/24 table 10000',
        errno: 22,
        code: 'EINVAL',
        extack: 'Invalid nexthop id',
        message: 'EINVAL',
      }),
    ).toBe('route 10.1.0.0/24 table 10000: EINVAL (errno 22): kernel says: Invalid nexthop id');
    expect(describeOpFailure({ kind: 'link', action: 'update', message: 'tenant interface tx9 does not exist on this hypervisor' })).toBe(
      'update link: tenant interface tx9 does not exist on this hypervisor',
    );
  });

  it('describeFailure: every field error and kernel failure, and what to do', () => {
    expect(
      describeFailure({
        name: 'KernelApplyError',
        message: '2 kernel operation(s) failed; first: ...',
        retry: 'permanent',
        failures: [
          { kind: 'route', action: 'create', what: 'route 10.1.0.0/24 table 10000', errno: 22, code: 'EINVAL', extack: 'Invalid nexthop id', message: 'x' },
          { kind: 'route', action: 'create', what: 'route 10.2.0.0/24 table 10000', errno: 17, code: 'EEXIST', message: 'EEXIST' },
        ],
      }),
    ).toEqual([
      'KernelApplyError: 2 kernel operation(s) failed; first: ...',
      '  route 10.1.0.0/24 table 10000: EINVAL (errno 22): kernel says: Invalid nexthop id',
      '  route 10.2.0.0/24 table 10000: EEXIST (errno 17)',
    ]);
    expect(
      describeFailure({ name: 'JobValidationError', message: 'invalid job', retry: 'permanent', errors: [{ field: 'tenant.id', messages: ['bad id'] }] }),
    ).toEqual(['JobValidationError: invalid job', '  tenant.id: bad id']);
    expect(
      describeFailure({
        name: 'CapabilityMissingError',
        message: 'kernel feature vrf is not available',
        retry: 'permanent',
        feature: 'vrf',
        alternative: 'table mode',
      }),
    ).toEqual([
      'CapabilityMissingError: kernel feature vrf is not available',
      "  `srv6-agent capabilities --url URL` shows what this host's kernel supports and the mode the agent runs in",
    ]);
    expect(describeFailure({ name: 'KernelError', message: 'route add: EBUSY', retry: 'transient', code: 'EBUSY', errno: 16 })).toEqual([
      'KernelError: route add: EBUSY',
      '  EBUSY (errno 16)',
      '  a transient error: the agent retried it with backoff; submitting the job again usually works',
    ]);
    const many = Array.from({ length: 25 }, (_, i) => ({ what: `route ${i}`, code: 'EINVAL', errno: 22 }));
    const lines = describeFailure({ name: 'KernelApplyError', message: 'm', retry: 'permanent', failures: many });
    expect(lines).toHaveLength(1 + 20 + 1);
    expect(lines[21]).toBe('  ... and 5 more failed operations (srv6-agent jobs ID --json shows all)');
  });
});

describe('tables', () => {
  it('table pads every column but the last', () => {
    expect(
      table(
        ['A', 'LONGER'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('A    LONGER\nxxx  y\nz\n');
  });

  it('formatTime: UTC to the second', () => {
    expect(formatTime(T0)).toBe('2025-01-02 03:04:05Z');
    expect(formatTime(undefined)).toBe('-');
  });

  const jobs: JobView[] = [
    {
      id: '3',
      type: 'routes',
      state: 'failed',
      submittedAt: T0 + 2000,
      finishedAt: T0 + 2100,
      failure: { name: 'KernelApplyError', message: '1 kernel operation(s) failed', retry: 'permanent' },
    },
    {
      id: 'o-7',
      type: 'upsert-tenant',
      state: 'completed',
      submittedAt: T0 + 1000,
      finishedAt: T0 + 1035,
      result: { created: { vrf: 1 }, operations: 9, durationMs: 30, version: 2 },
      idempotencyKey: 'o-7',
    },
    { id: '1', type: 'upsert-node', state: 'waiting', submittedAt: T0 },
  ];

  it('formatJobsTable', () => {
    expect(formatJobsTable(jobs)).toBe(
      [
        'ID   TYPE           STATE      SUBMITTED             TOOK    OUTCOME',
        '3    routes         failed     2025-01-02 03:04:07Z  100 ms  1 kernel operation(s) failed',
        'o-7  upsert-tenant  completed  2025-01-02 03:04:06Z  35 ms   created vrf 1; 9 kernel operations in 30 ms; state v2',
        '1    upsert-node    waiting    2025-01-02 03:04:05Z  -',
        '',
      ].join('\n'),
    );
    expect(formatJobsTable([])).toBe('no jobs\n');
  });

  it('formatJob', () => {
    expect(formatJob(jobs[1]!, true)).toBe(
      [
        "job o-7: upsert-tenant, completed (duplicate idempotency key: this is the first submission's job)",
        '  idempotency key  o-7',
        '  submitted        2025-01-02 03:04:06Z',
        '  finished         2025-01-02 03:04:06Z (35 ms after submission)',
        '  result           created vrf 1; 9 kernel operations in 30 ms; state v2',
        '',
      ].join('\n'),
    );
    expect(formatJob(jobs[0]!)).toContain('\n  KernelApplyError: 1 kernel operation(s) failed\n');
  });
});

describe('state', () => {
  it('formatState: node, owned objects, one line per tenant', () => {
    const text = formatState({
      hypervisor: 'hv1',
      mode: 'table',
      version: 4,
      node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 },
      owned: { vrf: 0, route: 3, nexthop: 1 },
      driftRepairs: 1,
      tenants: [
        { id: 'alpha', table: 10000, sid: 'fc00:0:1:1::', behaviour: 'End.DT6', interfaces: ['ta0'], routes: 1, decap: { packets: 5, bytes: 500, errors: 0 } },
      ],
    });
    expect(text).toBe(
      [
        'hypervisor hv1, table mode, desired state v4, 1 drift repair',
        'node: underlay ul0, locator fc00:0:1::/48, encap source fc00:0:1::1, underlay MTU 1500',
        'owned kernel objects: route 3, nexthop 1',
        '',
        'TENANT  TABLE  SID           BEHAVIOUR  INTERFACES  ROUTES  DECAP PKTS  BYTES  ERRORS',
        'alpha   10000  fc00:0:1:1::  End.DT6    ta0         1       5           500    0',
        '',
      ].join('\n'),
    );
    const degraded = formatState({
      hypervisor: 'hv1',
      mode: 'table',
      version: 4,
      node: null,
      owned: {},
      driftRepairs: 0,
      tenants: [
        {
          id: 'alpha',
          table: 10000,
          sid: 'fc00:0:1:1::',
          behaviour: 'End.DT6',
          interfaces: ['ta0', 'ta1'],
          missingInterfaces: ['ta1'],
          routes: 1,
          decap: null,
        },
      ],
    });
    expect(degraded).toContain('alpha   10000  fc00:0:1:1::  End.DT6    ta0,ta1(MISSING)');
    expect(degraded.endsWith('\nmissing interfaces (degraded, configured when they appear): alpha/ta1\n')).toBe(true);
    expect(formatState({ hypervisor: 'hv1', mode: 'vrf', version: 0, node: null, owned: {}, driftRepairs: 0, tenants: [] })).toBe(
      'hypervisor hv1, vrf mode, desired state v0, 0 drift repairs\nnode: not configured yet (submit an upsert-node job)\nowned kernel objects: none\ntenants: none\n',
    );
  });

  it('formatTenant: desired next to observed, missing interfaces called out, long route lists cut', () => {
    const routes = Object.fromEntries(
      Array.from({ length: 3 }, (_, i) => [`10.${i}.0.0/24`, { prefix: `10.${i}.0.0/24`, sids: ['fc00:0:2:1::'], mode: 'encap' }]),
    );
    const text = formatTenant(
      {
        desired: {
          id: 'alpha',
          table: 10000,
          behaviour: 'End.DT6',
          sid: 'fc00:0:1:1::',
          interfaces: [
            { name: 'ta0', gateways: ['10.0.0.1/24'] },
            { name: 'ta9', gateways: [] },
          ],
          routes,
          xdpOffload: false,
        },
        observed: {
          routesInTable: 4,
          interfaces: [
            { name: 'ta0', up: true, mtu: 1436, master: null },
            { name: 'ta9', missing: true },
          ],
          decap: null,
        },
      },
      2,
    );
    expect(text).toBe(
      [
        'tenant alpha: table 10000, End.DT6 on SID fc00:0:1:1::, XDP offload off',
        'interfaces:',
        '  ta0: up, mtu 1436; gateways 10.0.0.1/24',
        '  ta9: MISSING in the kernel; gateways -',
        'remote routes: 3 desired, 4 owned routes in table 10000',
        '  10.0.0.0/24 via fc00:0:2:1:: (encap)',
        '  10.1.0.0/24 via fc00:0:2:1:: (encap)',
        '  ... and 1 more (--json shows all)',
        'decap counters: none (the SID route is missing or has no counters)',
        '',
      ].join('\n'),
    );
  });
});
