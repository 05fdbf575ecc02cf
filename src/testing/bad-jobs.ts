// A deterministic corpus of jobs an agent must refuse (issue 15): every field of every job DTO
// with wrong types, values out of bounds, missing, with unknown siblings and Object.prototype
// names; overlaps with the agent's state, foreign interfaces, addresses outside their ranges, MTUs
// the tenant interfaces could not keep, too many SIDs; and, where the kernel lacks SRv6, valid
// tenant jobs it cannot carry out. Every job says how it must be refused on the kernel it runs on
// (CorpusEnv): a field error naming the field, or the domain error naming the problem.
//
// Base state the corpus is written against (BASE, set up by the test before the corpus):
//   node: underlay ul0 (MTU 1500), locator fc00:0:1::/48, encap source fc00:0:1::1, underlay MTU 1500
//   with SRv6 only (the host lacks it):
//     tenant alpha: table 20001, End.DT6, SID fc00:0:1:a::, ta0 10.0.0.1/24 fd00:a::1/64, 10.1.0.0/24 -> fc00:0:2:1::
//     tenant beta:  table 20002, End.DX4 -> 10.0.1.2 on tb0, SID fc00:0:1:b::, tb0 10.0.1.1/24, 10.2.0.0/24 -> fc00:0:2:2:: (encap.red)
//   free VM interfaces tc0, td0 (the corpus's tenants gamma and delta would take them)
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage } from 'class-validator';
import { JOB_DTOS, JOB_TYPES, JobType } from '../jobs/job.dto';
import { MAX_ROUTES_PER_JOB, MAX_SIDS } from '../dataplane/spec.dto';

export interface CorpusEnv {
  /** The kernel has what a tenant needs (SRV6 of kernel-features.ts): the base state then has tenants alpha and beta. */
  srv6: boolean;
}

export const CATEGORIES = [
  'wrong-type',
  'out-of-bounds',
  'missing-required',
  'unknown-field',
  'prototype-name',
  'idempotency-key',
  'mtu',
  'too-many-sids',
  'address-range',
  'overlap',
  'foreign-interface',
  'malformed',
  'capability',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** How the agent must refuse a job. */
export type Refusal =
  /** A JobValidationError (HTTP 400 InvalidJob) with an error for exactly this field. */
  | { kind: 'field'; field: string }
  /** The state transition's InvalidArgumentError for this field (tenant-relative, as the dataplane names it). */
  | { kind: 'invalid-argument'; field: string }
  | { kind: 'unknown-tenant'; tenant: string }
  | { kind: 'missing-interface'; ifname: string }
  /** CapabilityMissingError naming features the capability report shows unsupported. */
  | { kind: 'capability' };

export interface BadJob {
  /** Unique and stable: "<job type> <target> <category> #<n>". */
  name: string;
  jobType: JobType | '(none)';
  /** The field the job gets wrong, in field-error notation with [] for "an element of" (add[].sids). */
  target: string;
  category: Category;
  job: unknown;
  refusal: Refusal;
}

type Json = any;

export const BASE = {
  vethPairs: [
    ['ul0', 'ul1'],
    ['ta0', 'ta1'],
    ['tb0', 'tb1'],
    ['tc0', 'tc1'],
    ['td0', 'td1'],
  ] as [string, string][],
  node: { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 },
  tenants: [
    {
      id: 'alpha',
      table: 20001,
      behaviour: 'End.DT6',
      sid: 'fc00:0:1:a::',
      interfaces: [{ name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] }],
      routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] }],
    },
    {
      id: 'beta',
      table: 20002,
      behaviour: 'End.DX4',
      sid: 'fc00:0:1:b::',
      dx: { nexthop: '10.0.1.2', interface: 'tb0' },
      interfaces: [{ name: 'tb0', gateways: ['10.0.1.1/24'] }],
      routes: [{ prefix: '10.2.0.0/24', sids: ['fc00:0:2:2::'], mode: 'encap.red' }],
    },
  ],
};

/** Tenants of the corpus: valid on their own (with SRv6 they would be created), so each job's one fault is what refuses it. */
const GAMMA = {
  id: 'gamma',
  table: 20003,
  behaviour: 'End.DT6',
  sid: 'fc00:0:1:c::',
  interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24', 'fd00:c::1/64'] }],
  routes: [
    { prefix: '10.3.0.0/24', sids: ['fc00:0:3:1::'] },
    { prefix: 'fd00:3::/64', sids: ['fc00:0:3:1::', 'fc00:0:3:2::'], mode: 'encap.red' },
  ],
  xdpOffload: false,
  description: 'tenant gamma',
};
const DELTA = {
  id: 'delta',
  behaviour: 'End.DX4',
  dx: { nexthop: '10.0.3.2', interface: 'td0' },
  interfaces: [{ name: 'td0', gateways: ['10.0.3.1/24'] }],
  routes: [],
};
const ROUTE = { prefix: '10.5.0.0/24', sids: ['fc00:0:2:1::'], mode: 'encap' };

/** Small, fast, seeded (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = <T>(v: T): T => structuredClone(v);

/** Sets (or, with DELETE, removes) the value at `path`; a key named __proto__ becomes an own, enumerable property (as JSON.parse makes it). */
const DELETE = Symbol('delete');
function put(obj: Json, path: (string | number)[], value: unknown): Json {
  const root = clone(obj);
  let o = root;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path[path.length - 1];
  if (value === DELETE) delete o[last];
  else Object.defineProperty(o, last, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

/** Values of every JSON type; `wrongTypes(kind)` leaves out the one the field takes. */
function wrongTypes(kind: 'string' | 'number' | 'boolean' | 'array' | 'object', like: unknown): unknown[] {
  const all: [string, unknown][] = [
    ['null', null],
    ['boolean', true],
    ['boolean', false],
    ['number', 0],
    ['number', -1],
    ['number', 1.5],
    ['string', ''],
    ['string', 'x'],
    ['array', []],
    ['array', [like]],
    ['object', {}],
    ['object', { value: like }],
  ];
  return all.filter(([k]) => k !== kind).map(([, v]) => v);
}

const OBJECT_PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'];

export function badJobCorpus(env: CorpusEnv, seed = 15): BadJob[] {
  const out: BadJob[] = [];
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const chars = (n: number, alphabet: string) => Array.from({ length: n }, () => pick([...alphabet])).join('');
  const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';

  const add = (jobType: BadJob['jobType'], target: string, category: Category, job: unknown, refusal: Refusal) =>
    out.push({
      name: `${jobType} ${target} ${category} #${out.filter((j) => j.jobType === jobType && j.target === target && j.category === category).length + 1}`,
      jobType,
      target,
      category,
      job,
      refusal,
    });

  const F = (field: string): Refusal => ({ kind: 'field', field });
  const IA = (field: string): Refusal => ({ kind: 'invalid-argument', field });
  const CAP: Refusal = { kind: 'capability' };
  /** A routes job on alpha: the transition's refusal where alpha exists, else "unknown tenant". */
  const onAlpha = (field: string): Refusal => (env.srv6 ? IA(field) : { kind: 'unknown-tenant', tenant: 'alpha' });
  /** An overlap with a base tenant: refused where the base tenants exist; elsewhere the job is a valid tenant job this kernel cannot carry out. */
  const withBase = (refusal: Refusal): Refusal => (env.srv6 ? refusal : CAP);

  // Seeded garbage, always invalid for the field it is made for.
  const garbage = {
    ifname: (): string =>
      pick([
        () => chars(int(16, 40), lower), // longer than IFNAMSIZ - 1
        () => {
          const n = chars(int(2, 10), lower);
          const at = int(0, n.length);
          return n.slice(0, at) + pick(['/', ':', ' ', '\t', '\n', '\u0000', '\u0001', '\u001f', '\u007f']) + n.slice(at);
        },
        () => 'é'.repeat(int(8, 12)), // 16+ bytes in UTF-8
      ])(),
    tenantId: (): string =>
      pick([
        () => chars(int(12, 30), lower),
        () => chars(int(1, 5), lower) + pick(['A', 'Z', '.', '/', ' ', ':', 'é', '+', '\u0000']) + chars(int(0, 4), lower),
        () => pick(['-', '_']) + chars(int(1, 9), lower),
      ])(),
    prefix: (): string =>
      pick([
        () => `10.${int(0, 255)}.${int(256, 999)}.0/24`,
        () => `10.${int(0, 255)}.0.0/${int(33, 999)}`,
        () => `fc00:${int(0, 0xffff).toString(16)}::/${int(129, 999)}`,
        () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 255)}/${int(8, 24)}`, // host bits set
        () => `fc00::${chars(int(1, 4), 'ghijklmnopqrstuvwxyz')}/64`,
        () => `${int(0, 255)}.${int(0, 255)}.${int(0, 255)}/24`,
      ])(),
    gateway: (): string =>
      pick([
        () => `10.${int(0, 255)}.${int(256, 999)}.1/24`,
        () => `10.${int(0, 255)}.0.1/${int(33, 999)}`,
        () => `fd00:${int(0, 0xffff).toString(16)}::1/${int(129, 999)}`,
        () => `fd00::${chars(int(1, 4), 'ghijklmnopqrstuvwxyz')}/64`,
        () => `10.0.${int(0, 255)}.1/`,
      ])(),
    addr6: (): string =>
      pick([
        () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
        () => `fc00:${int(0, 0xffff).toString(16)}::${chars(int(1, 4), 'ghijklmnopqrstuvwxyz')}`,
        () => Array.from({ length: 9 }, () => int(0, 0xffff).toString(16)).join(':'),
        () => `fc00:${int(0, 0xffff).toString(16)}::1/128`,
        () => `fc00::${int(0x10000, 0xfffff).toString(16)}`,
      ])(),
    addr4: (): string =>
      pick([() => `10.0.3.${int(256, 999)}`, () => `10.0.${chars(1, 'ghijklmnopqrstuvwxyz')}.2`, () => `10.0.3.2/${int(0, 32)}`, () => `10.0.3`])(),
    text: (min: number) => chars(int(min, min + 300), lower + ' '),
    digits: () => String(int(1, 10 ** int(1, 15))),
  };

  // --- every job type: the envelope (type, idempotencyKey, unknown fields) ---------------------------
  const bases: [JobType, Json][] = [
    ['upsert-node', { type: 'upsert-node', node: BASE.node }],
    ['upsert-tenant', { type: 'upsert-tenant', tenant: GAMMA }],
    ['delete-tenant', { type: 'delete-tenant', tenant: 'gamma' }],
    ['routes', { type: 'routes', tenant: 'alpha', add: [ROUTE] }],
    ['resync', { type: 'resync', reason: 'corpus' }],
  ];
  for (const [type, base] of bases) {
    for (const v of wrongTypes('string', type)) add(type, 'type', 'wrong-type', put(base, ['type'], v), F('type'));
    for (const v of [
      '',
      type.toUpperCase(),
      `${type.replace(/-/g, '_')}_`,
      ` ${type}`,
      `${type} `,
      `${type}s`,
      'job',
      'constructor',
      '__proto__',
      'toString',
      'upsert',
      'set-routes',
    ])
      add(type, 'type', 'out-of-bounds', put(base, ['type'], v), F('type'));
    add(type, 'type', 'missing-required', put(base, ['type'], DELETE), F('type'));
    for (const v of wrongTypes('string', 'k-1')) add(type, 'idempotencyKey', 'wrong-type', put(base, ['idempotencyKey'], v), F('idempotencyKey'));
    for (const v of ['1', '42', '0007', '9007199254740993', garbage.digits(), garbage.digits()])
      add(type, 'idempotencyKey', 'idempotency-key', put(base, ['idempotencyKey'], v), F('idempotencyKey'));
    for (const v of ['', 'k'.repeat(129), 'bad key', 'k/1', 'é', 'k\n', 'k\u0000', 'k@1', 'k#1', `x${'1'.repeat(128)}`])
      add(type, 'idempotencyKey', 'idempotency-key', put(base, ['idempotencyKey'], v), F('idempotencyKey'));
    for (const k of ['bogus', 'Type', 'extra', 'tenantId', 'nodes', 'prototype'])
      add(type, k, 'unknown-field', put(base, [k], pick<unknown>([1, 'x', null, {}, []])), F(k));
    for (const k of OBJECT_PROTOTYPE_NAMES) add(type, k, 'prototype-name', put(base, [k], pick<unknown>([1, 'x', {}, { polluted: true }])), F(k));
  }
  // Not a job object at all.
  add('(none)', '(job)', 'malformed', [], F('(job)'));
  add('(none)', '(job)', 'malformed', [{ type: 'resync' }], F('(job)'));
  add('(none)', 'type', 'malformed', {}, F('type'));

  // --- upsert-node -----------------------------------------------------------------------------------
  const node = bases[0][1];
  const N = (path: (string | number)[], v: unknown) => put(node, ['node', ...path], v);
  for (const v of [null, 42, 'ul0', true, [], [BASE.node]]) add('upsert-node', 'node', 'wrong-type', put(node, ['node'], v), F('node'));
  add('upsert-node', 'node', 'missing-required', put(node, ['node'], DELETE), F('node'));
  for (const k of ['underlay', 'locator', 'encapSource', 'underlayMtu']) add('upsert-node', `node.${k}`, 'missing-required', N([k], DELETE), F(`node.${k}`));
  for (const k of ['bogus', 'Underlay', 'mtu', 'prototype']) add('upsert-node', `node.${k}`, 'unknown-field', N([k], 1), F(`node.${k}`));
  for (const k of OBJECT_PROTOTYPE_NAMES) add('upsert-node', `node.${k}`, 'prototype-name', N([k], { polluted: true }), F(`node.${k}`));

  for (const v of [null, 'ul0', 42, {}, true, [42], [null], [['ul0']], [{}], [true]])
    add('upsert-node', 'node.underlay', 'wrong-type', N(['underlay'], v), F('node.underlay'));
  add('upsert-node', 'node.underlay', 'out-of-bounds', N(['underlay'], []), F('node.underlay'));
  add('upsert-node', 'node.underlay', 'out-of-bounds', N(['underlay'], ['ul0', 'ta0', 'tb0', 'tc0', 'td0', 'ul1', 'ta1', 'tb1', 'tc1']), F('node.underlay'));
  for (const v of ['', 'u'.repeat(16), 'a/b', 'a:b', 'a b', '.', '..', 'ul0\n', '\t', 'é'.repeat(8), 'ul0\u0000x', 'ul\u00010', 'ul0\u007f'])
    add('upsert-node', 'node.underlay', 'malformed', N(['underlay'], [v]), F('node.underlay'));
  for (let i = 0; i < 6; i++) add('upsert-node', 'node.underlay', 'malformed', N(['underlay'], ['ul0', garbage.ifname()]), F('node.underlay'));
  for (const v of OBJECT_PROTOTYPE_NAMES) add('upsert-node', 'node.underlay', 'prototype-name', N(['underlay'], [v]), F('node.underlay'));
  add('upsert-node', 'node.underlay', 'foreign-interface', N(['underlay'], ['lo']), F('node.underlay'));
  add('upsert-node', 'node.underlay', 'foreign-interface', N(['underlay'], ['ul0', 'lo']), F('node.underlay'));
  for (const v of ['nosuch0', 'ul9', 'eth0', 'ul1.5'])
    add('upsert-node', 'node.underlay', 'foreign-interface', N(['underlay'], ['ul0', v]), { kind: 'missing-interface', ifname: v });
  add('upsert-node', 'node.underlay', 'overlap', N(['underlay'], ['ul0', 'ul0']), IA('underlay'));
  if (env.srv6) {
    // The base tenants' interfaces (without tenants these are free and the job valid); an underlay
    // MTU their MTU (1436) carries, so that it is the ownership that refuses the job.
    add('upsert-node', 'node.underlay', 'overlap', put(node, ['node'], { ...BASE.node, underlay: ['ta0'], underlayMtu: 1400 }), IA('underlay'));
    add('upsert-node', 'node.underlay', 'overlap', put(node, ['node'], { ...BASE.node, underlay: ['ul0', 'tb0'], underlayMtu: 1400 }), IA('underlay'));
    add('upsert-node', 'node.underlay', 'overlap', N(['underlay'], ['ta0']), IA('underlayMtu')); // 1500: more than ta0's MTU, checked first
  }

  for (const v of [null, 42, true, [], {}, ['fc00:0:1::/48']]) add('upsert-node', 'node.locator', 'wrong-type', N(['locator'], v), F('node.locator'));
  for (const v of [
    '',
    '10.0.0.0/8',
    'fc00:0:1::/129',
    'fc00:0:1::1/48',
    'fc00::1::/48',
    'zz::/48',
    'fc00:0:1::/-1',
    'fc00:0:1::/48/1',
    ' fc00:0:1::/48',
    'fc00:0:1::/ 48',
    'fc00:0:1::/4a',
  ])
    add('upsert-node', 'node.locator', 'malformed', N(['locator'], v), F('node.locator'));
  for (let i = 0; i < 4; i++) add('upsert-node', 'node.locator', 'malformed', N(['locator'], garbage.prefix()), F('node.locator'));
  // SIDs take the 16 bits after the locator.
  for (const v of ['fc00:0:1::/113', 'fc00:0:1::/120', 'fc00:0:1::/128', 'fc00:0:1::'])
    add('upsert-node', 'node.locator', 'out-of-bounds', N(['locator'], v), IA('locator'));
  // The SID routes go into main: a locator of every address, of multicast, of the loopback is none.
  for (const v of ['default', '::/0', '::/8', 'ff00::/48', 'ff02::/16', '::1/128', 'fe80::/64', 'fc00::/6'])
    add('upsert-node', 'node.locator', 'address-range', N(['locator'], v), F('node.locator'));

  for (const v of [null, 42, true, [], {}, ['fc00:0:1::1']]) add('upsert-node', 'node.encapSource', 'wrong-type', N(['encapSource'], v), F('node.encapSource'));
  for (const v of ['', '10.0.0.1', 'fc00:0:1::1/128', 'fc00::1::2', 'gggg::1', 'fc00:0:1::1%ul0', ' fc00:0:1::1', 'fc00:0:1::1 '])
    add('upsert-node', 'node.encapSource', 'malformed', N(['encapSource'], v), F('node.encapSource'));
  for (let i = 0; i < 4; i++) add('upsert-node', 'node.encapSource', 'malformed', N(['encapSource'], garbage.addr6()), F('node.encapSource'));
  // The outer source of every encapsulated packet: unicast.
  for (const v of ['::', '::1', 'ff02::1', 'ff05::2', 'ff0e::1:3'])
    add('upsert-node', 'node.encapSource', 'address-range', N(['encapSource'], v), F('node.encapSource'));

  for (const v of [null, '1500', true, [], {}, [1500], 1500.5])
    add('upsert-node', 'node.underlayMtu', 'wrong-type', N(['underlayMtu'], v), F('node.underlayMtu'));
  for (const v of [0, -1, 1279, 65536, 2 ** 31, 2 ** 53, -1500, 1e308, int(65536, 2 ** 40), -int(1, 2 ** 40), int(0, 1279)])
    add('upsert-node', 'node.underlayMtu', 'mtu', N(['underlayMtu'], v), F('node.underlayMtu'));
  // More than the underlay link's MTU (1500): encapsulated packets would not fit it.
  for (const v of [1501, 9000, 65535]) add('upsert-node', 'node.underlayMtu', 'mtu', N(['underlayMtu'], v), IA('underlayMtu'));
  // Too small for the base tenants' interfaces to keep IPv6 (1500 - 64 bytes of SRv6 needed at least 1280).
  if (env.srv6) for (const v of [1280, 1300, 1343]) add('upsert-node', 'node.underlayMtu', 'mtu', N(['underlayMtu'], v), IA('underlayMtu'));

  // --- upsert-tenant ---------------------------------------------------------------------------------
  const gamma = bases[1][1];
  const delta = { type: 'upsert-tenant', tenant: DELTA };
  const T = (path: (string | number)[], v: unknown, base: Json = gamma) => put(base, ['tenant', ...path], v);
  for (const v of [null, 42, 'gamma', true, [], [GAMMA]]) add('upsert-tenant', 'tenant', 'wrong-type', put(gamma, ['tenant'], v), F('tenant'));
  add('upsert-tenant', 'tenant', 'missing-required', put(gamma, ['tenant'], DELETE), F('tenant'));
  for (const k of ['id', 'behaviour', 'interfaces', 'routes']) add('upsert-tenant', `tenant.${k}`, 'missing-required', T([k], DELETE), F(`tenant.${k}`));
  for (const k of ['bogus', 'ID', 'vrf', 'prototype', 'mtu']) add('upsert-tenant', `tenant.${k}`, 'unknown-field', T([k], 1), F(`tenant.${k}`));
  for (const k of OBJECT_PROTOTYPE_NAMES) add('upsert-tenant', `tenant.${k}`, 'prototype-name', T([k], { polluted: true }), F(`tenant.${k}`));

  // tenant.id
  for (const v of wrongTypes('string', 'gamma')) add('upsert-tenant', 'tenant.id', 'wrong-type', T(['id'], v), F('tenant.id'));
  for (const v of ['', 'Gamma', 'g'.repeat(12), '-gamma', '_gamma', 'gam ma', 'gam/ma', 'gamma\n', 'gam.ma', 'é', 'gam\u0000'])
    add('upsert-tenant', 'tenant.id', 'malformed', T(['id'], v), F('tenant.id'));
  for (let i = 0; i < 6; i++) add('upsert-tenant', 'tenant.id', 'malformed', T(['id'], garbage.tenantId()), F('tenant.id'));
  for (const v of OBJECT_PROTOTYPE_NAMES) add('upsert-tenant', 'tenant.id', 'prototype-name', T(['id'], v), F('tenant.id'));

  // tenant.table
  for (const v of [null, '20003', true, [], {}, 1.5, [20003]]) add('upsert-tenant', 'tenant.table', 'wrong-type', T(['table'], v), F('tenant.table'));
  for (const v of [0, -1, -20003, 2 ** 32, 2 ** 53, 1e20, int(2 ** 32, 2 ** 50), 20003.5])
    add('upsert-tenant', 'tenant.table', 'out-of-bounds', T(['table'], v), F('tenant.table'));
  for (const v of [253, 254, 255]) add('upsert-tenant', 'tenant.table', 'overlap', T(['table'], v), IA('table')); // the kernel's default, main, local
  add('upsert-tenant', 'tenant.table', 'overlap', T(['table'], 20001), withBase(IA('table'))); // alpha's
  add('upsert-tenant', 'tenant.table', 'overlap', T(['table'], 20002, delta), withBase(IA('table'))); // beta's

  // tenant.behaviour
  for (const v of wrongTypes('string', 'End.DT6')) add('upsert-tenant', 'tenant.behaviour', 'wrong-type', T(['behaviour'], v), F('tenant.behaviour'));
  for (const v of ['', 'End.DT', 'end.dt6', 'End.DT6 ', 'End', 'End.X', 'End.B6.Encaps', 'H.Encaps', 'End.DX2', 'End.DT2U', 'End.DT44', 'constructor'])
    add('upsert-tenant', 'tenant.behaviour', 'out-of-bounds', T(['behaviour'], v), F('tenant.behaviour'));

  // tenant.sid
  for (const v of [null, 42, true, [], {}, ['fc00:0:1:c::']]) add('upsert-tenant', 'tenant.sid', 'wrong-type', T(['sid'], v), F('tenant.sid'));
  for (const v of ['', '10.0.0.1', 'fc00:0:1:c::/64', 'fc00::1::', 'zz::', 'fc00:0:1:c::%tc0'])
    add('upsert-tenant', 'tenant.sid', 'malformed', T(['sid'], v), F('tenant.sid'));
  for (let i = 0; i < 3; i++) add('upsert-tenant', 'tenant.sid', 'malformed', T(['sid'], garbage.addr6()), F('tenant.sid'));
  // Outside the node's locator fc00:0:1::/48 (its route in main could shadow any of the HV's).
  for (const v of [
    'fc00:0:2:c::',
    'fc00:0:1ff::',
    '2001:db8::1',
    'fd00::1',
    '::',
    '::1',
    'ff02::1',
    'fe80::1',
    'fc00::1:0:0:0',
    `fc00:0:${int(2, 0xffff).toString(16)}::1`,
  ])
    add('upsert-tenant', 'tenant.sid', 'address-range', T(['sid'], v), IA('sid'));
  add('upsert-tenant', 'tenant.sid', 'overlap', T(['sid'], 'fc00:0:1:a::'), withBase(IA('sid'))); // alpha's SID
  add('upsert-tenant', 'tenant.sid', 'overlap', T(['sid'], 'fc00:0:1:b:0::', delta), withBase(IA('sid'))); // beta's, written differently

  // tenant.dx (End.DX4 tenant delta)
  for (const v of [null, 42, 'td0', true, [], [DELTA.dx]]) add('upsert-tenant', 'tenant.dx', 'wrong-type', T(['dx'], v, delta), F('tenant.dx'));
  add('upsert-tenant', 'tenant.dx', 'missing-required', T(['dx'], DELETE, delta), IA('dx')); // End.DX4 needs one
  add('upsert-tenant', 'tenant.dx', 'overlap', T(['dx'], { nexthop: '10.0.2.2', interface: 'tc0' }), IA('dx')); // End.DT6 takes none
  for (const k of ['nexthop', 'interface']) add('upsert-tenant', `tenant.dx.${k}`, 'missing-required', T(['dx', k], DELETE, delta), F(`tenant.dx.${k}`));
  for (const k of ['bogus', 'mac', 'prototype', ...OBJECT_PROTOTYPE_NAMES.slice(0, 4)])
    add(
      'upsert-tenant',
      `tenant.dx.${k}`,
      k === 'bogus' || k === 'mac' || k === 'prototype' ? 'unknown-field' : 'prototype-name',
      T(['dx', k], 1, delta),
      F(`tenant.dx.${k}`),
    );
  for (const v of [null, 42, true, [], {}, ['10.0.3.2']])
    add('upsert-tenant', 'tenant.dx.nexthop', 'wrong-type', T(['dx', 'nexthop'], v, delta), F('tenant.dx.nexthop'));
  for (const v of ['', '10.0.3.2/32', 'x', ' 10.0.3.2'])
    add('upsert-tenant', 'tenant.dx.nexthop', 'malformed', T(['dx', 'nexthop'], v, delta), F('tenant.dx.nexthop'));
  for (let i = 0; i < 4; i++) add('upsert-tenant', 'tenant.dx.nexthop', 'malformed', T(['dx', 'nexthop'], garbage.addr4(), delta), F('tenant.dx.nexthop'));
  // Not the behaviour's family; outside the subnet of the tenant's gateways (its host route goes into main).
  for (const v of ['fd00:d::2', '::ffff:10.0.3.2'])
    add('upsert-tenant', 'tenant.dx.nexthop', 'address-range', T(['dx', 'nexthop'], v, delta), IA('dx.nexthop'));
  for (const v of ['10.9.9.9', '10.0.4.2', '10.0.2.2', `192.168.${int(0, 255)}.${int(1, 254)}`])
    add('upsert-tenant', 'tenant.dx.nexthop', 'address-range', T(['dx', 'nexthop'], v, delta), IA('dx.nexthop'));
  // A VM's address: unicast (also where a gateway subnet would contain the others).
  for (const v of ['0.0.0.0', '255.255.255.255', '224.0.0.1', '127.0.0.1'])
    add('upsert-tenant', 'tenant.dx.nexthop', 'address-range', T(['dx', 'nexthop'], v, delta), F('tenant.dx.nexthop'));
  // beta's cross-connect (10.0.1.2, one host route in main per address): delta on its own subnet 10.0.1.0/24 on td0.
  add(
    'upsert-tenant',
    'tenant.dx.nexthop',
    'overlap',
    put(delta, ['tenant'], { ...DELTA, dx: { nexthop: '10.0.1.2', interface: 'td0' }, interfaces: [{ name: 'td0', gateways: ['10.0.1.1/24'] }] }),
    withBase(IA('dx.nexthop')),
  );
  for (const v of [null, 42, true, [], {}, ['td0']])
    add('upsert-tenant', 'tenant.dx.interface', 'wrong-type', T(['dx', 'interface'], v, delta), F('tenant.dx.interface'));
  for (const v of ['', 't'.repeat(16), 'a/b', 'td0\u0000', 'toString', '__proto__'])
    add('upsert-tenant', 'tenant.dx.interface', 'malformed', T(['dx', 'interface'], v, delta), F('tenant.dx.interface'));
  for (const v of ['tc0', 'lo', 'ul0', 'nosuch0', 'ta0'])
    add('upsert-tenant', 'tenant.dx.interface', 'foreign-interface', T(['dx', 'interface'], v, delta), IA('dx.interface')); // not one of the tenant's

  // tenant.interfaces
  const itf0 = GAMMA.interfaces[0];
  for (const v of [null, 'tc0', 42, {}, true, { name: 'tc0', gateways: [] }])
    add('upsert-tenant', 'tenant.interfaces', 'wrong-type', T(['interfaces'], v), F('tenant.interfaces'));
  for (const v of [null, 'tc0', 42, true]) add('upsert-tenant', 'tenant.interfaces[]', 'wrong-type', T(['interfaces'], [v]), F('tenant.interfaces[0]'));
  for (const v of [[], [itf0]]) add('upsert-tenant', 'tenant.interfaces[]', 'wrong-type', T(['interfaces'], [v]), F('tenant.interfaces'));
  add(
    'upsert-tenant',
    'tenant.interfaces',
    'out-of-bounds',
    T(
      ['interfaces'],
      Array.from({ length: 257 }, (_, i) => ({ name: `vm${i}`, gateways: [] })),
    ),
    F('tenant.interfaces'),
  );
  for (const k of ['name', 'gateways'])
    add('upsert-tenant', `tenant.interfaces[].${k}`, 'missing-required', T(['interfaces', 0, k], DELETE), F(`tenant.interfaces[0].${k}`));
  for (const k of ['bogus', 'mtu', 'prototype'])
    add('upsert-tenant', `tenant.interfaces[].${k}`, 'unknown-field', T(['interfaces', 0, k], 1), F(`tenant.interfaces[0].${k}`));
  for (const k of OBJECT_PROTOTYPE_NAMES)
    add('upsert-tenant', `tenant.interfaces[].${k}`, 'prototype-name', T(['interfaces', 0, k], { name: 'lo' }), F(`tenant.interfaces[0].${k}`));
  // Unknown fields are refused in every element, not only in the first few.
  const many = Array.from({ length: 8 }, (_, i) => ({ name: `vm${i}`, gateways: [] }));
  for (const k of ['bogus', ...OBJECT_PROTOTYPE_NAMES])
    add(
      'upsert-tenant',
      `tenant.interfaces[].${k}`,
      k === 'bogus' ? 'unknown-field' : 'prototype-name',
      T(
        ['interfaces'],
        many.map((x, i) => (i === 6 ? put(x, [k], { name: 'lo' }) : x)),
      ),
      F(`tenant.interfaces[6].${k}`),
    );

  // tenant.interfaces[].name
  for (const v of [null, 42, true, [], {}, ['tc0']])
    add('upsert-tenant', 'tenant.interfaces[].name', 'wrong-type', T(['interfaces', 0, 'name'], v), F('tenant.interfaces[0].name'));
  for (const v of ['', 't'.repeat(16), 'a/b', 'a:b', 'a b', '.', '..', 'tc0\n', 'é'.repeat(8), 'tc0\u0000', 'tc\u00010', 'tc0\u007f'])
    add('upsert-tenant', 'tenant.interfaces[].name', 'malformed', T(['interfaces', 0, 'name'], v), F('tenant.interfaces[0].name'));
  for (let i = 0; i < 8; i++)
    add('upsert-tenant', 'tenant.interfaces[].name', 'malformed', T(['interfaces', 0, 'name'], garbage.ifname()), F('tenant.interfaces[0].name'));
  for (const v of OBJECT_PROTOTYPE_NAMES)
    add('upsert-tenant', 'tenant.interfaces[].name', 'prototype-name', T(['interfaces', 0, 'name'], v), F('tenant.interfaces[0].name'));
  add('upsert-tenant', 'tenant.interfaces[].name', 'foreign-interface', T(['interfaces', 0, 'name'], 'lo'), IA('interfaces[0].name'));
  add('upsert-tenant', 'tenant.interfaces[].name', 'foreign-interface', T(['interfaces', 0, 'name'], 'ul0'), IA('interfaces[0].name')); // the underlay
  add('upsert-tenant', 'tenant.interfaces[].name', 'foreign-interface', T(['interfaces'], [itf0, { name: 'ul0', gateways: [] }]), IA('interfaces[1].name'));
  add(
    'upsert-tenant',
    'tenant.interfaces[].name',
    'foreign-interface',
    T(['interfaces'], [itf0, { name: 'lo', gateways: ['10.9.0.1/24'] }]),
    IA('interfaces[1].name'),
  );
  for (const v of ['nosuch0', 'tap-gone', 'eth0'])
    add('upsert-tenant', 'tenant.interfaces[].name', 'foreign-interface', T(['interfaces', 0, 'name'], v), withBase({ kind: 'missing-interface', ifname: v }));
  add('upsert-tenant', 'tenant.interfaces[].name', 'overlap', T(['interfaces'], [itf0, { name: 'tc0', gateways: [] }]), IA('interfaces[1].name')); // twice
  add('upsert-tenant', 'tenant.interfaces[].name', 'overlap', T(['interfaces', 0, 'name'], 'ta0'), withBase(IA('interfaces[0].name'))); // alpha's
  add('upsert-tenant', 'tenant.interfaces[].name', 'overlap', T(['interfaces'], [itf0, { name: 'tb0', gateways: [] }]), withBase(IA('interfaces[1].name'))); // beta's

  // tenant.interfaces[].gateways
  for (const v of [null, '10.0.2.1/24', 42, {}, true])
    add('upsert-tenant', 'tenant.interfaces[].gateways', 'wrong-type', T(['interfaces', 0, 'gateways'], v), F('tenant.interfaces[0].gateways'));
  for (const v of [[null], [42], [['10.0.2.1/24']], [{}], ['10.0.2.1/24', true]])
    add('upsert-tenant', 'tenant.interfaces[].gateways', 'wrong-type', T(['interfaces', 0, 'gateways'], v), F('tenant.interfaces[0].gateways'));
  add(
    'upsert-tenant',
    'tenant.interfaces[].gateways',
    'out-of-bounds',
    T(
      ['interfaces', 0, 'gateways'],
      Array.from({ length: 17 }, (_, i) => `10.0.${i}.1/24`),
    ),
    F('tenant.interfaces[0].gateways'),
  );
  for (const v of ['10.0.2.1/33', '10.0.2.300/24', 'fd00:c::1/129', 'x/24', '', 'default', '10.0.2.1/24/1', '10.0.2.1 /24', 'fd00:c::1::1/64'])
    add('upsert-tenant', 'tenant.interfaces[].gateways', 'malformed', T(['interfaces', 0, 'gateways'], [v]), F('tenant.interfaces[0].gateways'));
  for (let i = 0; i < 6; i++)
    add(
      'upsert-tenant',
      'tenant.interfaces[].gateways',
      'malformed',
      T(['interfaces', 0, 'gateways'], ['10.0.2.1/24', garbage.gateway()]),
      F('tenant.interfaces[0].gateways'),
    );
  // A gateway is a unicast address of the tenant's (the kernel refuses IPv6 multicast, loopback and unspecified ones only after the state was saved).
  for (const v of ['0.0.0.0/24', '127.0.0.1/8', '224.0.0.1/24', '239.1.1.1/8', '255.255.255.255/32', '::/64', '::1/128', 'ff02::1/64', 'ff05::1:3/64'])
    add(
      'upsert-tenant',
      'tenant.interfaces[].gateways',
      'address-range',
      T(['interfaces', 0, 'gateways'], ['10.0.2.1/24', v]),
      F('tenant.interfaces[0].gateways'),
    );

  // tenant.routes
  const route0 = GAMMA.routes[0];
  for (const v of [null, {}, 'x', 42, true, route0]) add('upsert-tenant', 'tenant.routes', 'wrong-type', T(['routes'], v), F('tenant.routes'));
  for (const v of [null, '10.3.0.0/24', 42, true]) add('upsert-tenant', 'tenant.routes[]', 'wrong-type', T(['routes'], [v]), F('tenant.routes[0]'));
  for (const v of [[], [route0]]) add('upsert-tenant', 'tenant.routes[]', 'wrong-type', T(['routes'], [v]), F('tenant.routes'));
  add(
    'upsert-tenant',
    'tenant.routes',
    'out-of-bounds',
    T(
      ['routes'],
      Array.from({ length: MAX_ROUTES_PER_JOB + 1 }, () => route0),
    ),
    F('tenant.routes'),
  );
  for (const k of ['prefix', 'sids']) add('upsert-tenant', `tenant.routes[].${k}`, 'missing-required', T(['routes', 0, k], DELETE), F(`tenant.routes[0].${k}`));
  for (const k of ['bogus', 'via', 'prototype'])
    add('upsert-tenant', `tenant.routes[].${k}`, 'unknown-field', T(['routes', 0, k], 1), F(`tenant.routes[0].${k}`));
  for (const k of OBJECT_PROTOTYPE_NAMES)
    add('upsert-tenant', `tenant.routes[].${k}`, 'prototype-name', T(['routes', 0, k], { mode: 'inline' }), F(`tenant.routes[0].${k}`));
  const routesOf = (n: number, at: number, k: string) =>
    Array.from({ length: n }, (_, i) => ({
      prefix: `10.4.${i}.0/24`,
      sids: ['fc00:0:3:1::'],
      ...(i === at ? Object.defineProperty({}, k, { value: { mode: 'inline' }, enumerable: true }) : {}),
    }));
  for (const k of ['bogus', ...OBJECT_PROTOTYPE_NAMES])
    add(
      'upsert-tenant',
      `tenant.routes[].${k}`,
      k === 'bogus' ? 'unknown-field' : 'prototype-name',
      T(['routes'], routesOf(12, 9, k)),
      F(`tenant.routes[9].${k}`),
    );
  routeFields('upsert-tenant', 'tenant.routes', gamma, ['tenant', 'routes'], (i) => IA(`routes[${i}].prefix`), IA('routes'), ['10.0.2.0/24', 'fd00:c::/64']);

  // tenant.xdpOffload, tenant.description
  for (const v of [null, 'true', 1, 0, [], {}, 'yes', [true]])
    add('upsert-tenant', 'tenant.xdpOffload', 'wrong-type', T(['xdpOffload'], v), F('tenant.xdpOffload'));
  for (const v of [null, 42, true, [], {}, ['gamma']]) add('upsert-tenant', 'tenant.description', 'wrong-type', T(['description'], v), F('tenant.description'));
  for (let i = 0; i < 4; i++) add('upsert-tenant', 'tenant.description', 'out-of-bounds', T(['description'], garbage.text(201)), F('tenant.description'));

  // Valid tenant jobs a kernel without SRv6 cannot carry out (with SRv6 they would be created: not in the corpus there).
  if (!env.srv6) {
    const behaviours = ['End.DT6', 'End.DT4', 'End.DT46'];
    const routeSets = [[], [ROUTE], [{ ...ROUTE, mode: 'encap.red' }], GAMMA.routes, [{ prefix: '0.0.0.0/0', sids: ['fc00:0:2:1::', 'fc00:0:2:2::'] }]];
    for (const behaviour of behaviours)
      for (const routes of routeSets)
        for (const xdpOffload of [false, true])
          add('upsert-tenant', 'tenant', 'capability', put(gamma, ['tenant'], { ...GAMMA, behaviour, routes, xdpOffload }), CAP);
    for (const routes of routeSets) {
      add('upsert-tenant', 'tenant', 'capability', put(delta, ['tenant'], { ...DELTA, routes }), CAP);
      add(
        'upsert-tenant',
        'tenant',
        'capability',
        put(delta, ['tenant'], {
          ...DELTA,
          behaviour: 'End.DX6',
          dx: { nexthop: 'fd00:d::2', interface: 'td0' },
          interfaces: [{ name: 'td0', gateways: ['fd00:d::1/64'] }],
          routes,
        }),
        CAP,
      );
    }
    for (let i = 0; i < 10; i++) {
      // With and without table, SID and description; another id and interface set each time.
      const t: Json = {
        id: `t${i}`,
        behaviour: pick(['End.DT6', 'End.DT46']),
        interfaces: [{ name: pick(['tc0', 'td0']), gateways: [`10.${20 + i}.0.1/24`] }],
        routes: [{ prefix: `10.${40 + i}.0.0/16`, sids: [`fc00:0:${i + 5}:1::`] }],
      };
      if (r() < 0.5) t.table = 30000 + i;
      if (r() < 0.5) t.sid = `fc00:0:1:${(0x100 + i).toString(16)}::`;
      if (r() < 0.5) t.description = `capability case ${i}`;
      add('upsert-tenant', 'tenant', 'capability', { type: 'upsert-tenant', tenant: t }, CAP);
    }
  }

  // --- delete-tenant ---------------------------------------------------------------------------------
  const del = bases[2][1];
  for (const v of [...wrongTypes('string', 'gamma'), { id: 'gamma' }, ['gamma']])
    add('delete-tenant', 'tenant', 'wrong-type', put(del, ['tenant'], v), F('tenant'));
  add('delete-tenant', 'tenant', 'missing-required', put(del, ['tenant'], DELETE), F('tenant'));
  for (const v of ['', 'Gamma', 'g'.repeat(12), '-gamma', 'gam ma', 'gam/ma', 'vrf-gamma\u0000', 'gamma\n', '..'])
    add('delete-tenant', 'tenant', 'malformed', put(del, ['tenant'], v), F('tenant'));
  for (let i = 0; i < 6; i++) add('delete-tenant', 'tenant', 'malformed', put(del, ['tenant'], garbage.tenantId()), F('tenant'));
  for (const v of OBJECT_PROTOTYPE_NAMES) add('delete-tenant', 'tenant', 'prototype-name', put(del, ['tenant'], v), F('tenant'));
  for (const k of ['id', 'force', 'tenants']) add('delete-tenant', k, 'unknown-field', put(del, [k], 'gamma'), F(k));

  // --- routes ----------------------------------------------------------------------------------------
  const rt = bases[3][1];
  for (const v of wrongTypes('string', 'alpha')) add('routes', 'tenant', 'wrong-type', put(rt, ['tenant'], v), F('tenant'));
  add('routes', 'tenant', 'missing-required', put(rt, ['tenant'], DELETE), F('tenant'));
  for (const v of ['', 'Alpha', 'a'.repeat(12), '-alpha', 'al pha', 'alpha\u0000']) add('routes', 'tenant', 'malformed', put(rt, ['tenant'], v), F('tenant'));
  for (let i = 0; i < 4; i++) add('routes', 'tenant', 'malformed', put(rt, ['tenant'], garbage.tenantId()), F('tenant'));
  for (const v of OBJECT_PROTOTYPE_NAMES) add('routes', 'tenant', 'prototype-name', put(rt, ['tenant'], v), F('tenant'));
  for (const v of ['gamma', 'nobody', 'alpha2', 'vrf-alpha']) add('routes', 'tenant', 'overlap', put(rt, ['tenant'], v), { kind: 'unknown-tenant', tenant: v });
  add('routes', 'add', 'missing-required', { type: 'routes', tenant: 'alpha' }, F('add')); // needs set, add or remove
  for (const list of ['set', 'add'] as const) {
    const base = { type: 'routes', tenant: 'alpha', [list]: [ROUTE] };
    const L = (path: (string | number)[], v: unknown) => put(base, [list, ...path], v);
    for (const v of [null, {}, 'x', 42, true, ROUTE]) add('routes', list, 'wrong-type', put(base, [list], v), F(list));
    for (const v of [null, '10.5.0.0/24', 42, true]) add('routes', `${list}[]`, 'wrong-type', put(base, [list], [v]), F(`${list}[0]`));
    for (const v of [[], [ROUTE]]) add('routes', `${list}[]`, 'wrong-type', put(base, [list], [v]), F(list));
    add(
      'routes',
      list,
      'out-of-bounds',
      put(
        base,
        [list],
        Array.from({ length: MAX_ROUTES_PER_JOB + 1 }, () => ROUTE),
      ),
      F(list),
    );
    for (const k of ['prefix', 'sids']) add('routes', `${list}[].${k}`, 'missing-required', L([0, k], DELETE), F(`${list}[0].${k}`));
    for (const k of ['bogus', 'via', 'prototype']) add('routes', `${list}[].${k}`, 'unknown-field', L([0, k], 1), F(`${list}[0].${k}`));
    for (const k of OBJECT_PROTOTYPE_NAMES) add('routes', `${list}[].${k}`, 'prototype-name', L([0, k], { mode: 'inline' }), F(`${list}[0].${k}`));
    for (const k of ['bogus', ...OBJECT_PROTOTYPE_NAMES])
      add('routes', `${list}[].${k}`, k === 'bogus' ? 'unknown-field' : 'prototype-name', put(base, [list], routesOf(40, 33, k)), F(`${list}[33].${k}`));
    routeFields('routes', list, base, [list], (i) => onAlpha(`${list}[${i}].prefix`), onAlpha(list), ['10.0.0.0/24', 'fd00:a::/64']);
  }
  const rm = { type: 'routes', tenant: 'alpha', remove: ['10.1.0.0/24'] };
  for (const v of [null, '10.1.0.0/24', 42, {}, true]) add('routes', 'remove', 'wrong-type', put(rm, ['remove'], v), F('remove'));
  for (const v of [[42], [null], [['10.1.0.0/24']], [{}], ['10.1.0.0/24', true]]) add('routes', 'remove', 'wrong-type', put(rm, ['remove'], v), F('remove'));
  for (const v of ['10.1.0.1/24', 'x', '10.1.0.0/33', 'default', '', 'fd00::/129', '10.1.0.0/24 '])
    add('routes', 'remove', 'malformed', put(rm, ['remove'], ['10.1.0.0/24', v]), F('remove'));
  for (let i = 0; i < 6; i++) add('routes', 'remove', 'malformed', put(rm, ['remove'], [garbage.prefix()]), F('remove'));
  add(
    'routes',
    'remove',
    'out-of-bounds',
    put(
      rm,
      ['remove'],
      Array.from({ length: MAX_ROUTES_PER_JOB + 1 }, () => '10.1.0.0/24'),
    ),
    F('remove'),
  );

  // --- resync ----------------------------------------------------------------------------------------
  const rs = bases[4][1];
  for (const v of wrongTypes('string', 'why')) add('resync', 'reason', 'wrong-type', put(rs, ['reason'], v), F('reason'));
  for (let i = 0; i < 4; i++) add('resync', 'reason', 'out-of-bounds', put(rs, ['reason'], garbage.text(201)), F('reason'));
  for (const k of ['force', 'tenant', 'node']) add('resync', k, 'unknown-field', put(rs, [k], true), F(k));

  return out;

  /**
   * The fields of a remote route (prefix, sids, mode) in a list of routes of `base` at `listPath`
   * (tenant.routes, set or add), named `list` in field errors; `own`: the tenant's own subnets;
   * `dupe(i)`/`mtu`: how a prefix repeated at index i and an MTU below 1280 are refused.
   */
  function routeFields(jobType: JobType, list: string, base: Json, listPath: string[], dupe: (i: number) => Refusal, mtu: Refusal, own: string[]): void {
    const at = (i: number, path: (string | number)[], v: unknown) => put(base, [...listPath, i, ...path], v);
    const f = (k: string) => `${list}[0].${k}`;
    const t = (k: string) => `${list}[].${k}`;
    for (const v of [null, 42, true, [], {}, ['10.5.0.0/24']]) add(jobType, t('prefix'), 'wrong-type', at(0, ['prefix'], v), F(f('prefix')));
    for (const v of ['', '10.5.0.1/24', '10.5.0.0/33', 'default', 'fc00::/129', 'x', '10.5.0.0/24 ', '10.5.0.0/+24', '10.5.0.0/0x18'])
      add(jobType, t('prefix'), 'malformed', at(0, ['prefix'], v), F(f('prefix')));
    for (let i = 0; i < 6; i++) add(jobType, t('prefix'), 'malformed', at(0, ['prefix'], garbage.prefix()), F(f('prefix')));
    // The tenant's own subnets are not remote; a prefix twice (also when written differently).
    for (const p of own) add(jobType, t('prefix'), 'overlap', at(0, ['prefix'], p), dupe(0));
    const twice = (a: string, b: string) => put(at(0, ['prefix'], a), [...listPath, 1], { prefix: b, sids: ['fc00:0:2:9::'] });
    add(jobType, t('prefix'), 'overlap', twice('10.6.0.0/24', '10.6.0.0/24'), dupe(1));
    add(jobType, t('prefix'), 'overlap', twice('10.6.0.0/24', '10.6.0.0/024'), dupe(1));
    add(jobType, t('prefix'), 'overlap', twice('fd00:6::/64', 'fd00:6:0:0::/64'), dupe(1));

    for (const v of [null, 'fc00:0:2:1::', 42, {}, true]) add(jobType, t('sids'), 'wrong-type', at(0, ['sids'], v), F(f('sids')));
    for (const v of [[null], [42], [['fc00:0:2:1::']], [{}], ['fc00:0:2:1::', false]]) add(jobType, t('sids'), 'wrong-type', at(0, ['sids'], v), F(f('sids')));
    add(jobType, t('sids'), 'out-of-bounds', at(0, ['sids'], []), F(f('sids')));
    const sids = (n: number) => Array.from({ length: n }, (_, i) => `fc00:0:2:${(i + 1).toString(16)}::`);
    for (const n of [MAX_SIDS + 1, MAX_SIDS + 2, 64]) add(jobType, t('sids'), 'too-many-sids', at(0, ['sids'], sids(n)), F(f('sids')));
    for (const v of ['10.0.0.1', 'fc00:0:2:1::/128', 'fc00::1::', 'fc00:0:2:1::%ul0', ''])
      add(jobType, t('sids'), 'malformed', at(0, ['sids'], ['fc00:0:2:1::', v]), F(f('sids')));
    for (let i = 0; i < 4; i++) add(jobType, t('sids'), 'malformed', at(0, ['sids'], [garbage.addr6()]), F(f('sids')));
    // A SID is where the packet goes next: unicast.
    for (const v of ['::', '::1', 'ff02::1', 'ff0e::1']) add(jobType, t('sids'), 'address-range', at(0, ['sids'], [v]), F(f('sids')));
    // 12..16 SIDs: the encapsulation would leave the tenant's interfaces less than 1280 of the underlay's 1500 bytes.
    for (const mode of ['encap', 'encap.red'])
      for (const n of [12, 14, MAX_SIDS]) add(jobType, t('sids'), 'mtu', put(at(0, ['mode'], mode), [...listPath, 0, 'sids'], sids(n)), mtu);

    for (const v of [null, 1, [], {}, true, ['encap']]) add(jobType, t('mode'), 'wrong-type', at(0, ['mode'], v), F(f('mode')));
    for (const v of ['', 'inline', 'l2encap', 'encap.l2', 'ENCAP', 'encap ', 'encap.red.red', 'red', 'constructor'])
      add(jobType, t('mode'), 'out-of-bounds', at(0, ['mode'], v), F(f('mode')));
  }
}

/**
 * Every field of every job DTO, read from the decorators (a field added later is in the list at
 * once): "node.underlay", "tenant.routes[].sids", nested lists marked with [].
 */
export function jobFieldPaths(): Record<JobType, string[]> {
  const walk = (cls: Function, prefix: string): string[] => {
    const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
    const props = [...new Set(metas.map((m) => m.propertyName))];
    return props.flatMap((p) => {
      const path = prefix ? `${prefix}.${p}` : p;
      // A nested DTO is what class-transformer makes of an object there (@Type).
      const list = metas.some((m) => m.propertyName === p && m.name === 'isArray');
      const made = (plainToInstance(cls as new () => object, { [p]: list ? [{}] : {} }) as Record<string, any>)[p];
      const nested = (list ? made?.[0] : made)?.constructor as Function | undefined;
      if (!nested || nested === Object) return [path];
      return [path, ...walk(nested, list ? `${path}[]` : path)];
    });
  };
  return Object.fromEntries(JOB_TYPES.map((t) => [t, walk(JOB_DTOS[t], '')])) as Record<JobType, string[]>;
}
