// The reconciler against a strict fake kernel (no rtnetlink socket): what it saves of the sysctls it
// changes, when it puts them back, and what a tenant-scoped plan may touch. The fake holds links
// and sysctls only; routes, rules and nexthops are always missing, so only sysctl ops are compared.
import type { Link } from '../netlink/link';
import type { Rtnetlink } from '../netlink/rtnetlink';
import type { Seg6Genl } from '../netlink/seg6-genl';
import { DesiredState, emptyState } from './desired-state';
import { DEFAULT_OWNERSHIP, DataplaneMode } from './kernel-objects';
import type { Op } from './planner';
import { Reconciler } from './reconciler';
import { deleteTenant, upsertNode, upsertTenant } from './state-transitions';

/** Fails on any member nobody expected to be used. */
function strict<T extends object>(impl: T): T {
  return new Proxy(impl, {
    get(t, k) {
      if (!(k in t)) throw new Error(`unexpected use of ${String(k)}`);
      return (t as any)[k];
    },
  });
}

class FakeKernel {
  readonly links: Link[];
  /** sysctl values by key ("net/ipv4/conf/ta0/rp_filter"); a per-interface one exists while its link does. */
  readonly sysctls: Map<string, string>;
  readonly nl: Rtnetlink;

  constructor(links: string[], sysctls: Record<string, string>) {
    this.links = links.map((name, i) => ({ index: i + 2, name, mtu: 1500, up: true, lowerUp: true, flags: 1, operstate: 'up' }));
    this.sysctls = new Map(Object.entries(sysctls));
    const key = (p: string[]) => {
      const k = p.join('/');
      const dev = p[2] === 'conf' && p[3] !== 'all' && p[3] !== 'default' ? p[3] : undefined;
      if (!this.sysctls.has(k) || (dev && !this.links.some((l) => l.name === dev))) throw Object.assign(new Error(`ENOENT /proc/sys/${k}`), { code: 'ENOENT' });
      return k;
    };
    const sysctl = strict({
      get: (p: string[]) => this.sysctls.get(key(p))!,
      set: (p: string[], v: string | number) => void this.sysctls.set(key(p), String(v)),
    });
    this.nl = strict({
      socket: strict({ netns: undefined }),
      sysctl,
      links: async () => this.links,
      link: async (name: string) => this.links.find((l) => l.name === name),
      addresses: async () => [],
      nexthops: async () => [],
      nexthop: async () => undefined,
      routes: async () => [],
      rules: async () => [],
      batch: async (reqs: Iterable<unknown>) => [...reqs].map(() => ({ ok: true })),
    }) as unknown as Rtnetlink;
  }

  get(key: string): string | undefined {
    return this.sysctls.get(key);
  }
}

const seg6 = strict({ tunsrc: async () => undefined, setTunsrc: async () => undefined, close: () => undefined }) as unknown as Seg6Genl;
const node = (underlay: string[]) => ({ underlay, locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 });
const tenant = (id: string, itf: string) => ({ id, behaviour: 'End.DT6' as const, interfaces: [{ name: itf, gateways: ['10.0.0.1/24'] }], routes: [] });
const sysctlOps = (ops: Op[]) => ops.filter((op) => op.kind === 'sysctl').map((op) => `${op.action} ${(op as any).path.join('.')}=${(op as any).value}`);
const NODE_SYSCTLS = { 'net/ipv4/conf/all/forwarding': '0', 'net/ipv6/conf/all/forwarding': '0', 'net/ipv6/conf/all/seg6_enabled': '0' };

function reconciler(k: FakeKernel, mode: DataplaneMode = 'table'): Reconciler {
  return new Reconciler(k.nl, mode, DEFAULT_OWNERSHIP, undefined, undefined, seg6);
}

describe('Reconciler: sysctls the agent changed get their value from before back when no longer desired', () => {
  it('full reconciles: saved (on disk before the kernel changes) when first set; the old underlay restored and forgotten; a resync then plans none', async () => {
    const k = new FakeKernel(['ul0', 'ul2'], { ...NODE_SYSCTLS, 'net/ipv6/conf/ul0/seg6_enabled': '0', 'net/ipv6/conf/ul2/seg6_enabled': '0' });
    const r = reconciler(k);
    let written: DesiredState | undefined;
    const first = await r.reconcile(upsertNode(emptyState(), node(['ul0'])), (s) => void (written = s));
    expect(written!.originalSysctl).toEqual({ ...NODE_SYSCTLS, 'net/ipv6/conf/ul0/seg6_enabled': '0' });
    expect(first.state.originalSysctl).toBe(written!.originalSysctl);
    expect(k.get('net/ipv6/conf/ul0/seg6_enabled')).toBe('1');

    const second = await r.reconcile(upsertNode(first.state, node(['ul2'])));
    expect(second.failed).toEqual([]);
    expect([k.get('net/ipv6/conf/ul0/seg6_enabled'), k.get('net/ipv6/conf/ul2/seg6_enabled')]).toEqual(['0', '1']);
    expect(second.state.originalSysctl).toEqual({ ...NODE_SYSCTLS, 'net/ipv6/conf/ul2/seg6_enabled': '0' });
    const again = await r.plan(second.state);
    expect(sysctlOps(again.ops)).toEqual([]);
    expect(r.prepare(again).state).toBe(second.state); // nothing new to save: nothing to write
  });

  it('a saved sysctl whose interface is gone is forgotten, with nothing to restore; a failed restore is kept for the next reconcile', async () => {
    const k = new FakeKernel(['ul0', 'ul3'], { ...NODE_SYSCTLS, 'net/ipv6/conf/ul0/seg6_enabled': '1', 'net/ipv6/conf/ul3/seg6_enabled': '1' });
    k.sysctls.delete('net/ipv6/conf/ul3/seg6_enabled'); // exists as a link, but refuses the write
    const r = reconciler(k);
    const s = { ...upsertNode(emptyState(), node(['ul0'])), originalSysctl: { 'net/ipv4/conf/tap9/rp_filter': '1', 'net/ipv6/conf/ul3/seg6_enabled': '0' } };
    const planned = await r.plan(s);
    expect(planned.forgetSysctls).toEqual(['net/ipv4/conf/tap9/rp_filter']);
    const res = await r.reconcile(s);
    expect(res.failed.map((f) => `${f.action} ${f.what}`)).toEqual(['restore sysctl net.ipv6.conf.ul3.seg6_enabled']);
    expect(res.state.originalSysctl).toEqual({ ...NODE_SYSCTLS, 'net/ipv6/conf/ul3/seg6_enabled': '0' });
  });

  it("tenant-scoped: a deleted tenant's interface gets its rp_filter back, all.rp_filter only with the last tenant; an old underlay's is left to full reconciles", async () => {
    const k = new FakeKernel(['ul0', 'ul9', 'ta0', 'tb0'], {
      ...NODE_SYSCTLS,
      'net/ipv4/conf/all/rp_filter': '1',
      'net/ipv6/conf/ul0/seg6_enabled': '0',
      'net/ipv6/conf/ul9/seg6_enabled': '1',
      'net/ipv4/conf/ta0/rp_filter': '1',
      'net/ipv4/conf/tb0/rp_filter': '2',
    });
    const r = reconciler(k);
    const both = upsertTenant(upsertTenant(upsertNode(emptyState(), node(['ul0'])), tenant('a', 'ta0'), 'table'), tenant('b', 'tb0'), 'table');
    const full = await r.reconcile(both);
    expect(full.state.originalSysctl).toMatchObject({
      'net/ipv4/conf/all/rp_filter': '1',
      'net/ipv4/conf/ta0/rp_filter': '1',
      'net/ipv4/conf/tb0/rp_filter': '2',
    });
    const s0: DesiredState = { ...full.state, originalSysctl: { ...full.state.originalSysctl, 'net/ipv6/conf/ul9/seg6_enabled': '0' } };

    const s1 = deleteTenant(s0, 'a');
    expect(sysctlOps((await r.planTenant(s0, s1, 'a')).ops)).toEqual(['restore net.ipv4.conf.ta0.rp_filter=1']);
    const ra = await r.reconcileTenant(s0, s1, 'a');
    expect(k.get('net/ipv4/conf/ta0/rp_filter')).toBe('1');
    expect(ra.state.originalSysctl).not.toHaveProperty('net/ipv4/conf/ta0/rp_filter');

    const s2 = deleteTenant(ra.state, 'b');
    const rb = await r.reconcileTenant(ra.state, s2, 'b');
    expect([k.get('net/ipv4/conf/all/rp_filter'), k.get('net/ipv4/conf/tb0/rp_filter'), k.get('net/ipv6/conf/ul9/seg6_enabled')]).toEqual(['1', '2', '1']);
    expect(Object.keys(rb.state.originalSysctl).filter((x) => x.includes('rp_filter'))).toEqual([]);

    // the node's own: a full reconcile
    const rest = await r.reconcile(rb.state);
    expect(k.get('net/ipv6/conf/ul9/seg6_enabled')).toBe('0');
    expect(rest.state.originalSysctl).toEqual({ ...NODE_SYSCTLS, 'net/ipv6/conf/ul0/seg6_enabled': '0' });
  });

  it("tenant-scoped: another tenant still there keeps the node-wide ones (strict_mode in VRF mode) set; a new tenant's interface is saved before it is set", async () => {
    const k = new FakeKernel(['ul0', 'ta0', 'tb0'], {
      ...NODE_SYSCTLS,
      'net/vrf/strict_mode': '0',
      'net/ipv6/conf/ul0/seg6_enabled': '0',
      'net/ipv4/conf/ta0/rp_filter': '0',
      'net/ipv4/conf/tb0/rp_filter': '1',
    });
    const r = reconciler(k, 'vrf');
    const a = upsertTenant(upsertNode(emptyState(), node(['ul0'])), tenant('a', 'ta0'), 'vrf');
    const first = await r.reconcile(a);
    expect(first.state.originalSysctl).toMatchObject({ 'net/vrf/strict_mode': '0', 'net/ipv4/conf/ta0/rp_filter': '0' });
    const ab = upsertTenant(first.state, tenant('b', 'tb0'), 'vrf');
    const planned = r.prepare(await r.planTenant(first.state, ab, 'b'));
    expect(sysctlOps(planned.ops)).toEqual(['set net.ipv4.conf.tb0.rp_filter=2']);
    expect(planned.state.originalSysctl['net/ipv4/conf/tb0/rp_filter']).toBe('1');
    const b = await r.apply(planned, 'tenant');
    // a deleted, b still there: strict_mode stays (a plan cut down to tenant a alone would have restored it)
    expect(sysctlOps((await r.planTenant(b.state, deleteTenant(b.state, 'a'), 'a')).ops)).toEqual(['restore net.ipv4.conf.ta0.rp_filter=0']);
    // b deleted instead, with a there: the same
    expect(sysctlOps((await r.planTenant(b.state, deleteTenant(b.state, 'b'), 'b')).ops)).toEqual(['restore net.ipv4.conf.tb0.rp_filter=1']);
  });
});

describe('Reconciler: VRF ownership is written ahead, and follows each operation, not its description', () => {
  it('a failed vrf-ab does not hide that vrf-a was made (both are named in the failure text)', async () => {
    const k = new FakeKernel(['ul0'], {});
    const failing = (what: string) => /vrf-ab/.test(what);
    const nl = strict({
      ...(k.nl as unknown as Record<string, unknown>),
      socket: strict({ netns: undefined }),
      links: async () => k.links,
      batch: async (reqs: Iterable<{ what: string }>) =>
        [...reqs].map((r) =>
          failing(r.what) ? { ok: false, error: Object.assign(new Error('EEXIST: File exists'), { code: 'EEXIST', errno: 17 }) } : { ok: true },
        ),
    }) as unknown as Rtnetlink;
    const r = new Reconciler(nl, 'vrf', DEFAULT_OWNERSHIP, undefined, undefined, seg6);
    const ops: Op[] = [
      { kind: 'vrf', action: 'create', name: 'vrf-a', table: 10000 },
      { kind: 'vrf', action: 'create', name: 'vrf-ab', table: 10001 },
    ];
    const planned = r.prepare({ ops, state: emptyState(), links: new Map(k.links.map((l) => [l.name, l])) });
    // Owned before the kernel is asked (the state written ahead): a crash after the create leaves no VRF the restart takes for foreign.
    expect(planned.state.ownedVrfs).toEqual(['vrf-a', 'vrf-ab']);
    const out = await r.apply(planned, 'tenant');
    expect(out.failed.map((f) => f.what)).toEqual([expect.stringContaining('vrf-ab')]);
    expect(out.state.ownedVrfs).toEqual(['vrf-a']);
  });
});
