// Unit: the shipped dashboard (deploy/grafana) and alert rules (deploy/prometheus) query only
// metrics the agent really exports: a MetricsService fed one of everything renders /metrics, and
// every metric name in their PromQL must be among its series.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

import { MetricsService, ScrapeSource } from './metrics.service';

const ROOT = join(__dirname, '..', '..');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'srv6-agent.json');
const RULES = join(ROOT, 'deploy', 'prometheus', 'srv6-agent.rules.yml');

/** Series Prometheus makes itself for every target: not the agent's to export. */
const SCRAPE_SERIES = new Set(['up']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

/** The metric names a PromQL expression reads. */
export function promqlMetrics(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings (label values, regexes)
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, '') // Grafana variables
    .replace(/\{[^}]*\}/g, '{}') // label matchers: label names
    .replace(/\[[^\]]*\]/g, '[]') // ranges, subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists (`sum by (le) (x)`: sum's argument follows)
    .replace(/\boffset\s+\w+/g, '');
  const names: string[] = [];
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = s.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest)) continue; // a function
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/[0-9.]$/.test(s.slice(0, m.index!))) continue; // 1e3, 0x1f
    names.push(m[0]);
  }
  return names;
}

/** A source that reports one of everything the agent can export. */
function everything(): ScrapeSource {
  return {
    ownedObjects: () => ({ route: 1 }),
    driftRepairs: () => 1,
    reconciles: () => ({ job: 1, startup: 1 }),
    missingInterfaces: () => [{ tenant: 'alpha', interface: 'tap0' }],
    sidCounters: async () => [{ tenant: 'alpha', sid: 'fc00::1', behaviour: 'End.DT4', packets: 1n, bytes: 1n, errors: 1n }],
    xdpCounters: async () => ({
      sids: [{ tenant: 'alpha', sid: 'fc00::1', behaviour: 'End.DT4', packets: 1, bytes: 1, passed: { no_neigh: 1 } }],
      reasons: { redirect: 1, no_sid: 1 },
      attachments: [{ ifname: 'ul0', mode: 'generic' }],
    }),
    queueCounts: async () => ({ waiting: 1, active: 1, delayed: 1, failed: 1, completed: 1, paused: 1 }),
    ready: async () => true,
  };
}

/** Every series name in the exposition (a histogram's _bucket/_sum/_count included). */
async function exported(): Promise<Set<string>> {
  const m = new MetricsService();
  m.attach(everything());
  m.jobStarted('resync', 0.1);
  m.jobDone('resync', 'completed', 0.1);
  const text = await m.text();
  return new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(l)![0]),
  );
}

function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[]; panels?: unknown[] }[];
    templating: { list: { query?: unknown }[] };
  };
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  // Template variables: label_values(metric, label) reads `metric`.
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const lv = q && /label_values\(\s*([^,)]+)/.exec(q);
    if (lv) exprs.push(lv[1]);
  }
  return exprs;
}

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

function rules(): Rule[] {
  const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe('promqlMetrics', () => {
  it('finds metric names, not functions, label names, values, ranges or variables', () => {
    expect(promqlMetrics('histogram_quantile(0.99, sum by (le, type) (rate(a_bucket{instance=~"$hypervisor",x="b_c"}[$__rate_interval])))')).toEqual([
      'a_bucket',
    ]);
    expect(promqlMetrics('sum by (instance) (up{job="x"} == 0) and on (instance) b > 1e3 unless c offset 5m')).toEqual(['up', 'b', 'c']);
    expect(promqlMetrics('deriv(sum(m)[10m:1m]) / ignoring(x) group_left n')).toEqual(['m', 'n']);
  });
});

describe('monitoring assets against the metrics the agent exports', () => {
  let names: Set<string>;
  beforeAll(async () => {
    names = await exported();
  });

  it('the agent exports its own metrics prefixed and Node process metrics by their standard names', () => {
    expect([...names].filter((n) => /^srv6_agent_(process|nodejs)_/.test(n))).toEqual([]);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(names).toContain('srv6_agent_job_wait_seconds_bucket');
  });

  it('every metric in the dashboard queries is exported', () => {
    const used = dashboardExprs().flatMap(promqlMetrics);
    expect(used.length).toBeGreaterThan(20);
    expect([...new Set(used)].filter((n) => !names.has(n) && !SCRAPE_SERIES.has(n))).toEqual([]);
  });

  it('every metric in the alert rules is exported', () => {
    const used = rules().flatMap((r) => promqlMetrics(r.expr ?? ''));
    expect(used.length).toBeGreaterThan(5);
    expect([...new Set(used)].filter((n) => !names.has(n) && !SCRAPE_SERIES.has(n))).toEqual([]);
  });
});

describe('deploy/prometheus/srv6-agent.rules.yml', () => {
  it('every rule is an alert with expr, for, a severity, a summary and a description', () => {
    const all = rules();
    expect(all.length).toBeGreaterThan(5);
    for (const r of all) {
      expect({
        alert: r.alert,
        ok: !!(
          r.alert &&
          r.expr &&
          /^\d+[smhd]$/.test(r.for ?? '') &&
          ['critical', 'warning', 'info'].includes(r.labels?.severity ?? '') &&
          r.annotations?.summary &&
          r.annotations?.description
        ),
      }).toEqual({ alert: r.alert, ok: true });
    }
    expect(new Set(all.map((r) => r.alert)).size).toBe(all.length);
  });

  const promtool = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
  (promtool ? it : it.skip)(`promtool check rules${promtool ? '' : ' [skipped: no promtool]'}`, () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });
});
