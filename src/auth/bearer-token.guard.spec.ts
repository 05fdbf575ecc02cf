import { UnauthorizedException } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BearerTokenGuard, isLoopback, isLoopbackHost } from './bearer-token.guard';

const ctx = (remoteAddress: string, path: string, authorization?: string, host?: string) => ({
  path,
  headers: { ...(authorization ? { authorization } : {}), ...(host ? { host } : {}) },
  socket: { remoteAddress },
});

describe('bearer token guard', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'srv6-guard-'));
    writeFileSync(join(dir, 'token'), 'tok\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['127.0.0.1', true],
    ['127.5.6.7', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.1.2.3', false],
    ['::ffff:10.1.2.3', false],
    ['fd00::1', false],
    ['1127.0.0.1', false],
  ])('%s is loopback: %s', (a, want) => expect(isLoopback(a)).toBe(want));

  const guard = (tokenFile: string, loopback: 'open' | 'token' = 'open') => new BearerTokenGuard({ auth: { tokenFile, loopback } } as any);

  it('non-loopback clients need the token; loopback is open by config', () => {
    const g = guard(join(dir, 'token'));
    expect(() => g.check(ctx('10.1.2.3', '/v1/state'))).toThrow(UnauthorizedException);
    expect(() => g.check(ctx('10.1.2.3', '/v1/state', 'Bearer nope'))).toThrow(UnauthorizedException);
    expect(() => g.check(ctx('10.1.2.3', '/v1/state', 'Bearer tok'))).not.toThrow();
    expect(() => g.check(ctx('127.0.0.1', '/v1/state'))).not.toThrow();
    expect(() => g.check(ctx('10.1.2.3', '/v1/health/ready'))).not.toThrow();
  });

  it.each([
    ['localhost:9610', true],
    ['LOCALHOST', true],
    ['127.0.0.1:9610', true],
    ['[::1]:9610', true],
    ['[::1]', true],
    ['evil.example:9610', false],
    ['localhost.evil.example', false],
    ['10.0.0.1:9610', false],
  ])('Host %s names loopback: %s', (h, want) => expect(isLoopbackHost(h)).toBe(want));

  it('open loopback is open to loopback Host names only (a rebound name from a browser needs the token like any remote client)', () => {
    const g = guard(join(dir, 'token'));
    expect(() => g.check(ctx('127.0.0.1', '/v1/state', undefined, '127.0.0.1:9610'))).not.toThrow();
    expect(() => g.check(ctx('127.0.0.1', '/docs-json', undefined, 'rebound.example:9610'))).toThrow(UnauthorizedException);
    expect(() => g.check(ctx('127.0.0.1', '/v1/state', 'Bearer tok', 'rebound.example:9610'))).not.toThrow();
  });

  it('fails closed without a token file, or with a missing one', () => {
    expect(() => guard('').check(ctx('10.1.2.3', '/v1/jobs', 'Bearer x'))).toThrow(/none is configured/);
    expect(() => guard(join(dir, 'missing')).check(ctx('10.1.2.3', '/v1/jobs', 'Bearer x'))).toThrow(UnauthorizedException);
  });

  it('picks up a new token when the file changes', () => {
    const f = join(dir, 'rot');
    writeFileSync(f, 'one');
    const g = guard(f, 'token');
    expect(() => g.check(ctx('127.0.0.1', '/metrics', 'Bearer one'))).not.toThrow();
    writeFileSync(f, 'two');
    const later = new Date(Date.now() + 5000);
    require('node:fs').utimesSync(f, later, later);
    expect(() => g.check(ctx('127.0.0.1', '/metrics', 'Bearer one'))).toThrow(UnauthorizedException);
    expect(() => g.check(ctx('127.0.0.1', '/metrics', 'Bearer two'))).not.toThrow();
  });
});
