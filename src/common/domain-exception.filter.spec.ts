import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentsHost } from '@nestjs/common';

import { BpfError } from '../bpf/errors';
import type { OpFailure } from '../dataplane/applier';
import type { JobResult } from '../dataplane/dataplane';
import {
  DataplaneNotStartedError,
  ForeignObjectError,
  MissingInterfaceError,
  StateCorruptError,
  StateMissingError,
  StateWriteError,
  UnknownTenantError,
} from '../dataplane/errors';
import { KernelApplyError } from '../jobs/job-runner';
import { QueueStoreError } from '../jobs/job-queue';
import { JobValidationError } from '../jobs/job-validation';
import { InvalidArgumentError, KernelError, NetlinkSocketError } from '../netlink/errors';
import { TooManyProbesError } from '../trace/backend';
import { ManagedNetnsUnavailableError } from '../trace/managed-netns';
import { NameFilterError } from '../trace/name-filter';
import { TraceBusyError, TraceNotFoundError, TraceRequestError } from '../trace/trace.service';
import { TraceAbortedError } from '../trace/tracer';
import { DomainError, Retry, retryOf } from './domain-error';
import { DomainExceptionFilter, mapDomainError } from './domain-exception.filter';
import { CapabilityMissingError } from './errors';

function host() {
  const sent: { status?: number; body?: unknown } = {};
  const res = {
    status(code: number) {
      sent.status = code;
      return { json: (body: unknown) => (sent.body = body) };
    },
  };
  const h = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  return { h, sent };
}

const kernelError = () => new KernelError(22, { type: 24, flags: 0x601, seq: 7, what: 'route fc00::1/128 table 100' }, 'Invalid argument for vrftable');

describe('mapDomainError', () => {
  it('KernelError → 502 with errno, code, extack and what', () => {
    expect(mapDomainError(kernelError())).toEqual({
      status: 502,
      body: {
        statusCode: 502,
        error: 'KernelError',
        message: 'route fc00::1/128 table 100: EINVAL (Invalid argument for vrftable)',
        errno: 22,
        code: 'EINVAL',
        extack: 'Invalid argument for vrftable',
        what: 'route fc00::1/128 table 100',
      },
    });
  });

  it('KernelError without extack → extack null', () => {
    const e = new KernelError(17, { type: 24, flags: 0, seq: 1, what: 'nexthop 5' });
    expect(mapDomainError(e)?.body).toMatchObject({ errno: 17, code: 'EEXIST', extack: null, what: 'nexthop 5' });
  });

  it('InvalidArgumentError → 400 with field and message', () => {
    expect(mapDomainError(new InvalidArgumentError('encap.nh4', 'not an IPv4 address'))).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'InvalidArgument', field: 'encap.nh4', message: 'encap.nh4: not an IPv4 address' },
    });
  });

  it('CapabilityMissingError → 501 with feature and alternative', () => {
    const e = new CapabilityMissingError('seg6local.End.DT4', 'End.DX4 per VM, or XDP decap in table mode', 'needs VRF');
    expect(mapDomainError(e)).toEqual({
      status: 501,
      body: {
        statusCode: 501,
        error: 'CapabilityMissing',
        message: e.message,
        feature: 'seg6local.End.DT4',
        features: ['seg6local.End.DT4'],
        alternative: 'End.DX4 per VM, or XDP decap in table mode',
        reason: 'needs VRF',
      },
    });
    expect(mapDomainError(new CapabilityMissingError('vrf'))?.body).toMatchObject({ feature: 'vrf', alternative: null, reason: null });
  });

  it('BpfError → 502 with errno, code and op', () => {
    expect(mapDomainError(new BpfError('attach failed', 'bpf_link_create', 19, 'ENODEV'))?.body).toMatchObject({
      errno: 19,
      code: 'ENODEV',
      op: 'bpf_link_create',
    });
  });

  it('leaves anything else to Nest', () => {
    expect(mapDomainError(new Error('bug'))).toBeUndefined();
    expect(mapDomainError('string')).toBeUndefined();
  });
});

describe('DomainExceptionFilter', () => {
  it('writes the mapped status and body to the response', () => {
    const { h, sent } = host();
    new DomainExceptionFilter().catch(new InvalidArgumentError('table', 'must be 1..4294967295'), h);
    expect(sent).toEqual({ status: 400, body: expect.objectContaining({ field: 'table' }) });
  });

  it.each([
    [new JobValidationError([{ field: 'tenant.id', messages: ['bad'] }]), 400, { errors: [{ field: 'tenant.id', messages: ['bad'] }] }],
    [new UnknownTenantError('x'), 404, { tenant: 'x' }],
    [new MissingInterfaceError('eth9'), 409, { error: 'MissingInterfaceError' }],
    [new ForeignObjectError('taken'), 409, { error: 'ForeignObjectError' }],
  ])('maps %s', (err, status, body) => {
    const m = mapDomainError(err)!;
    expect(m.status).toBe(status);
    expect(m.body).toMatchObject({ statusCode: status, ...body });
  });

  it('catches every domain error by their base class: a new error needs no edit here', () => {
    const caught = Reflect.getMetadata('__filterCatchExceptions__', DomainExceptionFilter);
    expect(caught).toEqual([DomainError]);
  });
});

// Every DomainError subclass: its retry class, its answer (what GET/POST answer over HTTP).
// A new error class fails the first test until it has a row here.
const rejected = (code: string, errno: number): OpFailure => ({
  kind: 'route',
  action: 'create',
  what: 'route 10.0.0.0/24 table 100',
  errno,
  code,
  message: code,
});
const result = (failed: OpFailure[], rolledBack?: JobResult['rolledBack']): JobResult => ({
  created: {},
  updated: {},
  deleted: {},
  failed,
  operations: 1,
  durationMs: 1,
  version: 4,
  ...(rolledBack ? { rolledBack } : {}),
});
const io = (code: string, errno: number) => Object.assign(new Error(`${code}: i/o error, write`), { code, errno });

const EVERY: Array<[DomainError, Retry, number, Record<string, unknown>]> = [
  [
    kernelError(),
    'permanent',
    502,
    { error: 'KernelError', errno: 22, code: 'EINVAL', extack: 'Invalid argument for vrftable', what: 'route fc00::1/128 table 100' },
  ],
  [
    new KernelError(16, { type: 24, flags: 0, seq: 1, what: 'nexthop 5' }),
    'transient',
    502,
    { error: 'KernelError', errno: 16, code: 'EBUSY', extack: null, what: 'nexthop 5' },
  ],
  [new InvalidArgumentError('sid', 'outside the locator'), 'permanent', 400, { error: 'InvalidArgument', field: 'sid' }],
  [new NetlinkSocketError('recvmsg: ENOBUFS', 105), 'transient', 503, { error: 'NetlinkSocketError', errno: 105 }],
  [new BpfError('attach failed', 'bpf_link_create', 19, 'ENODEV'), 'permanent', 502, { error: 'BpfError', errno: 19, code: 'ENODEV', op: 'bpf_link_create' }],
  [
    new BpfError('map update', 'bpf_map_update_elem', 12, 'ENOMEM'),
    'transient',
    502,
    { error: 'BpfError', errno: 12, code: 'ENOMEM', op: 'bpf_map_update_elem' },
  ],
  [
    new CapabilityMissingError(['vrf', 'seg6local.End.DT4'], 'table mode'),
    'permanent',
    501,
    { error: 'CapabilityMissing', feature: 'vrf', features: ['vrf', 'seg6local.End.DT4'], alternative: 'table mode', reason: null },
  ],
  [
    new JobValidationError([{ field: 'tenant.id', messages: ['bad'] }]),
    'permanent',
    400,
    { error: 'InvalidJob', errors: [{ field: 'tenant.id', messages: ['bad'] }] },
  ],
  [
    new KernelApplyError([rejected('EINVAL', 22)], result([rejected('EINVAL', 22)])),
    'permanent',
    502,
    { error: 'KernelApplyError', failures: [rejected('EINVAL', 22)], rolledBack: null },
  ],
  [
    new KernelApplyError([rejected('EBUSY', 16)], result([rejected('EBUSY', 16)], { operations: 3, failed: [] })),
    'transient',
    502,
    { error: 'KernelApplyError', failures: [rejected('EBUSY', 16)], rolledBack: { operations: 3, failed: [], version: 4 } },
  ],
  [
    new QueueStoreError('idempotency get', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    'transient',
    503,
    { error: 'QueueStoreError', code: 'ECONNREFUSED' },
  ],
  [new MissingInterfaceError('eth9'), 'permanent', 409, { error: 'MissingInterfaceError', ifname: 'eth9' }],
  [new ForeignObjectError('taken'), 'permanent', 409, { error: 'ForeignObjectError' }],
  [new UnknownTenantError('x'), 'permanent', 404, { error: 'UnknownTenant', tenant: 'x' }],
  [new StateMissingError('/var/lib/srv6', 196, { rules: 2 }), 'permanent', 503, { error: 'StateMissingError', dir: '/var/lib/srv6' }],
  [new StateCorruptError('/var/lib/srv6', 'checksum mismatch'), 'permanent', 503, { error: 'StateCorruptError', path: '/var/lib/srv6' }],
  [new StateWriteError('/var/lib/srv6', io('ENOSPC', -28)), 'transient', 503, { error: 'StateWriteError', code: 'ENOSPC', errno: -28 }],
  [new DataplaneNotStartedError(new StateMissingError('/var/lib/srv6', 196, { rules: 2 })), 'transient', 503, { error: 'DataplaneNotStarted' }],
  [new TraceBusyError('a1'), 'transient', 409, { error: 'TraceBusy', running: 'a1' }],
  [new TraceNotFoundError('nope'), 'permanent', 404, { error: 'TraceNotFound', id: 'nope' }],
  [
    new TraceRequestError([{ field: 'mark', messages: ['bad'] }]),
    'permanent',
    400,
    { error: 'InvalidTraceRequest', errors: [{ field: 'mark', messages: ['bad'] }] },
  ],
  [new TooManyProbesError('fentry', 4620, 4096, 2310), 'permanent', 400, { error: 'TooManyProbes', backend: 'fentry', probes: 4620, maxProbes: 4096 }],
  [new ManagedNetnsUnavailableError('hv1', 'ENOENT'), 'transient', 503, { error: 'ManagedNetnsUnavailable', netns: 'hv1' }],
  [
    new NameFilterError('(a)\\1', 3, 'backreferences are not supported'),
    'permanent',
    400,
    { error: 'InvalidTraceRequest', errors: [{ field: 'regex', messages: [expect.stringMatching(/^backreferences/)] }] },
  ],
  [new TraceAbortedError(), 'transient', 503, { error: 'TraceAborted' }],
];

describe('every DomainError subclass', () => {
  it('has a row here (classes found in src/)', () => {
    const declared = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (/(?<!\.spec|\.kernel)\.ts$/.test(e.name))
          for (const m of readFileSync(path, 'utf8').matchAll(/^export class (\w+) extends (?:DomainError|TraceError)\b/gm)) declared.add(m[1]);
      }
    };
    walk(join(__dirname, '..'));
    expect([...new Set(EVERY.map(([e]) => e.constructor.name))].sort()).toEqual([...declared].sort());
  });

  it.each(EVERY.map(([e, retry, status, body]) => [e.name, e, retry, status, body] as const))(
    '%s: retry, status and body by its own declaration',
    (_name, e, retry, status, body) => {
      expect(retryOf(e)).toBe(retry);
      expect(mapDomainError(e)).toEqual({ status, body: { statusCode: status, message: e.message, ...body } });
    },
  );
});
