import { JobValidationError, validateJob } from './job-validation';

const resync = (idempotencyKey: unknown) => ({ type: 'resync', idempotencyKey });
const fieldsOf = (raw: object) => {
  try {
    validateJob(raw);
    return [];
  } catch (e) {
    if (!(e instanceof JobValidationError)) throw e;
    return e.errors.map((x) => x.field);
  }
};

describe('idempotencyKey', () => {
  it('is refused when digits only: the queue numbers its own jobs with those ids', () => {
    for (const k of ['1', '42', '0007']) expect(fieldsOf(resync(k))).toEqual(['idempotencyKey']);
  });

  it('is accepted with any other character of the set, digits included', () => {
    for (const k of ['a', 'job-1', '1.5', '2026-12-07:1', 'x'.repeat(128)]) expect(fieldsOf(resync(k))).toEqual([]);
  });

  it('is refused empty, too long or with other characters', () => {
    for (const k of ['', 'x'.repeat(129), 'bad key', 'é']) expect(fieldsOf(resync(k))).toEqual(['idempotencyKey']);
  });
});

describe('names the desired state is keyed by', () => {
  const tenant = (id: string, itf = 'ta0') => ({ type: 'upsert-tenant', tenant: { id, behaviour: 'End.DT6', interfaces: [{ name: itf, gateways: [] }], routes: [] } });
  it('a tenant id or an interface name that every JavaScript object has is refused, naming the field', () => {
    expect(fieldsOf(tenant('constructor'))).toEqual(['tenant.id']);
    expect(fieldsOf({ type: 'delete-tenant', tenant: 'constructor' })).toEqual(['tenant']);
    expect(fieldsOf({ type: 'routes', tenant: 'constructor', add: [] })).toEqual(['tenant']);
    for (const itf of ['__proto__', 'toString', 'constructor', 'hasOwnProperty']) expect(fieldsOf(tenant('alpha', itf))).toEqual(['tenant.interfaces[0].name']);
    expect(fieldsOf({ type: 'upsert-node', node: { underlay: ['valueOf'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 } })).toEqual(['node.underlay']);
  });

  it('names that merely contain them are fine', () => {
    expect(fieldsOf(tenant('constructo'))).toEqual([]);
    expect(fieldsOf(tenant('alpha', 'proto0'))).toEqual([]);
  });
});
