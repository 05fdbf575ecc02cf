import { JobValidationError, refusedFields, validateJob } from './job-validation';

const resync = (idempotencyKey: unknown) => ({ type: 'resync', idempotencyKey });
const fieldsOf = refusedFields;

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
  const tenant = (id: string, itf = 'ta0') => ({
    type: 'upsert-tenant',
    tenant: { id, behaviour: 'End.DT6', interfaces: [{ name: itf, gateways: [] }], routes: [] },
  });
  it('a tenant id or an interface name that every JavaScript object has is refused, naming the field', () => {
    expect(fieldsOf(tenant('constructor'))).toEqual(['tenant.id']);
    expect(fieldsOf({ type: 'delete-tenant', tenant: 'constructor' })).toEqual(['tenant']);
    expect(fieldsOf({ type: 'routes', tenant: 'constructor', add: [] })).toEqual(['tenant']);
    for (const itf of ['__proto__', 'toString', 'constructor', 'hasOwnProperty']) expect(fieldsOf(tenant('alpha', itf))).toEqual(['tenant.interfaces[0].name']);
    expect(fieldsOf({ type: 'upsert-node', node: { underlay: ['valueOf'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 } })).toEqual(
      ['node.underlay'],
    );
  });

  it('names that merely contain them are fine', () => {
    expect(fieldsOf(tenant('constructo'))).toEqual([]);
    expect(fieldsOf(tenant('alpha', 'proto0'))).toEqual([]);
  });
});

// Defects the bad-input corpus (src/testing/bad-jobs.ts, src/jobs/bad-input.kernel.ts) found: each
// of these jobs was accepted, and the agent then failed with a TypeError (retried as transient),
// applied it, or changed the kernel before refusing it.
describe('issue 15: jobs the bad-input corpus found accepted', () => {
  const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
  const tenant = {
    id: 'gamma',
    behaviour: 'End.DT6',
    interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24'] }],
    routes: [{ prefix: '10.3.0.0/24', sids: ['fc00:0:3:1::'] }],
  };
  const delta = {
    id: 'delta',
    behaviour: 'End.DX4',
    dx: { nexthop: '10.0.3.2', interface: 'td0' },
    interfaces: [{ name: 'td0', gateways: ['10.0.3.1/24'] }],
    routes: [],
  };
  const route = { prefix: '10.5.0.0/24', sids: ['fc00:0:2:1::'] };
  const upsertNode = (o: object) => ({ type: 'upsert-node', node: { ...node, ...o } });
  const upsertTenant = (o: object, base: object = tenant) => ({ type: 'upsert-tenant', tenant: { ...base, ...o } });
  const messages = (raw: object) => {
    try {
      validateJob(raw);
      return [];
    } catch (e) {
      return (e as JobValidationError).errors.flatMap((x) => x.messages);
    }
  };

  it('the valid jobs these are made from pass', () => {
    for (const job of [upsertNode({}), upsertTenant({}), upsertTenant({}, delta), { type: 'routes', tenant: 'alpha', add: [route], set: [route] }])
      expect(fieldsOf(job)).toEqual([]);
  });

  it('a list where one object belongs (or where each element is one) is refused, naming the field', () => {
    expect(fieldsOf({ type: 'upsert-node', node: [] })).toEqual(['node']); // was: TypeError "dto.underlay is not iterable", retried
    expect(fieldsOf({ type: 'upsert-node', node: [node] })).toEqual(['node']);
    expect(fieldsOf({ type: 'upsert-tenant', tenant: [] })).toEqual(['tenant']);
    expect(fieldsOf({ type: 'upsert-tenant', tenant: [tenant] })).toEqual(['tenant']);
    expect(fieldsOf(upsertTenant({ dx: [] }, delta))).toEqual(['tenant.dx']);
    expect(fieldsOf(upsertTenant({ dx: [delta.dx] }, delta))).toEqual(['tenant.dx']);
    expect(fieldsOf(upsertTenant({ interfaces: [[tenant.interfaces[0]]] }))).toEqual(['tenant.interfaces']);
    expect(fieldsOf(upsertTenant({ routes: [[]] }))).toEqual(['tenant.routes']);
    for (const list of ['set', 'add']) expect(fieldsOf({ type: 'routes', tenant: 'alpha', [list]: [route, [route]] })).toEqual([list]);
  });

  it('an interface name with a control character, NUL above all, is refused: the kernel reads "ul0\\0x" as ul0', () => {
    expect(fieldsOf(upsertNode({ underlay: ['ul0\u0000x'] }))).toEqual(['node.underlay']);
    for (const name of ['tc0\u0000', 'tc\u00010', 'tc0\u001f', 'tc0\u007f'])
      expect(fieldsOf(upsertTenant({ interfaces: [{ name, gateways: [] }] }))).toEqual(['tenant.interfaces[0].name']);
    expect(fieldsOf(upsertTenant({ dx: { nexthop: '10.0.3.2', interface: 'td0\u0000' } }, delta))).toEqual(['tenant.dx.interface']);
    expect(messages(upsertNode({ underlay: ['ul\u00010'] }))).toEqual([
      "underlay must be an interface name of 1..15 bytes without '/', ':', spaces or control characters",
    ]);
  });

  it('lo is no underlay interface', () => {
    expect(fieldsOf(upsertNode({ underlay: ['lo'] }))).toEqual(['node.underlay']);
    expect(fieldsOf(upsertNode({ underlay: ['ul0', 'lo'] }))).toEqual(['node.underlay']);
    expect(messages(upsertNode({ underlay: ['lo'] }))).toEqual(['underlay must not be lo: the hypervisor’s loopback is not a fabric interface']);
    expect(fieldsOf(upsertNode({ underlay: ['lo0', 'ulo'] }))).toEqual([]);
  });

  it('unknown fields named like members of Object.prototype are refused, at any depth and in every element of a list', () => {
    // class-transformer drops them silently (they are functions on every DTO instance): the whitelist never saw them.
    expect(fieldsOf({ type: 'resync', toString: 1 })).toEqual(['toString']);
    expect(fieldsOf(upsertNode({ valueOf: 1 }))).toEqual(['node.valueOf']);
    expect(fieldsOf(upsertTenant({ hasOwnProperty: { id: 'x' } }))).toEqual(['tenant.hasOwnProperty']);
    expect(fieldsOf(upsertTenant({ dx: { ...delta.dx, isPrototypeOf: 1 } }, delta))).toEqual(['tenant.dx.isPrototypeOf']);
    const routes = (k: string, at: number) =>
      Array.from({ length: 50 }, (_, i) =>
        i === at ? JSON.parse(`{"prefix":"10.4.${i}.0/24","sids":["fc00::1"],"${k}":{"mode":"inline"}}`) : { prefix: `10.4.${i}.0/24`, sids: ['fc00::1'] },
      );
    for (const k of ['toString', 'propertyIsEnumerable', '__proto__', 'constructor', 'toLocaleString']) {
      expect(fieldsOf({ type: 'routes', tenant: 'alpha', add: routes(k, 0) })).toEqual([`add[0].${k}`]);
      expect(fieldsOf({ type: 'routes', tenant: 'alpha', set: routes(k, 42) })).toEqual([`set[42].${k}`]); // was: only the first 4 elements were looked at
      expect(fieldsOf(upsertTenant({ routes: routes(k, 49) }))).toEqual([`tenant.routes[49].${k}`]);
    }
  });

  it('addresses outside their ranges: a multicast, loopback or unspecified encap source, SID, gateway or cross-connect', () => {
    for (const a of ['::', '::1', 'ff02::1', 'ff0e::1:3']) expect(fieldsOf(upsertNode({ encapSource: a }))).toEqual(['node.encapSource']);
    for (const s of ['::', '::1', 'ff02::1'])
      expect(fieldsOf({ type: 'routes', tenant: 'alpha', add: [{ ...route, sids: ['fc00:0:2:1::', s] }] })).toEqual(['add[0].sids']);
    for (const g of ['0.0.0.0/24', '127.0.0.1/8', '224.0.0.1/24', '255.255.255.255/32', '::/64', '::1/128', 'ff02::1/64'])
      expect(fieldsOf(upsertTenant({ interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24', g] }] }))).toEqual(['tenant.interfaces[0].gateways']);
    for (const n of ['0.0.0.0', '127.0.0.1', '224.0.0.1', '255.255.255.255'])
      expect(fieldsOf(upsertTenant({ dx: { nexthop: n, interface: 'td0' } }, delta))).toEqual(['tenant.dx.nexthop']);
    expect(messages(upsertNode({ encapSource: 'ff02::1' }))).toEqual(['encapSource must be unicast, not multicast "ff02::1"']);
    expect(messages(upsertTenant({ interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24', '127.0.0.1/8'] }] }))).toEqual([
      'gateways must be unicast, not loopback "127.0.0.1/8"',
    ]);
    // Unicast stays fine: link-local gateways (a VM's default gateway fe80::1 is common), IPv4 network and private addresses.
    expect(fieldsOf(upsertTenant({ interfaces: [{ name: 'tc0', gateways: ['fe80::1/64', '10.0.2.0/24', '192.168.1.1/32'] }] }))).toEqual([]);
    expect(fieldsOf(upsertNode({ encapSource: '2001:db8::1' }))).toEqual([]);
  });

  it('a locator the fabric cannot route to this hypervisor: every address, multicast, link-local, the loopback', () => {
    for (const l of ['default', '::/0', '::/8', 'ff00::/48', 'ff02::/16', '::1/128', 'fe80::/64', 'fc00::/6', '8000::/1'])
      expect(fieldsOf(upsertNode({ locator: l }))).toEqual(['node.locator']);
    // Any other IPv6 prefix, the SRv6 SID block (RFC 9602) included.
    for (const l of ['fc00:0:1::/48', '2001:db8:1::/48', '5f00:0:1::/48', 'fec0::/10', '4000::/2']) expect(fieldsOf(upsertNode({ locator: l }))).toEqual([]);
    expect(messages(upsertNode({ locator: '::/0' }))).toEqual([
      'locator must not overlap ::, ::1, fe80::/10 or ff00::/8 (unspecified, loopback, link-local, multicast): the fabric routes it to this hypervisor',
    ]);
  });
});
