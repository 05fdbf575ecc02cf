// deploy/: the systemd unit (checked by systemd-analyze itself), the example configuration, and
// docs/operations.md staying complete (every config field, environment variable and metric).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CONFIG_DEFAULTS, CONFIG_ENV } from '../config/agent.config';
import { loadConfig } from '../config/config.loader';
import { MetricsService } from '../metrics/metrics.service';
import { EXIT, parseCli } from './cli-args';

const ROOT = join(__dirname, '..', '..');
const UNIT_PATH = join(ROOT, 'deploy', 'srv6-agent.service');
const UNIT = readFileSync(UNIT_PATH, 'utf8');
const INSTALL_DIR = '/opt/srv6-agent';

/** The unit as section → key → values (a key may repeat). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] = {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (out[section]![key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

const unit = parseUnit(UNIT);
const service = unit.Service!;
const one = (key: string) => {
  expect(service[key]).toHaveLength(1);
  return service[key]![0]!;
};

describe('deploy/srv6-agent.service', () => {
  it('readiness: Type=notify, every process of the unit may notify (systemd-notify is a child)', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('all');
  });

  it("runs the installed CLI's serve with the config file, as the CLI parses it", () => {
    const [node, script, ...args] = one('ExecStart').split(/\s+/);
    expect(node).toBe('/usr/bin/node');
    expect(script).toBe(`${INSTALL_DIR}/dist/src/cli/srv6-agent.js`);
    expect(parseCli(args!, {})).toEqual({ command: 'serve', sandbox: false, config: '/etc/srv6-agent/config.json' });
    expect(service.EnvironmentFile).toEqual(['-/etc/srv6-agent/env']);
    expect(service.Environment).toEqual(['SRV6_LOG_FORMAT=json']);
  });

  it('restarts on failure, but not after a configuration error (exit 2)', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe(String(EXIT.USAGE));
  });

  it('SIGTERM to the agent alone (it leaves the dataplane in place), the rest of the unit after it', () => {
    expect(one('KillMode')).toBe('mixed');
    expect(one('KillSignal')).toBe('SIGTERM');
  });

  it('capabilities bounded to what the agent needs; no privilege gain', () => {
    expect(one('CapabilityBoundingSet').split(/\s+/).sort()).toEqual(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_SYS_ADMIN']);
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(service.User ?? ['root']).toEqual(['root']); // see the unit's comment on AmbientCapabilities
  });

  it('file system protection: read-only but for the state dir, /run/netns and bpffs', () => {
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('StateDirectory')).toBe('srv6-agent');
    expect(`/var/lib/${one('StateDirectory')}`).toBe(CONFIG_DEFAULTS.state.dir);
    expect(one('ReadWritePaths').split(/\s+/)).toEqual(['/run/netns', '-/sys/fs/bpf']);
    for (const k of ['ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelModules', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality'])
      expect(one(k)).toBe('yes');
    expect(one('RestrictAddressFamilies').split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  });

  it('nothing that would break it: writable net sysctls, a JIT, the host network, namespaces', () => {
    for (const k of ['ProtectKernelTunables', 'MemoryDenyWriteExecute', 'PrivateNetwork', 'RestrictNamespaces', 'SystemCallFilter', 'DynamicUser'])
      expect(service[k]).toBeUndefined();
  });
});

const analyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = 'systemd-analyze missing: add the Debian package systemd to scripts/setup.sh';

(analyze ? describe : describe.skip)(`systemd-analyze on the unit${analyze ? '' : ` (skipped: ${SKIP})`}`, () => {
  let dir: string;
  let copy: string;
  beforeAll(() => {
    // verify checks that ExecStart's program exists: the copy points at this checkout and this node.
    dir = mkdtempSync(join(tmpdir(), 'srv6t-unit-'));
    copy = join(dir, 'srv6-agent.service');
    writeFileSync(
      copy,
      UNIT.replace(/\/usr\/bin\/node\b/g, process.execPath)
        .split(INSTALL_DIR)
        .join(ROOT),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('systemd-analyze verify: no error, no warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr.trim(), stdout: r.stdout.trim() }).toEqual({ status: 0, stderr: '', stdout: '' });
  });

  it('systemd-analyze verify does catch a broken unit (the check is real)', () => {
    const broken = join(dir, 'broken.service');
    writeFileSync(broken, readFileSync(copy, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=stritc'));
    const r = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/Failed to parse protect system value/);
  });

  it('systemd-analyze security: exposure at most 5.5 (root with CAP_SYS_ADMIN, everything else locked down)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], { encoding: 'utf8' });
    if (/unrecognized option/.test(r.stderr)) return; // systemd < 250 cannot score a unit file offline
    const m = /Overall exposure level for srv6-agent\.service: (\d+\.\d)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(5.5);
  });
});

describe('deploy/config.example.json and env.example', () => {
  it('the example configuration loads as it is', () => {
    const file = join(ROOT, 'deploy', 'config.example.json');
    const c = loadConfig({ env: {}, file });
    expect(c.auth.tokenFile).toBe('/etc/srv6-agent/token');
    // left out on purpose: it must differ on every hypervisor (default: the host name)
    expect(JSON.parse(readFileSync(file, 'utf8')).agent?.hypervisor).toBeUndefined();
  });

  it('env.example names every environment variable the agent reads', () => {
    const text = readFileSync(join(ROOT, 'deploy', 'env.example'), 'utf8');
    for (const v of [...Object.values(CONFIG_ENV), 'SRV6_LOG_FORMAT']) expect(text).toContain(`#${v}=`);
  });
});

describe('docs/operations.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');

  it('documents every configuration field and its environment variable', () => {
    for (const [field, env] of Object.entries(CONFIG_ENV)) {
      expect(doc).toContain(`\`${field}\``);
      expect(doc).toContain(`\`${env}\``);
    }
  });

  it('documents every metric the agent exports', () => {
    const names = new MetricsService().registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((n) => !/^(process_|nodejs_)/.test(n));
    expect(names.length).toBeGreaterThan(4);
    for (const n of names) expect(doc).toContain(`\`${n}\``);
  });

  it('documents every exit status of the CLI', () => {
    for (const code of Object.values(EXIT)) expect(doc).toMatch(new RegExp(`\\| ${code} \\|`));
  });
});
