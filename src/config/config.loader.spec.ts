import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseHostPort } from './agent.config';
import { ConfigError, ConfigIssue, loadConfig } from './config.loader';

function issues(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'srv6-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('has defaults for everything', () => {
    const c = loadConfig();
    expect(c.server.listen).toBe('127.0.0.1:9610');
    expect(c.listenAddress).toEqual({ host: '127.0.0.1', port: 9610 });
    expect(c.kernel.netns).toBe('');
    expect(c.state.dir).toBe('/var/lib/srv6-agent');
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
  });

  it('log.level: info by default, from the file, SRV6_LOG_LEVEL or a flag; a bad one is named with its source', () => {
    expect(loadConfig().log.level).toBe('info');
    expect(loadConfig({ env: { SRV6_LOG_LEVEL: 'debug' } }).log.level).toBe('debug');
    expect(loadConfig({ env: { SRV6_LOG_LEVEL: 'debug' }, overrides: { 'log.level': { value: 'warn', flag: '--log-level' } } }).log.level).toBe('warn');
    const f = file('log.json', JSON.stringify({ log: { level: 'chatty' } }));
    expect(issues(() => loadConfig({ file: f }))).toEqual([
      { field: 'log.level', source: `config file ${f}`, message: 'must be one of fatal, error, warn, info, debug, verbose' },
    ]);
  });

  it('layers file < environment < command line', () => {
    const f = file('layers.json', JSON.stringify({ server: { listen: '10.0.0.1:1' }, kernel: { netns: 'from-file' }, state: { dir: '/srv/state' } }));
    const c = loadConfig({
      file: f,
      env: { SRV6_NETNS: 'from-env', SRV6_LISTEN: '127.0.0.1:2', UNRELATED: 'x' },
      overrides: { 'server.listen': { value: '[::1]:0', flag: '--listen' } },
    });
    expect(c.server.listen).toBe('[::1]:0');
    expect(c.listenAddress).toEqual({ host: '::1', port: 0 });
    expect(c.kernel.netns).toBe('from-env');
    expect(c.state.dir).toBe('/srv/state');
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
  });

  it('accepts an empty SRV6_NETNS as "the agent\'s own namespace"', () => {
    expect(loadConfig({ env: { SRV6_NETNS: '' } }).kernel.netns).toBe('');
  });

  it('names every bad field and where its value came from', () => {
    const got = issues(() =>
      loadConfig({
        env: { SRV6_LISTEN: 'localhost', SRV6_REDIS_URL: 'http://127.0.0.1:6379', SRV6_NETNS: '../etc', SRV6_STATE_DIR: 'relative/dir' },
      }),
    );
    expect(got.map((i) => [i.field, i.source])).toEqual([
      ['server.listen', 'SRV6_LISTEN'],
      ['kernel.netns', 'SRV6_NETNS'],
      ['state.dir', 'SRV6_STATE_DIR'],
      ['redis.url', 'SRV6_REDIS_URL'],
    ]);
    expect(got[0]!.message).toMatch(/HOST:PORT/);
  });

  it('puts field, source and reason into the message', () => {
    expect(() => loadConfig({ overrides: { 'server.listen': { value: '127.0.0.1:70000', flag: '--listen' } } })).toThrow(
      /server\.listen \(from --listen\): must be HOST:PORT .*port 0\.\.65535/,
    );
  });

  it('rejects unknown settings, wrong types and wrong shapes in the file', () => {
    const f = file('bad.json', JSON.stringify({ server: { listen: 9610, port: 1 }, redis: 'redis://x', extra: {} }));
    const got = issues(() => loadConfig({ file: f }));
    const label = `config file ${f}`;
    expect(got).toEqual(
      expect.arrayContaining([
        { field: 'server.listen', source: label, message: expect.stringMatching(/HOST:PORT/) },
        { field: 'server.port', source: label, message: 'unknown setting' },
        { field: 'redis', source: label, message: expect.stringMatching(/object/) },
        { field: 'extra', source: label, message: 'unknown setting' },
      ]),
    );
  });

  it('redis.embedded: off by default; true/false from the file (JSON booleans) or the environment (text)', () => {
    expect(loadConfig().redis.embedded).toBe(false);
    expect(loadConfig({ file: file('embedded.json', JSON.stringify({ redis: { embedded: true } })) }).redis.embedded).toBe(true);
    expect(loadConfig({ env: { SRV6_REDIS_EMBEDDED: 'true' } }).redis.embedded).toBe(true);
    expect(
      loadConfig({ file: file('embedded2.json', JSON.stringify({ redis: { embedded: true } })), env: { SRV6_REDIS_EMBEDDED: 'false' } }).redis.embedded,
    ).toBe(false);
    for (const bad of ['yes', '1', ''])
      expect(issues(() => loadConfig({ env: { SRV6_REDIS_EMBEDDED: bad } }))).toEqual([
        { field: 'redis.embedded', source: 'SRV6_REDIS_EMBEDDED', message: 'must be true or false' },
      ]);
    expect(issues(() => loadConfig({ file: file('embedded3.json', JSON.stringify({ redis: { embedded: 'auto' } })) }))[0]).toMatchObject({
      field: 'redis.embedded',
      message: 'must be true or false',
    });
  });

  it('accepts a redis.url with a user and password (a Redis that requires them)', () => {
    expect(loadConfig({ env: { SRV6_REDIS_URL: 'redis://srv6-agent:s%40cret@10.0.0.10:6379' } }).redis.url).toBe('redis://srv6-agent:s%40cret@10.0.0.10:6379');
  });

  it('reports an unreadable or malformed file', () => {
    expect(issues(() => loadConfig({ file: join(dir, 'missing.json') }))[0]).toMatchObject({ field: '(file)', message: 'cannot read: ENOENT' });
    expect(issues(() => loadConfig({ file: file('broken.json', '{"server": ') }))[0]!.message).toMatch(/^not valid JSON/);
    expect(issues(() => loadConfig({ file: file('array.json', '[]') }))[0]!.message).toBe('must hold a JSON object');
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9610', { host: '127.0.0.1', port: 9610 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ])('%s', (s, want) => expect(parseHostPort(s)).toEqual(want));

  it.each(['127.0.0.1', ':9610', '::1:9610', '127.0.0.1:65536', '127.0.0.1:-1', 'a b:1', '', 9610])('rejects %p', (s) =>
    expect(parseHostPort(s)).toBeUndefined(),
  );
});
