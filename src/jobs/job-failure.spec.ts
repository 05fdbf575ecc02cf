// A job's failure across Bull: what the agent encodes, what readers decode (fields as clients and
// the CLI have always seen them).
import { CapabilityMissingError } from '../common/errors';
import type { OpFailure } from '../dataplane/applier';
import { MissingInterfaceError, StateWriteError, UnknownTenantError } from '../dataplane/errors';
import { InvalidArgumentError, KernelError, NetlinkSocketError } from '../netlink/errors';
import { decodeFailure, encodeFailure, failedJob, failureOf } from './job-failure';
import { compactFailure } from './job-queue';
import { KernelApplyError } from './job-runner';
import { JobValidationError } from './job-validation';

const op = (code: string, errno: number): OpFailure => ({ kind: 'route', action: 'create', what: 'route 10.0.0.0/24 table 100', errno, code, message: code });

describe('failureOf', () => {
  it.each<[string, unknown, object]>([
    [
      'KernelError: errno, code, extack and the object',
      new KernelError(22, { type: 24, flags: 0, seq: 1, what: 'route x' }, 'bad prefix'),
      { name: 'KernelError', message: 'route x: EINVAL (bad prefix)', retry: 'permanent', errno: 22, code: 'EINVAL', extack: 'bad prefix', what: 'route x' },
    ],
    [
      'KernelError without extack: none',
      new KernelError(16, { type: 24, flags: 0, seq: 1, what: 'route x' }),
      { name: 'KernelError', message: 'route x: EBUSY', retry: 'transient', errno: 16, code: 'EBUSY', what: 'route x' },
    ],
    [
      'InvalidArgumentError: the field',
      new InvalidArgumentError('sid', 'outside'),
      { name: 'InvalidArgumentError', message: 'sid: outside', retry: 'permanent', field: 'sid' },
    ],
    [
      'CapabilityMissingError: feature(s), no alternative or reason when unknown',
      new CapabilityMissingError('vrf'),
      { name: 'CapabilityMissingError', message: 'kernel feature vrf is not available', retry: 'permanent', feature: 'vrf', features: ['vrf'] },
    ],
    [
      'JobValidationError: the field errors',
      new JobValidationError([{ field: 'type', messages: ['unknown'] }]),
      { name: 'JobValidationError', message: 'invalid job: type: unknown', retry: 'permanent', errors: [{ field: 'type', messages: ['unknown'] }] },
    ],
    [
      'MissingInterfaceError: the interface',
      new MissingInterfaceError('tap9'),
      { name: 'MissingInterfaceError', message: 'tenant interface tap9 does not exist on this hypervisor', retry: 'permanent', ifname: 'tap9' },
    ],
    [
      'UnknownTenantError: the tenant',
      new UnknownTenantError('alpha'),
      { name: 'UnknownTenantError', message: 'unknown tenant alpha', retry: 'permanent', tenant: 'alpha' },
    ],
    [
      'NetlinkSocketError: the errno',
      new NetlinkSocketError('recvmsg: ENOBUFS', 105),
      { name: 'NetlinkSocketError', message: 'recvmsg: ENOBUFS', retry: 'transient', errno: 105 },
    ],
    [
      'StateWriteError: the system error code',
      new StateWriteError('/s', Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 })),
      { name: 'StateWriteError', message: 'desired state in /s could not be saved: EIO: i/o error, write', retry: 'transient', code: 'EIO', errno: -5 },
    ],
    [
      'an unknown error: name and message, permanent, no fields of its own',
      Object.assign(new Error('x'), { code: 'EX', tenant: 't' }),
      { name: 'Error', message: 'x', retry: 'permanent' },
    ],
  ])('%s', (_what, e, want) => {
    expect(failureOf(e)).toEqual(want);
  });

  it('KernelApplyError: every failure, and the undo with the version it went back to', () => {
    const failed = [op('EBUSY', 16)];
    const e = new KernelApplyError(failed, {
      created: {},
      updated: {},
      deleted: {},
      failed,
      operations: 1,
      durationMs: 1,
      version: 4,
      rolledBack: { operations: 2, failed: [] },
    });
    expect(failureOf(e)).toEqual({
      name: 'KernelApplyError',
      message: e.message,
      retry: 'transient',
      failures: failed,
      rolledBack: { operations: 2, failed: [], version: 4 },
    });
    expect(Object.keys(failureOf(e)).slice(0, 3)).toEqual(['name', 'message', 'retry']); // readers that cut the JSON keep these
  });
});

describe('encodeFailure / decodeFailure', () => {
  it('round trip: what the agent encodes is what readers get', () => {
    for (const e of [
      new KernelError(22, { type: 24, flags: 0, seq: 1, what: 'route x' }, 'bad'),
      new CapabilityMissingError(['a', 'b'], 'c', 'd'),
      new JobValidationError([{ field: 'f', messages: ['m'] }]),
      new Error('bug'),
    ])
      expect(decodeFailure(encodeFailure(e))).toEqual(failureOf(e));
  });

  it('what a handler throws: an Error whose message is the encoded failure (Bull keeps the message)', () => {
    const e = new UnknownTenantError('beta');
    const thrown = failedJob(e);
    expect([thrown.name, thrown.message]).toEqual(['Error', encodeFailure(e)]);
  });

  it("Bull's own reasons and old plain-text failures: the job is owed (transient)", () => {
    expect(decodeFailure('job stalled more than allowable limit')).toEqual({
      name: 'Error',
      message: 'job stalled more than allowable limit',
      retry: 'transient',
    });
    expect(decodeFailure(undefined)).toEqual({ name: 'Error', message: 'unknown failure', retry: 'transient' });
    expect(decodeFailure('{"not":"a failure"}')).toEqual({ name: 'Error', message: '{"not":"a failure"}', retry: 'transient' });
    expect(decodeFailure('{"message":"m"}')).toEqual({ name: 'Error', message: 'm', retry: 'transient' });
  });

  it('a compacted failure still decodes', () => {
    const failed = Array.from({ length: 3000 }, () => op('EINVAL', 22));
    const e = new KernelApplyError(failed, { created: {}, updated: {}, deleted: {}, failed, operations: 1, durationMs: 1, version: 4 });
    expect(decodeFailure(compactFailure(encodeFailure(e)))).toMatchObject({ name: 'KernelApplyError', retry: 'permanent', failuresOmitted: 2980 });
  });
});
