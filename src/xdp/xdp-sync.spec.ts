// Unit: XdpSync, the reconciler's XDP step, against a fake offload: when it loads, applies, skips,
// unloads, and how offload errors become reconcile failures instead of exceptions.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BpfError } from '../bpf/errors';
import { emptyState } from '../dataplane/desired-state';
import type { DesiredState } from '../dataplane/desired-state';
import { upsertNode, upsertTenant } from '../dataplane/state-transitions';
import type { TenantSpecDto } from '../dataplane/spec.dto';
import { KernelApplyError } from '../jobs/job-runner';
import type { XdpApplyResult, XdpOffloadOptions, XdpSidEntry } from './xdp-offload';
import { OffloadHandle, XdpSync } from './xdp-sync';

class FakeOffload implements OffloadHandle {
  readonly pinDir = '/fake';
  applied: { underlay: string[]; entries: XdpSidEntry[] }[] = [];
  closed = false;
  failApply?: Error;
  fallback?: string;

  async apply(d: { underlay: string[]; entries: XdpSidEntry[] }): Promise<XdpApplyResult> {
    if (this.failApply) throw this.failApply;
    const prev = this.applied.at(-1)?.entries.length ?? 0;
    this.applied.push(d);
    const attachments = d.entries.length
      ? d.underlay.map((ifname, i) => ({
          ifname,
          ifindex: i + 1,
          mode: this.fallback ? ('generic' as const) : ('native' as const),
          linkId: 7,
          progId: 9,
          pin: `/fake/link_${ifname}`,
          ...(this.fallback ? { fallback: this.fallback } : {}),
        }))
      : [];
    return {
      sync: {
        added: Math.max(0, d.entries.length - prev),
        updated: 0,
        deleted: Math.max(0, prev - d.entries.length),
        unchanged: Math.min(prev, d.entries.length),
        egressAdded: 0,
        egressDeleted: 0,
      },
      attachments,
      detached: d.entries.length ? [] : prev ? d.underlay : [],
      updated: [],
      shadowed: [],
    };
  }
  async attachments() {
    return [];
  }
  counters() {
    return [];
  }
  reasons() {
    return {} as ReturnType<OffloadHandle['reasons']>;
  }
  close(): void {
    this.closed = true;
  }
}

const node = { underlay: ['ul0'], locator: 'fc00:0:1::/48', encapSource: 'fc00:0:1::1', underlayMtu: 1500 };
const spec = (id: string, extra: Partial<TenantSpecDto> = {}): TenantSpecDto => ({
  id,
  behaviour: 'End.DT6',
  interfaces: [{ name: `t-${id}`, gateways: [] }],
  routes: [],
  ...extra,
});
const LINKS = new Map([
  ['ul0', { name: 'ul0', index: 2 }],
  ['t-a', { name: 't-a', index: 10 }],
  ['t-b', { name: 't-b', index: 11 }],
]);

let pinRoot: string;
let opens: XdpOffloadOptions[];
let fakes: FakeOffload[];
let openError: Error | undefined;
let logs: string[];
let lookups: string[];

function sync(): XdpSync {
  return new XdpSync({
    nl: { link: async (name) => (lookups.push(name), LINKS.get(name)) },
    netns: 'hv-x',
    pinRoot,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
    open: async (o) => {
      opens.push(o);
      if (openError) throw openError;
      const f = new FakeOffload();
      fakes.push(f);
      return f;
    },
  });
}

const withTenants = (...t: TenantSpecDto[]): DesiredState => t.reduce((s, x) => upsertTenant(s, x, 'table'), upsertNode(emptyState(), node));

beforeEach(() => {
  pinRoot = mkdtempSync(join(tmpdir(), 'srv6t-xsync-'));
  opens = [];
  fakes = [];
  openError = undefined;
  logs = [];
  lookups = [];
});
afterEach(() => rmSync(pinRoot, { recursive: true, force: true }));

describe('XdpSync', () => {
  it('is a no-op while no tenant asks for the offload and nothing is pinned', async () => {
    const x = sync();
    expect(await x.reconcile(withTenants(spec('a')), LINKS, 'full')).toEqual({ failed: [] });
    expect(opens).toEqual([]);
    expect(x.active).toBe(false);
    expect(x.pinDir).toBe(join(pinRoot, 'hv-x'));
  });

  it('loads on the first offloaded tenant, applies its entry, and skips unchanged scoped reconciles', async () => {
    const x = sync();
    const s = withTenants(spec('a', { xdpOffload: true }), spec('b'));
    const r = await x.reconcile(s, LINKS, 'tenant');
    expect(r.failed).toEqual([]);
    expect(opens).toEqual([expect.objectContaining({ netns: 'hv-x', pinRoot })]);
    expect(fakes[0].applied).toEqual([{ underlay: ['ul0'], entries: [{ sid: s.tenants.a.sid, action: 'End.DT6', table: s.tenants.a.table, egress: [10] }] }]);
    expect(r.report).toMatchObject({ sids: 1, added: 1, attachments: [{ ifname: 'ul0', mode: 'native' }], detached: [] });
    // A job about tenant b changes nothing the offload has: no map work.
    expect(await x.reconcile(upsertTenant(s, spec('b', { description: 'x' }), 'table'), new Map(), 'tenant')).toEqual({ failed: [] });
    expect(fakes[0].applied).toHaveLength(1);
    // A full reconcile re-syncs always (it repairs what drifted in the map or the links).
    await x.reconcile(s, LINKS, 'full');
    expect(fakes[0].applied).toHaveLength(2);
    expect(opens).toHaveLength(1);
  });

  it('a scoped reconcile resolves interfaces it did not observe', async () => {
    const x = sync();
    const s = withTenants(spec('a', { xdpOffload: true }), spec('b', { xdpOffload: true }));
    await x.reconcile(s, new Map([['t-b', LINKS.get('t-b')!]]), 'tenant');
    expect(lookups).toEqual(['t-a']);
    expect(fakes[0].applied[0].entries.map((e) => e.egress)).toEqual([[10], [11]]);
  });

  it('detaches and unloads when the last offloaded tenant goes; then loads nothing', async () => {
    const x = sync();
    await x.reconcile(withTenants(spec('a', { xdpOffload: true })), LINKS, 'full');
    const r = await x.reconcile(withTenants(spec('a')), LINKS, 'tenant');
    expect(fakes[0].applied.at(-1)).toEqual({ underlay: ['ul0'], entries: [] });
    expect(r.report).toMatchObject({ sids: 0, deleted: 1, detached: ['ul0'] });
    expect(fakes[0].closed).toBe(true);
    expect(x.active).toBe(false);
    await x.reconcile(withTenants(spec('a')), LINKS, 'full');
    expect(opens).toHaveLength(1);
  });

  it('links pinned by an earlier run with no tenant left: loads to detach them', async () => {
    mkdirSync(join(pinRoot, 'hv-x'));
    writeFileSync(join(pinRoot, 'hv-x', 'link_ul0'), '');
    const x = sync();
    await x.reconcile(withTenants(spec('a')), LINKS, 'full');
    expect(fakes[0].applied).toEqual([{ underlay: ['ul0'], entries: [] }]);
    expect(fakes[0].closed).toBe(true);
  });

  it('a load error is a reconcile failure (kind xdp, errno kept), retried by the next reconcile', async () => {
    const x = sync();
    openError = new BpfError(
      'bpf_object__load: Operation not permitted',
      'bpf_object__load',
      1,
      'EPERM',
      'libbpf: prog srv6_xdp_decap: failed\nverifier: R1 invalid mem access\n',
    );
    const s = withTenants(spec('a', { xdpOffload: true }));
    const r = await x.reconcile(s, LINKS, 'full');
    expect(r.failed).toEqual([
      {
        kind: 'xdp',
        action: 'load',
        what: 'xdp offload on ul0',
        errno: 1,
        code: 'EPERM',
        extack: 'verifier: R1 invalid mem access',
        message: 'xdp offload could not be loaded: bpf_object__load: Operation not permitted',
      },
    ]);
    expect((await x.status(s)).error).toMatchObject({ step: 'load', code: 'EPERM' });
    openError = undefined;
    expect((await x.reconcile(s, new Map(), 'tenant')).failed).toEqual([]);
    expect(fakes).toHaveLength(1);
    expect((await x.status(s)).error).toBeUndefined();
  });

  it('an apply error fails the reconcile; the job layer retries it when the errno is transient', async () => {
    const x = sync();
    const s = withTenants(spec('a', { xdpOffload: true }));
    await x.reconcile(s, LINKS, 'full');
    fakes[0].failApply = new BpfError('bpf_link_create: Device or resource busy', 'bpf_link_create', 16, 'EBUSY');
    const r = await x.reconcile(s, LINKS, 'full');
    expect(r.failed).toMatchObject([{ kind: 'xdp', action: 'apply', code: 'EBUSY' }]);
    expect(new KernelApplyError(r.failed, { created: {}, updated: {}, deleted: {}, failed: r.failed, operations: 0, durationMs: 0, version: 1 }).retry).toBe(
      'transient',
    );
    // A scoped reconcile after a failure does not trust the skip: it applies again.
    fakes[0].failApply = undefined;
    await x.reconcile(s, new Map(), 'tenant');
    expect(fakes[0].applied).toHaveLength(2);
  });

  it('reports a generic-mode fallback once, in the report and the log', async () => {
    const x = sync();
    const s = withTenants(spec('a', { xdpOffload: true }));
    await x.reconcile(s, LINKS, 'full');
    fakes[0].fallback = 'native mode: EOPNOTSUPP';
    const r = await x.reconcile(s, LINKS, 'full');
    await x.reconcile(s, LINKS, 'full');
    expect(r.report?.attachments).toEqual([{ ifname: 'ul0', mode: 'generic', fallback: 'native mode: EOPNOTSUPP' }]);
    expect(logs.filter((l) => l.includes('generic mode'))).toEqual([
      'warn: xdp offload on ul0 runs in generic mode (slower than native): native mode: EOPNOTSUPP',
    ]);
  });
});
