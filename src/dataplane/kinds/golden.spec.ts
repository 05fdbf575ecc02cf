// Golden plans, requests and reads, recorded (__snapshots__/) from the planner, applier and
// reconciler as they were before the kinds moved into descriptors (issue 16, item 4): every op in
// order, every netlink request's bytes and description, every failure, every kernel read, and
// which kept read each operation and monitor event invalidates. A change to any of them is a
// change of behaviour: look at the diff before updating the snapshot.
import type { Address } from '../../netlink/address';
import type { Link } from '../../netlink/link';
import type { MonitorEvent } from '../../netlink/monitor';
import type { Nexthop } from '../../netlink/nexthop';
import type { Route } from '../../netlink/route';
import type { Rtnetlink } from '../../netlink/rtnetlink';
import type { Rule } from '../../netlink/rule';
import type { Seg6Genl } from '../../netlink/seg6-genl';
import { Applier } from '../applier';
import { DesiredState, emptyState } from '../desired-state';
import { buildKernelObjects, DataplaneMode, DEFAULT_OWNERSHIP, KernelObjects, withoutDevices } from '../kernel-objects';
import { countByKind } from './index';
import { Observed, Op, PHASES, plan, PlanContext } from '../planner';
import { Reconciler, SharedReads } from '../reconciler';
import { allocateNexthops, deleteTenant, upsertNode, upsertTenant } from '../state-transitions';

const own = DEFAULT_OWNERSHIP;
const MODES = ['table', 'vrf'] as const;
const NODE = { underlay: ['ul0', 'ul1'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const IFNAMES = ['lo', 'ul0', 'ul1', 'ta0', 'ta1', 'tb0', 'tc0', 'td0', 'eth9'];

/** Three tenants: two interfaces with v4, v6 and /31 gateways, shared and reduced encaps; a cross-connect; End.DT46. */
function base(mode: DataplaneMode): DesiredState {
  let s = upsertNode(emptyState(), NODE);
  s = upsertTenant(
    s,
    {
      id: 'a',
      behaviour: 'End.DT6',
      interfaces: [
        { name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] },
        { name: 'ta1', gateways: ['192.168.7.9/31'] },
      ],
      routes: [
        { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
        { prefix: '10.2.0.0/24', sids: ['fc00:0:2:1::'] },
        { prefix: 'fd01::/64', sids: ['fc00:0:2:2::', 'fc00:0:3:1::'], mode: 'encap.red' },
        { prefix: '10.3.0.0/24', sids: ['fc00:0:2:2::', 'fc00:0:3:1::'] },
      ],
    },
    mode,
  );
  s = upsertTenant(
    s,
    {
      id: 'b',
      behaviour: 'End.DX4',
      dx: { nexthop: '10.0.1.2', interface: 'tb0' },
      interfaces: [{ name: 'tb0', gateways: ['10.0.1.1/24'] }],
      routes: [{ prefix: '10.1.0.0/24', sids: ['fc00:0:2:3::'] }],
    },
    mode,
  );
  s = upsertTenant(
    s,
    {
      id: 'c',
      behaviour: 'End.DT46',
      xdpOffload: mode === 'table',
      interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24'] }],
      routes: [{ prefix: '10.9.0.0/16', sids: ['fc00:0:2:1::'] }],
    },
    mode,
  );
  return allocateNexthops(s, new Set());
}

/** From base: b deleted, a's routes changed, c moved to another table, d added. */
function next(mode: DataplaneMode): DesiredState {
  const b = base(mode);
  let s = deleteTenant(b, 'b');
  s = upsertTenant(
    s,
    {
      id: 'a',
      behaviour: 'End.DT6',
      interfaces: [
        { name: 'ta0', gateways: ['10.0.0.1/24', 'fd00:a::1/64'] },
        { name: 'ta1', gateways: ['192.168.7.9/31'] },
      ],
      routes: [
        { prefix: '10.1.0.0/24', sids: ['fc00:0:2:1::'] },
        { prefix: '10.4.0.0/24', sids: ['fc00:0:2:4::'] },
        { prefix: 'fd01::/64', sids: ['fc00:0:2:2::', 'fc00:0:3:1::'], mode: 'encap.red' },
      ],
    },
    mode,
  );
  // A tenant's table moves in table mode only (VRF mode refuses it: state-transitions.ts).
  s = upsertTenant(
    s,
    {
      id: 'c',
      ...(mode === 'table' ? { table: 20000 } : {}),
      behaviour: 'End.DT46',
      xdpOffload: mode === 'table',
      interfaces: [{ name: 'tc0', gateways: ['10.0.2.1/24'] }],
      routes: [{ prefix: '10.9.0.0/16', sids: ['fc00:0:2:1::'] }],
    },
    mode,
  );
  s = upsertTenant(
    s,
    { id: 'd', behaviour: 'End.DT6', interfaces: [{ name: 'td0', gateways: ['fd00:d::1/64'] }], routes: [{ prefix: 'fd0d::/48', sids: ['fc00:0:2:5::'] }] },
    mode,
  );
  return allocateNexthops(s, new Set(), b);
}

const onlyNode = () => upsertNode(emptyState(), NODE);

function baseLinks(): Link[] {
  return IFNAMES.map((name, i) => ({ index: i + 1, name, mtu: name === 'lo' ? 65536 : 1500, up: true, lowerUp: true, flags: 1, operstate: 'up' }));
}

/** The kernel holding exactly `d` (owned objects only), with its VRFs and enslaved, configured links. */
function kernelOf(d: KernelObjects): {
  links: Map<string, Link>;
  addresses: (Address & { ifname: string })[];
  nexthops: Nexthop[];
  routes: Route[];
  rules: Rule[];
  sysctls: Map<string, string>;
} {
  const links = new Map(baseLinks().map((l) => [l.name, l]));
  let next = 50;
  for (const v of d.vrfs.values())
    links.set(v.name, { index: next++, name: v.name, kind: 'vrf', table: v.table, mtu: 65575, up: true, lowerUp: true, flags: 1, operstate: 'up' });
  const ix = (n?: string) => (n ? links.get(n)!.index : undefined);
  for (const l of d.links.values()) Object.assign(links.get(l.name)!, { mtu: l.mtu, master: l.master ? ix(l.master) : undefined });
  const routes = [...d.routes.values()].map((r) => {
    const { oifName, encapOifName, ...rest } = r;
    let encap = rest.encap;
    if (encap?.type === 'seg6local')
      encap = { ...encap, ...(encapOifName ? { oif: ix(encapOifName) } : {}), ...(encap.counters ? { counters: { packets: 0n, bytes: 0n, errors: 0n } } : {}) };
    return { ...rest, encap, type: rest.type ?? 'unicast', ...(oifName ? { oif: ix(oifName) } : {}) } as Route;
  });
  return {
    links,
    addresses: [...d.addresses.values()].map((a) => ({
      index: ix(a.ifname)!,
      family: a.address.includes(':') ? 6 : 4,
      address: a.address,
      scope: 0,
      flags: 0,
      protocol: own.protocol,
      ifname: a.ifname,
    })),
    nexthops: [...d.nexthops.values()].map(({ oifName, ...n }) => ({ ...n, oif: ix(oifName) })),
    routes,
    rules: [...d.rules.values()].map((r) => ({ ...r })),
    sysctls: new Map([...d.sysctls].map(([k, s]) => [k, s.value])),
  };
}

/** What observe() would give for a kernel holding exactly `d`. */
function observedFrom(d: KernelObjects): Observed {
  const k = kernelOf(d);
  return {
    links: k.links,
    addresses: new Map(k.addresses.map((a) => [`${a.ifname}|${a.address}`, a])),
    nexthops: new Map(k.nexthops.map((n) => [n.id, n])),
    routes: new Map(k.routes.map((r) => [key(r), r])),
    rules: new Map([...d.rules].map(([k2, r]) => [k2, { ...r }])),
    sysctls: new Map(k.sysctls),
  };
}

const key = (r: { family?: number; table?: number; dst: string; priority?: number }) =>
  `${r.family}|${r.table}|${r.dst}|${r.priority ?? (r.family === 6 ? 1024 : 0)}`;

function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint' ? `${x}n` : x instanceof Map || x instanceof Set ? [...x] : Buffer.isBuffer(x) ? x.toString('hex') : x,
  );
}
const lines = (ops: Op[]) => ops.map((op) => json(op));

function ctx(p: Partial<{ ownedVrfs: string[]; configured: Record<string, number | undefined>; originalSysctls: Record<string, string> }> = {}): PlanContext {
  return {
    ownedVrfs: new Set(p.ownedVrfs ?? []),
    configured: new Map(Object.entries(p.configured ?? {})),
    originalSysctls: new Map(Object.entries(p.originalSysctls ?? {})),
  };
}

interface Scenario {
  desired: KernelObjects;
  observed: Observed;
  ctx: PlanContext;
}

/** The plan() scenarios: what a full reconcile meets. */
function scenarios(mode: DataplaneMode): Record<string, () => Scenario> {
  const vrfs = ['vrf-a', 'vrf-b', 'vrf-c', 'vrf-d'];
  return {
    'an empty kernel (local rule at 0 in both families)': () => {
      const observed: Observed = {
        links: new Map(baseLinks().map((l) => [l.name, l])),
        addresses: new Map(),
        nexthops: new Map(),
        routes: new Map(),
        rules: new Map(),
        sysctls: new Map(),
        localRuleAtZero: new Set([4, 6]),
      };
      return { desired: buildKernelObjects(base(mode), mode, own), observed, ctx: ctx() };
    },
    'a kernel in sync': () => {
      const desired = buildKernelObjects(base(mode), mode, own);
      return {
        desired,
        observed: { ...observedFrom(desired), localRuleAtZero: new Set() },
        ctx: ctx({ ownedVrfs: vrfs, configured: { ta0: 1500, ta1: 1500, tb0: 1500, tc0: 1500 } }),
      };
    },
    'drift of every kind': () => {
      const desired = buildKernelObjects(base(mode), mode, own);
      const o = observedFrom(desired);
      o.localRuleAtZero = new Set([6]);
      o.routes.delete([...o.routes.keys()].find((k) => k.includes('10.2.0.0/24'))!);
      const nh = [...o.nexthops.values()][0];
      nh.encap = { type: 'seg6', mode: 'encap', segments: ['fc00::9'] };
      [...o.nexthops.values()][1].oif = 77;
      const sid = [...o.routes.values()].find((r) => r.encap?.type === 'seg6local')!;
      delete (sid.encap as { counters?: unknown }).counters;
      o.routes.set('4|10000|10.99.0.0/24|0', { dst: '10.99.0.0/24', family: 4, table: 10000, type: 'unicast', nhid: 1, protocol: own.protocol });
      o.routes.set('6|254|fc00:0:1:99::/128|1024', { dst: 'fc00:0:1:99::/128', family: 6, table: 254, type: 'blackhole', protocol: own.protocol });
      const stray: Rule = { family: 4, priority: own.rulePriority, iif: 'gone0', table: 10007, protocol: own.protocol };
      o.rules.set(`4|${own.rulePriority}|gone0||lookup 10007`, stray);
      o.nexthops.set(999, { id: 999, family: 6, oif: 2, protocol: own.protocol });
      o.addresses.set('ta0|10.0.0.99/24', { index: 4, family: 4, address: '10.0.0.99/24', scope: 0, flags: 0, protocol: own.protocol, ifname: 'ta0' });
      o.addresses.delete('tb0|10.0.1.1/24');
      o.links.get('ta1')!.mtu = 9000;
      o.links.get('tb0')!.up = false;
      o.sysctls.set('net/ipv6/conf/ul1/seg6_enabled', '0');
      o.sysctls.delete('net/ipv4/conf/tc0/rp_filter');
      if (mode === 'vrf') {
        o.links.get('tc0')!.master = undefined;
        o.links.get('vrf-b')!.table = 4242;
      }
      return { desired, observed: o, ctx: ctx({ ownedVrfs: vrfs, configured: { ta0: 1500, ta1: 1500, tb0: 1500, tc0: 1500 } }) };
    },
    'a change of every tenant (deleted, routes changed, table moved, added)': () => {
      const o = observedFrom(buildKernelObjects(base(mode), mode, own));
      o.localRuleAtZero = new Set();
      return {
        desired: buildKernelObjects(next(mode), mode, own),
        observed: o,
        ctx: ctx({
          ownedVrfs: vrfs,
          configured: { ta0: 1500, ta1: 1400, tb0: 9000, tc0: undefined },
          originalSysctls: {
            'net/ipv4/conf/tb0/rp_filter': '1',
            'net/ipv4/conf/ta0/rp_filter': '1',
            'net/ipv4/conf/all/forwarding': '0',
            'net/ipv6/conf/ul7/seg6_enabled': '0',
          },
        }),
      };
    },
    'the last tenant gone': () => {
      const o = observedFrom(buildKernelObjects(base(mode), mode, own));
      o.localRuleAtZero = new Set();
      return {
        desired: buildKernelObjects(onlyNode(), mode, own),
        observed: o,
        ctx: ctx({
          ownedVrfs: vrfs,
          configured: { ta0: 1500, ta1: 1400, tb0: 9000, tc0: undefined },
          originalSysctls: {
            'net/ipv4/conf/all/rp_filter': '2',
            'net/vrf/strict_mode': '0',
            'net/ipv4/conf/tb0/rp_filter': '1',
            'net/ipv4/conf/ta1/rp_filter': '0',
            'net/ipv6/conf/ul0/seg6_enabled': '0',
          },
        }),
      };
    },
    'a tenant interface missing (degraded), a saved one gone': () => {
      const all = buildKernelObjects(base(mode), mode, own);
      const o = observedFrom(all);
      o.links.delete('ta1');
      o.localRuleAtZero = new Set();
      for (const k of [...o.addresses.keys()]) if (k.startsWith('ta1|')) o.addresses.delete(k);
      return {
        desired: withoutDevices(all, new Set(['ta1'])),
        observed: o,
        ctx: ctx({
          ownedVrfs: vrfs,
          configured: { ta0: 1500, ta1: 1500, tb0: 1500, tc0: 1500, gone0: 1500 },
          originalSysctls: { 'net/ipv4/conf/ta1/rp_filter': '1', 'net/ipv4/conf/gone0/rp_filter': '1' },
        }),
      };
    },
  };
}

describe('golden plans (plan(): every op, in order)', () => {
  it('PHASES', () => {
    expect(PHASES).toMatchSnapshot();
  });

  for (const mode of MODES)
    for (const [name, make] of Object.entries(scenarios(mode)))
      it(`${mode} mode: ${name}`, () => {
        const s = make();
        expect(lines(plan(s.desired, s.observed, s.ctx))).toMatchSnapshot();
      });

  it.each(MODES)('%s mode: refusals name the object', (mode) => {
    const desired = buildKernelObjects(base(mode), mode, own);
    const o = observedFrom(desired);
    o.links.delete('tc0');
    const errors: string[] = [];
    try {
      plan(desired, o, ctx());
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
    if (mode === 'vrf') {
      const f = observedFrom(desired);
      f.links.set('vrf-a', { ...f.links.get('vrf-a')!, kind: 'veth', table: undefined });
      try {
        plan(desired, f, ctx());
      } catch (e) {
        errors.push(`${(e as Error).name}: ${(e as Error).message}`);
      }
    }
    expect(errors).toMatchSnapshot();
  });
});

/** A recording rtnetlink for the applier: batches (what + bytes), link reads, sysctl writes. */
function applierKernel(links: Link[], fail: (what: string) => boolean, failSysctl: (path: string) => boolean) {
  const log: string[] = [];
  let n = 200;
  const made: Link[] = [];
  const nl = {
    batch: async (reqs: Iterable<{ type: number; flags: number; body: Buffer; what: string }>) => {
      const list = [...reqs];
      log.push(`batch ${list.length}`);
      return list.map((r) => {
        log.push(`  ${r.what} type=${r.type} flags=${r.flags} ${r.body.toString('hex')}`);
        if (r.type === 16 && / \(vrf\)$/.test(r.what))
          made.push({ index: n++, name: r.what.split(' ')[1], kind: 'vrf', mtu: 65575, up: true, lowerUp: true, flags: 1, operstate: 'up' });
        return fail(r.what)
          ? { ok: false, error: Object.assign(new Error('EEXIST: File exists'), { errno: 17, code: 'EEXIST', extack: 'exists already' }) }
          : { ok: true };
      });
    },
    links: async () => {
      log.push('links');
      return [...links, ...made];
    },
    sysctl: {
      set: (path: string[], value: string) => {
        log.push(`sysctl ${path.join('.')}=${value}`);
        if (failSysctl(path.join('.'))) throw Object.assign(new Error(`EACCES /proc/sys/${path.join('/')}`), { code: 'EACCES' });
      },
    },
  } as unknown as Rtnetlink;
  return { nl, log };
}

describe('golden applies (Applier: batches, request bytes, descriptions, failures, counts)', () => {
  for (const mode of MODES)
    for (const [name, make] of Object.entries(scenarios(mode))) {
      it(`${mode} mode: ${name}`, async () => {
        const s = make();
        const ops = plan(s.desired, s.observed, s.ctx);
        const k = applierKernel(
          [...s.observed.links.values()],
          (what) => / table 10001\b|^rule .*iif tb0|^nexthop 1$|^address 10\.0\.0\.99/.test(what),
          (p) => p.includes('ul1'),
        );
        const res = await new Applier(k.nl, own).apply(ops, s.observed.links);
        const failed = res.failed.map((f) => ({ ...f, opIndex: ops.indexOf(f.op!), opEnumerable: Object.keys(f).includes('op') }));
        expect({
          log: k.log,
          created: res.created,
          updated: res.updated,
          deleted: res.deleted,
          operations: res.operations,
          failed: json(failed),
        }).toMatchSnapshot();
      });
    }

  it.each(MODES)('%s mode: interfaces that do not resolve (the op described without a request)', async (mode) => {
    const desired = buildKernelObjects(base(mode), mode, own);
    const ops = plan(
      desired,
      {
        links: new Map(baseLinks().map((l) => [l.name, l])),
        addresses: new Map(),
        nexthops: new Map(),
        routes: new Map(),
        rules: new Map(),
        sysctls: new Map(),
        localRuleAtZero: new Set([4]),
      },
      ctx(),
    );
    const gone = new Set(['ul0', 'tb0', 'vrf-c']);
    const links = baseLinks().filter((l) => !gone.has(l.name));
    const k = applierKernel(
      links,
      () => false,
      () => false,
    );
    const res = await new Applier(k.nl, own).apply(ops, new Map(links.map((l) => [l.name, l])));
    expect(res.failed.map((f) => `${f.kind} ${f.action} | ${f.what} | ${f.message}`)).toMatchSnapshot();
  });

  it('every action of every kind is counted in its bucket', async () => {
    const ops: Op[] = [
      { kind: 'vrf', action: 'create', name: 'vrf-x', table: 7 },
      { kind: 'vrf', action: 'delete', name: 'vrf-y', table: 8 },
      { kind: 'sysctl', action: 'set', path: ['net', 'ipv4', 'conf', 'all', 'forwarding'], value: '1' },
      { kind: 'sysctl', action: 'restore', path: ['net', 'vrf', 'strict_mode'], value: '0' },
      { kind: 'link', action: 'configure', link: { name: 'ta0', master: null, mtu: 1400 } },
      { kind: 'link', action: 'release', name: 'ta1', mtu: 1500 },
      { kind: 'link', action: 'release', name: 'tb0' },
      { kind: 'address', action: 'create', ifname: 'ta0', address: '10.0.0.1/24', noprefixroute: true },
      { kind: 'address', action: 'delete', ifname: 'ta0', address: 'fd00::1/64', noprefixroute: false },
      {
        kind: 'nexthop',
        action: 'create',
        nexthop: { id: 5, family: 6, oifName: 'ul0', protocol: 196, encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1'] } },
      },
      {
        kind: 'nexthop',
        action: 'replace',
        nexthop: { id: 6, family: 6, oifName: 'ul0', protocol: 196, encap: { type: 'seg6', mode: 'encap.red', segments: ['fc00::1', 'fc00::2'] } },
      },
      { kind: 'nexthop', action: 'delete', id: 7 },
      { kind: 'route', action: 'create', route: { family: 4, dst: '10.1.0.0/24', table: 7, nhid: 5, protocol: 196 } },
      {
        kind: 'route',
        action: 'replace',
        route: { family: 6, dst: 'fc00:0:1::/128', table: 254, oifName: 'ul0', protocol: 196, encap: { type: 'seg6local', action: 'End.DT6', table: 7 } },
      },
      { kind: 'route', action: 'create', route: { family: 6, dst: 'fc00::1/128', table: 7, type: 'throw', protocol: 196 } },
      { kind: 'route', action: 'delete', route: { family: 4, dst: '10.2.0.0/24', table: 7, type: 'unicast', nhid: 5, protocol: 196 } },
      { kind: 'rule', action: 'create', rule: { family: 4, priority: 1000, iif: 'ta0', table: 7, protocol: 196 } },
      { kind: 'rule', action: 'delete', rule: { family: 6, priority: 0, table: 255 } },
    ];
    const k = applierKernel(
      baseLinks(),
      () => false,
      () => false,
    );
    const res = await new Applier(k.nl, own).apply(ops, new Map(baseLinks().map((l) => [l.name, l])));
    expect({ log: k.log, created: res.created, updated: res.updated, deleted: res.deleted, failed: res.failed }).toMatchSnapshot();
  });
});

/** A strict fake kernel for the reconciler: answers reads from lists, logs every read, accepts every write. */
class ReadKernel {
  readonly log: string[] = [];
  readonly nl: Rtnetlink;

  constructor(
    readonly links: Link[],
    readonly addresses: Address[],
    readonly nexthops: Nexthop[],
    readonly routes: Route[],
    readonly rules: Rule[],
    readonly sysctls: Map<string, string>,
  ) {
    const strict = <T extends object>(impl: T): T =>
      new Proxy(impl, {
        get(t, k) {
          if (!(k in t)) throw new Error(`unexpected use of ${String(k)}`);
          return (t as Record<string | symbol, unknown>)[k];
        },
      });
    const log = (s: string) => this.log.push(s);
    this.nl = strict({
      socket: strict({ netns: undefined }),
      sysctl: strict({
        get: (p: string[]) => {
          log(`sysctl get ${p.join('.')}`);
          const v = this.sysctls.get(p.join('/'));
          if (v === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
          return v;
        },
        set: (p: string[], v: string) => void this.sysctls.set(p.join('/'), String(v)),
      }),
      links: async () => (log('links'), this.links),
      link: async (name: string) => (log(`link ${name}`), this.links.find((l) => l.name === name)),
      addresses: async (family?: number, index?: number) => (
        log(`addresses ${family ?? '-'} ${index ?? '-'}`),
        this.addresses.filter((a) => index === undefined || a.index === index)
      ),
      nexthops: async () => (log('nexthops'), this.nexthops),
      nexthop: async (id: number) => (log(`nexthop ${id}`), this.nexthops.find((n) => n.id === id)),
      routes: async (f: { table?: number; protocol?: number; family?: number } = {}) => {
        log(`routes table=${f.table ?? '-'} protocol=${f.protocol ?? '-'}`);
        return this.routes.filter((r) => (f.table === undefined || (r.table ?? 254) === f.table) && (f.protocol === undefined || r.protocol === f.protocol));
      },
      rules: async () => (log('rules'), this.rules),
      batch: async (reqs: Iterable<unknown>) => [...reqs].map(() => ({ ok: true })),
    }) as unknown as Rtnetlink;
  }

  /** The log since the last call, sorted (reads run concurrently: their order is not part of the contract). */
  take(): string[] {
    const out = [...this.log].sort();
    this.log.length = 0;
    return out;
  }
}

const seg6 = { tunsrc: async () => undefined, setTunsrc: async () => undefined, close: () => undefined } as unknown as Seg6Genl;

/** The kernel holding base(mode)'s objects as the reconciler builds them, with foreign objects and some drift. */
function readKernel(mode: DataplaneMode): ReadKernel {
  const probe = new Reconciler({ socket: { netns: undefined } } as unknown as Rtnetlink, mode, own, undefined, 60_000, seg6);
  const d = (probe as unknown as { objects(s: DesiredState): KernelObjects }).objects(base(mode));
  const k = kernelOf(d);
  const links = [...k.links.values()];
  const foreign = 2;
  const addresses: Address[] = [
    ...k.addresses.map(({ ifname: _i, ...a }) => a),
    { index: 2, family: 6, address: 'fc00:0:1::1/128', scope: 0, flags: 0 },
    { index: 4, family: 4, address: '10.0.0.77/24', scope: 0, flags: 0, protocol: 4 },
  ];
  const nexthops: Nexthop[] = [...k.nexthops, { id: 5000, family: 6, oif: 2, protocol: foreign }, { id: 999, family: 6, oif: 2, protocol: own.protocol }];
  const extra: Route[] = [
    { family: 4, dst: '192.0.2.0/24', table: 254, type: 'unicast', oif: 2, protocol: foreign },
    { family: 4, dst: '10.77.0.0/24', table: 10000, type: 'unicast', nhid: 999, protocol: own.protocol },
    { family: 6, dst: 'fc00:0:1:99::/128', table: 254, type: 'blackhole', protocol: own.protocol },
  ];
  const routes = [...k.routes, ...extra].filter((r) => !r.dst.startsWith('10.2.0.0'));
  const rules: Rule[] = [
    { family: 4, priority: 0, table: 255 },
    ...k.rules,
    { family: 4, priority: 32766, table: 254 },
    { family: 6, priority: 32766, table: 254 },
    { family: 4, priority: own.rulePriority, iif: 'gone0', table: 10007, protocol: own.protocol },
  ];
  return new ReadKernel(links, addresses, nexthops, routes, rules, new Map([...k.sysctls, ['net/ipv6/conf/ul1/seg6_enabled', '0']]));
}

const reconcilerOf = (k: ReadKernel, mode: DataplaneMode) => new Reconciler(k.nl, mode, own, undefined, 60_000, seg6);

describe('golden reads (Reconciler: observe, plan, planTenant, kept reads)', () => {
  it.each(MODES)('%s mode: observe() and a full plan', async (mode) => {
    const k = readKernel(mode);
    const r = reconcilerOf(k, mode);
    const o = await r.observe();
    const observeReads = k.take();
    const s = {
      ...base(mode),
      ownedVrfs: ['vrf-a', 'vrf-b', 'vrf-c', 'vrf-z'],
      originalMtu: { ta0: 1500, tz0: 1500 },
      originalSysctl: { 'net/ipv4/conf/tz0/rp_filter': '1', 'net/ipv6/conf/ul1/seg6_enabled': '0' },
    };
    const p = await r.plan(s);
    expect({
      // fields in name order (their order in the object is no contract; each map's order is)
      observed: json(Object.fromEntries(Object.entries({ ...o, links: [...o.links.keys()] }).sort(([a], [b]) => a.localeCompare(b)))),
      observeReads,
      plan: lines(p.ops),
      planReads: k.take(),
      missing: p.missing,
      forget: p.forget,
      forgetSysctls: p.forgetSysctls,
      sysctls: json(p.sysctls),
      links: [...p.links.keys()],
    }).toMatchSnapshot();
  });

  it.each(MODES)('%s mode: planTenant() of every kind of tenant change', async (mode) => {
    const k = readKernel(mode);
    const r = reconcilerOf(k, mode);
    const prev = {
      ...base(mode),
      ownedVrfs: mode === 'vrf' ? ['vrf-a', 'vrf-b', 'vrf-c'] : [],
      originalMtu: { ta0: 1500, ta1: 1400, tb0: 9000, tc0: 1500 },
      originalSysctl: { 'net/ipv4/conf/tb0/rp_filter': '1', 'net/ipv4/conf/ta0/rp_filter': '2', 'net/ipv6/conf/ul9/seg6_enabled': '0' },
    };
    const nxt = { ...next(mode), ownedVrfs: prev.ownedVrfs, originalMtu: prev.originalMtu, originalSysctl: prev.originalSysctl };
    const out: Record<string, unknown> = {};
    for (const id of ['a', 'b', 'c', 'd']) {
      const p = await r.planTenant(prev, nxt, id);
      out[id] = {
        ops: lines(p.ops),
        reads: k.take(),
        missing: p.missing,
        forget: p.forget,
        forgetSysctls: p.forgetSysctls,
        sysctls: json(p.sysctls),
        links: [...p.links.keys()].sort(),
      };
    }
    // a missing interface the tenant had: degraded; one the job adds: refused
    const gone = readKernel(mode);
    gone.links.splice(
      gone.links.findIndex((l) => l.name === 'ta1'),
      1,
    );
    gone.links.splice(
      gone.links.findIndex((l) => l.name === 'td0'),
      1,
    );
    const rg = reconcilerOf(gone, mode);
    const pa = await rg.planTenant(prev, nxt, 'a');
    out.aMissing = { ops: lines(pa.ops), missing: pa.missing, forget: pa.forget };
    out.dMissing = await rg.planTenant(prev, nxt, 'd').then(
      () => 'planned',
      (e: Error) => `${e.name}: ${e.message}`,
    );
    expect(out).toMatchSnapshot();
  });

  it('planTenant(): a group shares one read of the rules and of main; kept reads are used until invalidated', async () => {
    const k = readKernel('table');
    const r = reconcilerOf(k, 'table');
    const prev = base('table');
    const nxt = next('table');
    const shared: SharedReads = {};
    await r.planTenant(prev, nxt, 'a', shared);
    await r.planTenant(prev, nxt, 'd', shared);
    const grouped = k.take().filter((x) => x === 'rules' || x.startsWith('routes table=254'));
    r.enableReadCache();
    await r.planTenant(prev, nxt, 'a');
    await r.planTenant(prev, nxt, 'a');
    const kept = k.take().filter((x) => x === 'rules' || x.startsWith('routes table=254'));
    expect({ grouped, kept }).toEqual({ grouped: ['routes table=254 protocol=196', 'rules'], kept: ['routes table=254 protocol=196', 'rules'] });
  });

  /** Which kept reads (rules, main) the next tenant plan reads again after `change`. */
  async function readAgainAfter(change: (r: Reconciler) => void): Promise<string[]> {
    const k = readKernel('table');
    const r = reconcilerOf(k, 'table');
    r.enableReadCache();
    await r.planTenant(base('table'), next('table'), 'a');
    k.take();
    change(r);
    await r.planTenant(base('table'), next('table'), 'a');
    return k.take().filter((x) => x === 'rules' || x.startsWith('routes table=254'));
  }

  const SAMPLE_OPS: Record<string, Op> = {
    'vrf create': { kind: 'vrf', action: 'create', name: 'vrf-x', table: 7 },
    'vrf delete': { kind: 'vrf', action: 'delete', name: 'vrf-x', table: 7 },
    'sysctl set': { kind: 'sysctl', action: 'set', path: ['net', 'ipv4', 'conf', 'all', 'forwarding'], value: '1' },
    'sysctl restore': { kind: 'sysctl', action: 'restore', path: ['net', 'vrf', 'strict_mode'], value: '0' },
    'link configure': { kind: 'link', action: 'configure', link: { name: 'ta0', master: null, mtu: 1400 } },
    'link release': { kind: 'link', action: 'release', name: 'ta1', mtu: 1500 },
    'address create': { kind: 'address', action: 'create', ifname: 'ta0', address: '10.0.0.1/24', noprefixroute: true },
    'address delete': { kind: 'address', action: 'delete', ifname: 'ta0', address: '10.0.0.1/24', noprefixroute: false },
    'nexthop create': { kind: 'nexthop', action: 'create', nexthop: { id: 5, family: 6, oifName: 'ul0', protocol: 196 } },
    'nexthop replace': { kind: 'nexthop', action: 'replace', nexthop: { id: 5, family: 6, oifName: 'ul0', protocol: 196 } },
    'nexthop delete': { kind: 'nexthop', action: 'delete', id: 5 },
    'route create in a tenant table': { kind: 'route', action: 'create', route: { family: 4, dst: '10.1.0.0/24', table: 7, nhid: 5 } },
    'route replace in main': { kind: 'route', action: 'replace', route: { family: 6, dst: 'fc00:0:1::/128', table: 254, type: 'blackhole' } },
    'route create, no table (main)': { kind: 'route', action: 'create', route: { family: 6, dst: 'fc00:0:1::/128', type: 'blackhole' } },
    'route delete in main': { kind: 'route', action: 'delete', route: { family: 6, dst: 'fc00:0:1::/128', table: 254, type: 'blackhole' } },
    'route delete in a tenant table': { kind: 'route', action: 'delete', route: { family: 6, dst: 'fc00::/64', table: 7, type: 'unicast' } },
    'rule create': { kind: 'rule', action: 'create', rule: { family: 4, priority: 1000, iif: 'ta0', table: 7 } },
    'rule delete': { kind: 'rule', action: 'delete', rule: { family: 4, priority: 0, table: 255 } },
  };

  it("the agent's own operations invalidate the kept reads they may touch (ADR 0012)", async () => {
    const out: Record<string, string[]> = {};
    out['nothing'] = await readAgainAfter(() => undefined);
    for (const [name, op] of Object.entries(SAMPLE_OPS))
      out[name] = await readAgainAfter((r) => (r as unknown as { changedByApply(ops: Op[]): void }).changedByApply([op]));
    expect(out).toMatchSnapshot();
  });

  it('changes by others invalidate what their event may touch (ADR 0012)', async () => {
    const events: Record<string, MonitorEvent | undefined> = {
      'unknown (overrun)': undefined,
      link: { pid: 1, kind: 'link', action: 'new', link: baseLinks()[3] },
      address: { pid: 1, kind: 'address', action: 'del', address: { index: 4, family: 4, address: '10.0.0.1/24', scope: 0, flags: 0 } },
      'route in main': { pid: 1, kind: 'route', action: 'new', route: { dst: '10.0.0.0/8', table: 254 } },
      'route, no table': { pid: 1, kind: 'route', action: 'new', route: { dst: '10.0.0.0/8' } },
      'route in a tenant table': { pid: 1, kind: 'route', action: 'del', route: { dst: '10.0.0.0/8', table: 10000 } },
      nexthop: { pid: 1, kind: 'nexthop', action: 'new', nexthop: { id: 3 } },
      rule: { pid: 1, kind: 'rule', action: 'del', rule: { family: 4, priority: 0, table: 255 } },
    };
    const out: Record<string, string[]> = {};
    for (const [name, e] of Object.entries(events)) out[name] = await readAgainAfter((r) => r.kernelChanged(e));
    expect(out).toMatchSnapshot();
  });

  it.each(MODES)('%s mode: owned objects per kind (/v1/state, srv6_agent_owned_objects)', (mode) => {
    const o = buildKernelObjects(base(mode), mode, own);
    // recorded from { vrf: o.vrfs.size, link: o.links.size, ... } in that key order
    expect(Object.entries(countByKind(o))).toMatchSnapshot();
  });
});
