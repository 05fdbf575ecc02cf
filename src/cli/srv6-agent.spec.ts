// The CLI's exit codes and messages for everything that stops before the agent starts, and the
// configuration `serve` derives from its options.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CONFIG_DEFAULTS } from '../config/agent.config';
import { recordingIo } from '../testing/cli-io';
import { explainStartError, fieldGiven, main, SANDBOX_HYPERVISOR, SANDBOX_STATE_DIR, serveConfig } from './srv6-agent';

const io = recordingIo;

describe('srv6-agent main()', () => {
  it('--help prints the usage to stdout and exits 0', async () => {
    const o = io();
    expect(await main(['--help'], o, {})).toBe(0);
    expect(o.stdout()).toMatch(/^Usage: srv6-agent <command>/);
    expect(o.stdout()).toMatch(/Exit status:\n {2}0 {2}success\n/);
    expect(o.stderr()).toBe('');
  });

  it("help COMMAND and COMMAND --help print that command's help", async () => {
    const a = io();
    expect(await main(['help', 'submit'], a, {})).toBe(0);
    const b = io();
    expect(await main(['submit', '--help'], b, {})).toBe(0);
    expect(a.stdout()).toMatch(/^Usage: srv6-agent submit FILE\|-/);
    expect(b.stdout()).toBe(a.stdout());
  });

  it('--version prints the version (and the commit when the build knew it); --json as JSON', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const a = io();
    expect(await main(['--version'], a, {})).toBe(0);
    expect(a.stdout()).toMatch(new RegExp(`^srv6-agent ${version.replace(/\./g, '\\.')}( \\(commit [0-9a-f]+(-dirty)?\\))?\n$`));
    const b = io();
    expect(await main(['-V', '-j'], b, {})).toBe(0);
    expect(JSON.parse(b.stdout())).toMatchObject({ program: 'srv6-agent', version, node: process.version });
  });

  it("a usage error prints the reason and the command's help to stderr and exits 2", async () => {
    const o = io();
    expect(await main(['serve', '--listen'], o, {})).toBe(2);
    expect(o.stderr()).toMatch(/^srv6-agent: .*--listen/);
    expect(o.stderr()).toContain('Usage: srv6-agent serve');
    expect(o.stdout()).toBe('');
  });

  it('a bad configuration value names the field and exits 2 before anything starts (text logs: on stderr)', async () => {
    const o = io();
    expect(await main(['serve', '--listen', 'nowhere', '--log-format', 'text'], o, {})).toBe(2);
    expect(o.stderr()).toMatch(/server\.listen \(from --listen\): must be HOST:PORT/);
  });

  it('with JSON logs a configuration error is one JSON log line (what journald gets under systemd)', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    try {
      expect(await main(['serve', '--listen', 'nowhere', '--log-format', 'json'], io(), {})).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'fatal',
      context: 'srv6-agent',
      message: expect.stringMatching(/server\.listen \(from --listen\): must be HOST:PORT/),
    });
  });

  it('an unreadable config file exits 2', async () => {
    const o = io();
    expect(await main(['serve', '--config', '/nonexistent/srv6.json', '--log-format', 'text'], o, {})).toBe(2);
    expect(o.stderr()).toMatch(/config file \/nonexistent\/srv6\.json\): cannot read: ENOENT/);
  });

  it('a missing job file exits 2 and says so', async () => {
    const o = io();
    expect(await main(['submit', '/nonexistent/jobs.yaml'], o, {})).toBe(2);
    expect(o.stderr()).toBe('srv6-agent: cannot read the job file /nonexistent/jobs.yaml: no such file\n');
  });

  it('an unreadable token file exits 2 before anything is sent', async () => {
    const o = io();
    expect(await main(['state', '--token-file', '/nonexistent/token'], o, {})).toBe(2);
    expect(o.stderr()).toMatch(/cannot read the token file \/nonexistent\/token: it does not exist/);
  });
});

describe('serve configuration', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'srv6t-cli-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--sandbox keeps its state and its queue apart from a real agent's", () => {
    const c = serveConfig({ command: 'serve', sandbox: true }, {});
    expect(c.kernel.netns).toBe('srv6-sandbox');
    expect(c.state.dir).toBe(SANDBOX_STATE_DIR);
    expect(SANDBOX_STATE_DIR).toBe('/var/lib/srv6-agent/sandbox');
    expect(c.agent.hypervisor).toBe(SANDBOX_HYPERVISOR);
    expect(c.agent.hypervisor).toMatch(/-sandbox$/);
    expect(c.agent.hypervisor.length).toBeLessThanOrEqual(63);
    const real = serveConfig({ command: 'serve', sandbox: false }, {});
    expect(real.state.dir).toBe(CONFIG_DEFAULTS.state.dir);
    expect(real.agent.hypervisor).toBe(CONFIG_DEFAULTS.agent.hypervisor);
  });

  it('orphans: refused by default; --wipe-orphans or SRV6_STATE_ORPHANS=wipe wipe; --sandbox wipes unless told otherwise', () => {
    expect(serveConfig({ command: 'serve', sandbox: false }, {}).state.orphans).toBe('refuse');
    expect(serveConfig({ command: 'serve', sandbox: false, wipeOrphans: true }, {}).state.orphans).toBe('wipe');
    expect(serveConfig({ command: 'serve', sandbox: false }, { SRV6_STATE_ORPHANS: 'wipe' }).state.orphans).toBe('wipe');
    expect(serveConfig({ command: 'serve', sandbox: true }, {}).state.orphans).toBe('wipe');
    expect(serveConfig({ command: 'serve', sandbox: true }, { SRV6_STATE_ORPHANS: 'refuse' }).state.orphans).toBe('refuse');
    expect(() => serveConfig({ command: 'serve', sandbox: false }, { SRV6_STATE_ORPHANS: 'adopt' })).toThrow(
      /state\.orphans \(from SRV6_STATE_ORPHANS\): must be refuse or wipe/,
    );
  });

  it('--sandbox leaves a state dir and hypervisor given by the environment, the file or an option', () => {
    expect(serveConfig({ command: 'serve', sandbox: true }, { SRV6_STATE_DIR: '/srv/x', SRV6_HYPERVISOR: 'hv9' })).toMatchObject({
      state: { dir: '/srv/x' },
      agent: { hypervisor: 'hv9' },
    });
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ state: { dir: '/srv/y' }, agent: { hypervisor: 'hv8' } }));
    expect(serveConfig({ command: 'serve', sandbox: true, config: file }, {})).toMatchObject({ state: { dir: '/srv/y' }, agent: { hypervisor: 'hv8' } });
    expect(serveConfig({ command: 'serve', sandbox: true, stateDir: '/srv/z' }, {})).toMatchObject({ state: { dir: '/srv/z' } });
    expect(serveConfig({ command: 'serve', sandbox: false, stateDir: '/srv/z' }, { SRV6_STATE_DIR: '/srv/x' })).toMatchObject({ state: { dir: '/srv/z' } });
  });

  it('only --sandbox, the file or the environment let serve start a throwaway Redis (issue 15, defect 12)', () => {
    expect(serveConfig({ command: 'serve', sandbox: false }, {}).redis.embedded).toBe(false);
    expect(serveConfig({ command: 'serve', sandbox: true }, {}).redis.embedded).toBe(true);
    expect(serveConfig({ command: 'serve', sandbox: true }, { SRV6_REDIS_EMBEDDED: 'false' }).redis.embedded).toBe(false);
    expect(serveConfig({ command: 'serve', sandbox: false }, { SRV6_REDIS_EMBEDDED: 'true' }).redis.embedded).toBe(true);
    const file = join(dir, 'no-embedded.json');
    writeFileSync(file, JSON.stringify({ redis: { embedded: false } }));
    expect(serveConfig({ command: 'serve', sandbox: true, config: file }, {}).redis.embedded).toBe(false);
  });

  it('fieldGiven reads the file only for the question asked, and never fails on a bad file', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    expect(fieldGiven('state.dir', {}, bad)).toBe(false);
    expect(fieldGiven('state.dir', {}, join(dir, 'missing.json'))).toBe(false);
    expect(fieldGiven('state.dir', { SRV6_STATE_DIR: '' }, undefined)).toBe(true);
  });

  it('log level: info by default; the file < SRV6_LOG_LEVEL < --log-level', () => {
    expect(serveConfig({ command: 'serve', sandbox: false }, {}).log.level).toBe('info');
    const file = join(dir, 'log.json');
    writeFileSync(file, JSON.stringify({ log: { level: 'warn' } }));
    expect(serveConfig({ command: 'serve', sandbox: false, config: file }, {}).log.level).toBe('warn');
    expect(serveConfig({ command: 'serve', sandbox: false, config: file }, { SRV6_LOG_LEVEL: 'debug' }).log.level).toBe('debug');
    expect(serveConfig({ command: 'serve', sandbox: false, config: file, logLevel: 'error' }, { SRV6_LOG_LEVEL: 'debug' }).log.level).toBe('error');
    expect(() => serveConfig({ command: 'serve', sandbox: false }, { SRV6_LOG_LEVEL: 'loud' })).toThrow(
      /log\.level \(from SRV6_LOG_LEVEL\): must be one of fatal, error, warn, info, debug, verbose/,
    );
  });

  it('explains the start failures a person can fix', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:9610'), { code: 'EADDRINUSE' });
    expect(explainStartError(inUse, { listen: '127.0.0.1:9610' })).toMatch(
      /another process \(another srv6-agent\?\) listens on 127\.0\.0\.1:9610; stop it or choose another address \(--listen \/ SRV6_LISTEN\)/,
    );
    expect(explainStartError(new Error('plain'))).toBe('plain');
  });
});
