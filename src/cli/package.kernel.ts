// Kernel tier (a slow host test; root not needed): `npm run package` builds the Debian package
// from the current build, and it is unpacked into a throwaway root with dpkg-deb -x (nothing is
// installed on this system, dpkg's database is not touched). The installed commands run from that
// root with the system's Node; the unit, man pages and completions are checked by the tools that
// will read them (systemd-analyze, groff, bash).
//
//   scripts/package.sh --no-build --fast --out <tmp>/out  →  srv6-agent_<version>_<arch>.deb
//   dpkg-deb -x <deb> <tmp>/root;  <tmp>/root/usr/bin/srv6-agent --version, ...
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { FIB_TBID_PROBE, XDP_PROBE_OBJECTS } from '../capabilities/bpf-prober';
import { DEFAULT_OWNERSHIP } from '../dataplane/kernel-objects';
import { objectPath } from '../trace/backend';
import { IPFT_OPTIONS } from '../trace/ipft-args';
import { COMMAND_OPTIONS } from './cli-args';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const INSTALL = 'opt/srv6-agent';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
/** `it`, or a skip that names what is missing: "… [skipped: no systemd-analyze]". */
const itIf = (cmd: string) => (has(cmd) ? it : (name: string, fn: jest.ProvidesCallback) => it.skip(`${name} [skipped: no ${cmd}]`, fn));

let tmp: string;
let deb: string;
let root: string;
const at = (p: string) => join(root, p);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'srv6t-package-'));
  const t0 = Date.now();
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'package.sh'), '--no-build', '--fast', '--out', join(tmp, 'out')], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`scripts/package.sh failed (${r.status}):\n${r.stderr}`);
  deb = r.stdout.trim().split('\n').pop()!;
  process.stdout.write(`package: ${relative(tmp, deb)} built in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${statSync(deb).size} bytes\n`);
  root = join(tmp, 'root');
  execFileSync('dpkg-deb', ['-x', deb, root]);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the .deb', () => {
  it('is srv6-agent_<package.json version>_<arch>.deb', () => {
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    expect(deb).toBe(join(tmp, 'out', `srv6-agent_${PKG.version}_${arch}.deb`));
  });

  it("control: the version, Node of package.json's engines, the libraries the addons link, iproute2; Redis recommended", () => {
    const field = (f: string) => execFileSync('dpkg-deb', ['-f', deb, f], { encoding: 'utf8' }).trim();
    expect(field('Package')).toBe('srv6-agent');
    expect(field('Version')).toBe(PKG.version);
    const depends = field('Depends').split(/,\s*/);
    expect(depends).toContain(`nodejs (>= ${/(\d+)/.exec(PKG.engines.node)![1]})`);
    expect(depends).toContain('iproute2');
    expect(depends.some((d) => /^libbpf1 \(>= /.test(d))).toBe(true);
    expect(field('Recommends')).toBe('redis-server');
  });

  it('every file owned by root; the env file (it may hold the Redis password) readable by root only', () => {
    const list = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .trim()
      .split('\n');
    expect(list.length).toBeGreaterThan(1000);
    expect(list.filter((l) => !/^\S+ root\/root /.test(l))).toEqual([]);
    expect(list.find((l) => l.endsWith(' ./etc/srv6-agent/env'))).toMatch(/^-rw------- /);
  });

  it('conffiles: the configuration and the protocol name; maintainer scripts that parse and spare chroots', () => {
    const control = join(tmp, 'control');
    execFileSync('dpkg-deb', ['-e', deb, control]);
    expect(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n').sort()).toEqual([
      '/etc/iproute2/rt_protos.d/srv6-agent.conf',
      '/etc/srv6-agent/config.json',
      '/etc/srv6-agent/env',
    ]);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      expect(spawnSync('sh', ['-n', join(control, script)]).status).toBe(0);
      const text = readFileSync(join(control, script), 'utf8');
      // systemctl never fails the package operation, and runs only where systemd does.
      for (const line of text.split('\n').filter((l) => /^\s*systemctl /.test(l))) expect(line).toMatch(/\|\| true$/);
      if (text.includes('systemctl ')) expect(text).toContain('[ -d /run/systemd/system ]');
    }
  });
});

describe('installed into a throwaway root', () => {
  const run = (cmd: string, ...args: string[]) => execFileSync(at(`usr/bin/${cmd}`), args, { encoding: 'utf8', env: { PATH: process.env.PATH } });
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined; // a checkout without git: no commit to name
    }
  })();

  it.each(['srv6-agent', 'ipft'])('%s --version: the version and the commit built from, run by /usr/bin/node', (cmd) => {
    expect(existsSync('/usr/bin/node')).toBe(true); // what the wrappers run (Depends: nodejs)
    const line = run(cmd, '--version');
    expect(line).toMatch(new RegExp(`^${cmd} ${PKG.version.replace(/\./g, '\\.')}${commit ? ` \\(commit ${commit}(-dirty)?\\)` : ''}\\n$`));
    expect(JSON.parse(run(cmd, '--version', '--json'))).toMatchObject({
      program: cmd,
      version: PKG.version,
      commit: commit ? expect.stringMatching(new RegExp(`^${commit}`)) : null,
    });
  });

  it('the commands run from the tree in /opt, not from this checkout', () => {
    const wrapper = readFileSync(at('usr/bin/srv6-agent'), 'utf8');
    expect(wrapper).toMatch(/^#!\/bin\/sh\n/);
    expect(wrapper).toContain('exec /usr/bin/node "$here/../../opt/srv6-agent/dist/src/cli/srv6-agent.js" "$@"');
    expect(statSync(at('usr/bin/ipft')).mode & 0o777).toBe(0o755);
    expect(run('srv6-agent', 'help')).toMatch(/^Usage: srv6-agent <command>/);
    expect(run('ipft', '--help')).toMatch(/^Usage: ipft /);
  });

  it('/opt/srv6-agent: the compiled program without tests, the addon, the BPF objects loaded at run time, docs', () => {
    for (const f of [
      'package.json',
      'dist/build-info.json',
      'dist/src/cli/srv6-agent.js',
      'dist/src/cli/ipft.js',
      'dist/src/main.js',
      'build/Release/srv6_native.node',
      'docs/operations.md',
    ])
      expect(existsSync(at(`${INSTALL}/${f}`))).toBe(true);
    expect(existsSync(at('usr/share/doc/srv6-agent/examples/sandbox.yaml'))).toBe(true);
    // The objects the code opens (bpf-prober.ts, backend.ts objectPath, xdp-offload.ts's default).
    const bpf = [FIB_TBID_PROBE.file, relative(ROOT, objectPath('ipft')), relative(ROOT, objectPath('probe')), 'bpf/build/xdp/srv6_decap.bpf.o'];
    for (const f of bpf) expect(existsSync(at(`${INSTALL}/${f}`))).toBe(true);
    expect(XDP_PROBE_OBJECTS.some((o) => existsSync(at(`${INSTALL}/${o.file}`)))).toBe(true);
    const dist: string[] = readdirSync(at(`${INSTALL}/dist`), { recursive: true }) as string[];
    expect(dist.filter((f) => /\.(spec|kernel|test)\.js$|\.map$|(^|\/)testing\//.test(f) || f.startsWith('bench') || f.startsWith('netns-tests'))).toEqual([]);
  });

  it('node_modules: every production dependency (npm ls), no development one', () => {
    const r = spawnSync('npm', ['ls', '--omit=dev', '--all', '--offline'], { cwd: at(INSTALL), encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: '' });
    for (const dev of ['typescript', 'jest', 'ts-jest', 'node-gyp', '@types/node']) expect(existsSync(at(`${INSTALL}/node_modules/${dev}`))).toBe(false);
  });

  const asRoot = process.getuid?.() === 0 ? it : (name: string, fn: jest.ProvidesCallback) => it.skip(`${name} [skipped: not root]`, fn);
  asRoot('the installed capability probe and ipft -l load the packaged BPF objects and find what the checkout finds', () => {
    const features = (js: string) => {
      const caps = JSON.parse(execFileSync(process.execPath, [js, 'capabilities'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
        features: Record<string, { supported: boolean }>;
      };
      return Object.fromEntries(Object.entries(caps.features).map(([k, v]) => [k, v.supported]));
    };
    const installed = features(at(`${INSTALL}/dist/src/cli/srv6-agent.js`));
    expect(Object.keys(installed)).toEqual(expect.arrayContaining(['bpf.fib_lookup_tbid', 'xdp.generic']));
    expect(installed).toEqual(features(join(ROOT, 'dist', 'src', 'cli', 'srv6-agent.js')));
    const targets = (cmd: string[]) =>
      execFileSync(cmd[0]!, [...cmd.slice(1), '-l', '-j', '-r', '^(net_dev_queue|consume_skb|ip6_output)$'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const listed = targets([at('usr/bin/ipft')]);
    expect(JSON.parse(listed).targets.length).toBeGreaterThan(0);
    expect(listed).toBe(targets([process.execPath, join(ROOT, 'dist', 'src', 'cli', 'ipft.js')]));
  });

  it("the unit in /lib/systemd/system is deploy/'s, with SyslogIdentifier=srv6-agent", () => {
    const unit = readFileSync(at('lib/systemd/system/srv6-agent.service'), 'utf8');
    expect(unit).toBe(readFileSync(join(ROOT, 'deploy', 'srv6-agent.service'), 'utf8'));
    expect(unit).toMatch(/^SyslogIdentifier=srv6-agent$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/srv6-agent\/dist\/src\/cli\/srv6-agent\.js serve /m);
  });

  itIf('systemd-analyze')('systemd-analyze verify: the installed unit, no error, no warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', at('lib/systemd/system/srv6-agent.service')], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr.trim(), stdout: r.stdout.trim() }).toEqual({ status: 0, stderr: '', stdout: '' });
  });

  it('/etc: the example configuration, the env file, the name of protocol 196 for iproute2', () => {
    expect(readFileSync(at('etc/srv6-agent/config.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'deploy', 'config.example.json'), 'utf8'));
    expect(readFileSync(at('etc/srv6-agent/env'), 'utf8')).toBe(readFileSync(join(ROOT, 'deploy', 'env.example'), 'utf8'));
    const protos = readFileSync(at('etc/iproute2/rt_protos.d/srv6-agent.conf'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    expect(protos).toEqual([`${DEFAULT_OWNERSHIP.protocol}\tsrv6-agent`]);
  });

  it('bash completion for both commands: valid bash that completes their options', () => {
    for (const cmd of ['srv6-agent', 'ipft']) {
      const file = at(`usr/share/bash-completion/completions/${cmd}`);
      expect(spawnSync('bash', ['-n', file]).status).toBe(0);
      const fn = cmd === 'ipft' ? '_ipft' : '_srv6_agent';
      const words = cmd === 'ipft' ? ['ipft', '--'] : ['srv6-agent', 'serve', '--'];
      const r = spawnSync(
        'bash',
        ['--norc', '-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`, file, ...words],
        { encoding: 'utf8' },
      );
      const want = Object.keys(cmd === 'ipft' ? IPFT_OPTIONS : { ...COMMAND_OPTIONS.serve, help: 0 }).map((o) => `--${o}`);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(want.sort());
    }
  });

  it('man pages srv6-agent(8) and ipft(8) are there, gzipped', () => {
    for (const cmd of ['srv6-agent', 'ipft'])
      expect(execFileSync('zcat', [at(`usr/share/man/man8/${cmd}.8.gz`)], { encoding: 'utf8' })).toMatch(new RegExp(`^\\.TH ${cmd.toUpperCase()} 8 `, 'm'));
  });

  itIf('groff')('groff renders the man pages without a warning, with every option of the commands', () => {
    for (const [cmd, options] of [
      ['srv6-agent', Object.values(COMMAND_OPTIONS).flatMap((o) => Object.keys(o))],
      ['ipft', Object.keys(IPFT_OPTIONS)],
    ] as const) {
      const page = execFileSync('zcat', [at(`usr/share/man/man8/${cmd}.8.gz`)]);
      const warnings = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
      expect({ status: warnings.status, stderr: warnings.stderr }).toEqual({ status: 0, stderr: '' });
      const text = spawnSync('groff', ['-man', '-Tascii', '-P-cbou', '-rLL=200n'], { input: page, encoding: 'utf8' }).stdout;
      expect(text).toMatch(new RegExp(`^NAME\\n\\s+${cmd} - `, 'm'));
      for (const o of options) expect(text).toContain(`--${o}`);
    }
  });

  itIf('man')('man -l shows the page', () => {
    const r = spawnSync('man', ['-l', at('usr/share/man/man8/srv6-agent.8.gz')], {
      encoding: 'utf8',
      env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^SRV6-AGENT\(8\)/);
  });
});
