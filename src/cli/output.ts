// What the CLI prints for people: job results and failures, the job list, the state. Pure
// functions over the REST API's JSON: unit-tested.
import type { JobFailure, JobView } from '../jobs/job-queue';

type Counts = Partial<Record<string, number>>;

/** What a REST job result holds (JobOutcome of the processor, as JSON). */
export interface ResultLike {
  created?: Counts;
  updated?: Counts;
  deleted?: Counts;
  operations?: number;
  durationMs?: number;
  version?: number;
  duplicate?: boolean;
}

/** A failed kernel operation (OpFailure, as JSON). */
interface OpFailureLike {
  kind?: string;
  action?: string;
  what?: string;
  errno?: number;
  code?: string;
  extack?: string;
  message?: string;
}

export const TERMINAL_STATES = ['completed', 'failed'];

function counts(c: Counts | undefined): string {
  return Object.entries(c ?? {})
    .filter(([, n]) => n)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** "created vrf 1, route 3; updated link 1; 12 kernel operations in 4 ms; state v7". */
export function summarizeResult(r: unknown): string {
  if (!r || typeof r !== 'object') return '';
  const res = r as ResultLike;
  const parts: string[] = [];
  for (const k of ['created', 'updated', 'deleted'] as const) {
    const c = counts(res[k]);
    if (c) parts.push(`${k} ${c}`);
  }
  if (!parts.length) parts.push('no changes');
  if (typeof res.operations === 'number')
    parts.push(
      `${res.operations} kernel operation${res.operations === 1 ? '' : 's'}${typeof res.durationMs === 'number' ? ` in ${Math.round(res.durationMs)} ms` : ''}`,
    );
  if (typeof res.version === 'number') parts.push(`state v${res.version}`);
  if (res.duplicate) parts.push('duplicate: nothing applied again');
  return parts.join('; ');
}

/** One kernel operation that failed: "route add 10.1.0.0/24 table 10000: EINVAL (errno 22): extack". */
export function describeOpFailure(f: OpFailureLike): string {
  const what = f.what ?? [f.action, f.kind].filter(Boolean).join(' ');
  const errno = f.code ? `${f.code}${f.errno !== undefined ? ` (errno ${f.errno})` : ''}` : '';
  const detail = f.extack ? `kernel says: ${f.extack}` : f.message && f.message !== f.code ? f.message : '';
  return [what, errno, detail].filter(Boolean).join(': ');
}

/** Lines that explain a failed job to a person: what failed, each field/kernel error, what to do. */
export function describeFailure(f: JobFailure | undefined, maxFailures = 20): string[] {
  if (!f) return ['failed (the agent gave no reason)'];
  const lines = [`${f.name}: ${f.message}`];
  for (const e of f.errors ?? []) lines.push(`  ${e.field}: ${e.messages.join('; ')}`);
  const ops = (f.failures ?? []) as OpFailureLike[];
  for (const op of ops.slice(0, maxFailures)) lines.push(`  ${describeOpFailure(op)}`);
  if (ops.length > maxFailures) lines.push(`  ... and ${ops.length - maxFailures} more failed operations (srv6-agent jobs ID --json shows all)`);
  if (!ops.length && (f.code || f.extack))
    lines.push(`  ${describeOpFailure({ code: f.code as string, errno: f.errno as number, extack: f.extack as string })}`);
  if (f.name === 'CapabilityMissingError' || f.feature) {
    lines.push(`  \`srv6-agent capabilities --url URL\` shows what this host's kernel supports and the mode the agent runs in`);
  } else if (f.name === 'MissingInterfaceError') {
    lines.push(
      `  create the VM's interface${f.ifname ? ` ${f.ifname}` : ''} first, or check that the agent manages the right network namespace (kernel.netns)`,
    );
  } else if (f.name === 'UnknownTenantError') {
    lines.push('  submit an upsert-tenant job for it first (srv6-agent state lists the tenants)');
  } else if (f.retry === 'transient') {
    lines.push('  a transient error: the agent retried it with backoff; submitting the job again usually works');
  }
  return lines;
}

/** "2024-05-01 10:00:00Z" (UTC, seconds). */
export function formatTime(ms: number | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '-';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

function ms(n: number): string {
  return n < 10_000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`;
}

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return (
    [header, ...rows]
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** The job list as a table, newest first (as the agent returns it). */
export function formatJobsTable(jobs: JobView[]): string {
  if (!jobs.length) return 'no jobs\n';
  return table(
    ['ID', 'TYPE', 'STATE', 'SUBMITTED', 'TOOK', 'OUTCOME'],
    jobs.map((j) => [
      j.id,
      j.type ?? '?',
      j.state,
      formatTime(j.submittedAt),
      j.finishedAt ? ms(j.finishedAt - j.submittedAt) : '-',
      truncate(j.state === 'failed' ? (j.failure?.message ?? 'failed') : j.state === 'completed' ? summarizeResult(j.result) : '', 100),
    ]),
  );
}

/** One job for a person. */
export function formatJob(j: JobView, duplicate = false): string {
  const lines = [`job ${j.id}: ${j.type ?? '?'}, ${j.state}${duplicate ? " (duplicate idempotency key: this is the first submission's job)" : ''}`];
  if (j.idempotencyKey) lines.push(`  idempotency key  ${j.idempotencyKey}`);
  lines.push(`  submitted        ${formatTime(j.submittedAt)}`);
  if (j.finishedAt) lines.push(`  finished         ${formatTime(j.finishedAt)} (${ms(j.finishedAt - j.submittedAt)} after submission)`);
  if (j.state === 'completed') lines.push(`  result           ${summarizeResult(j.result)}`);
  if (j.state === 'failed') lines.push(...describeFailure(j.failure).map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}

/** GET /v1/state, as StateService.summary() returns it. */
export interface StateSummaryLike {
  hypervisor: string;
  mode: string;
  version: number;
  node: { underlay: string[]; locator: string; encapSource: string; underlayMtu: number } | null;
  owned: Record<string, number>;
  driftRepairs: number;
  tenants: {
    id: string;
    table: number;
    sid: string;
    behaviour: string;
    interfaces: string[];
    missingInterfaces?: string[];
    routes: number;
    decap: { packets: number; bytes: number; errors: number } | null;
  }[];
}

export function formatState(s: StateSummaryLike): string {
  const lines = [`hypervisor ${s.hypervisor}, ${s.mode} mode, desired state v${s.version}, ${s.driftRepairs} drift repair${s.driftRepairs === 1 ? '' : 's'}`];
  lines.push(
    s.node
      ? `node: underlay ${s.node.underlay.join(',')}, locator ${s.node.locator}, encap source ${s.node.encapSource}, underlay MTU ${s.node.underlayMtu}`
      : 'node: not configured yet (submit an upsert-node job)',
  );
  lines.push(`owned kernel objects: ${counts(s.owned) || 'none'}`);
  if (!s.tenants.length) return `${lines.join('\n')}\ntenants: none\n`;
  lines.push('');
  const t = table(
    ['TENANT', 'TABLE', 'SID', 'BEHAVIOUR', 'INTERFACES', 'ROUTES', 'DECAP PKTS', 'BYTES', 'ERRORS'],
    s.tenants.map((x) => [
      x.id,
      String(x.table),
      x.sid,
      x.behaviour,
      x.interfaces.map((n) => (x.missingInterfaces?.includes(n) ? `${n}(MISSING)` : n)).join(',') || '-',
      String(x.routes),
      ...(x.decap ? [String(x.decap.packets), String(x.decap.bytes), String(x.decap.errors)] : ['-', '-', '-']),
    ]),
  );
  const missing = s.tenants.flatMap((x) => (x.missingInterfaces ?? []).map((n) => `${x.id}/${n}`));
  const note = missing.length ? `\nmissing interfaces (degraded, configured when they appear): ${missing.join(', ')}\n` : '';
  return `${lines.join('\n')}\n${t}${note}`;
}

/** GET /v1/tenants/:id, as StateService.tenant() returns it. */
export interface TenantViewLike {
  desired: {
    id: string;
    table: number;
    behaviour: string;
    sid: string;
    dx?: { nexthop: string; interface: string };
    interfaces: { name: string; gateways: string[] }[];
    routes: Record<string, { prefix: string; sids: string[]; mode: string }>;
    xdpOffload: boolean;
    description?: string;
  };
  observed: {
    routesInTable: number;
    interfaces: ({ name: string; up: boolean; mtu: number; master: number | string | null } | { name: string; missing: true })[];
    decap: { packets: number; bytes: number; errors: number } | null;
  };
}

export function formatTenant(t: TenantViewLike, maxRoutes = 50): string {
  const d = t.desired;
  const lines = [
    `tenant ${d.id}${d.description ? ` (${d.description})` : ''}: table ${d.table}, ${d.behaviour} on SID ${d.sid}${d.dx ? ` to ${d.dx.nexthop} via ${d.dx.interface}` : ''}, XDP offload ${d.xdpOffload ? 'on' : 'off'}`,
  ];
  lines.push('interfaces:');
  if (!d.interfaces.length) lines.push('  none');
  for (const i of d.interfaces) {
    const o = t.observed.interfaces.find((x) => x.name === i.name);
    const seen = !o
      ? 'not observed'
      : 'missing' in o
        ? 'MISSING in the kernel'
        : `${o.up ? 'up' : 'DOWN'}, mtu ${o.mtu}${o.master !== null ? `, master ${o.master}` : ''}`;
    lines.push(`  ${i.name}: ${seen}; gateways ${i.gateways.join(', ') || '-'}`);
  }
  const routes = Object.values(d.routes);
  lines.push(`remote routes: ${routes.length} desired, ${t.observed.routesInTable} owned routes in table ${d.table}`);
  for (const r of routes.slice(0, maxRoutes)) lines.push(`  ${r.prefix} via ${r.sids.join(',')} (${r.mode})`);
  if (routes.length > maxRoutes) lines.push(`  ... and ${routes.length - maxRoutes} more (--json shows all)`);
  const c = t.observed.decap;
  lines.push(
    c ? `decap counters: ${c.packets} packets, ${c.bytes} bytes, ${c.errors} errors` : 'decap counters: none (the SID route is missing or has no counters)',
  );
  return lines.join('\n') + '\n';
}
