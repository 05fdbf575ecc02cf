import { JobValidationError } from '../jobs/job-validation';
import { UnknownTenantError } from '../dataplane/state-transitions';
import { ForeignObjectError, MissingInterfaceError } from '../dataplane/planner';
import { ArgumentsHost } from '@nestjs/common';

import { BpfError } from '../bpf/errors';
import { InvalidArgumentError, KernelError } from '../netlink/errors';
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
    expect(mapDomainError(new BpfError('attach failed', 'bpf_link_create', 19, 'ENODEV'))?.body).toMatchObject({ errno: 19, code: 'ENODEV', op: 'bpf_link_create' });
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

  it('catches exactly the domain error classes', () => {
    const caught = Reflect.getMetadata('__filterCatchExceptions__', DomainExceptionFilter);
    expect(caught).toEqual([KernelError, InvalidArgumentError, CapabilityMissingError, BpfError, JobValidationError, UnknownTenantError, MissingInterfaceError, ForeignObjectError]);
  });
});
