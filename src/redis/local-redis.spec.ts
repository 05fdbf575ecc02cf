import { createServer } from 'node:net';

import { isLoopback, newPassword, redactUrl, redisEndpoint, tcpReachable, withPassword } from './local-redis';

describe('local Redis helpers', () => {
  it('parses redis URLs', () => {
    expect(redisEndpoint('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(redisEndpoint('redis://localhost')).toEqual({ host: 'localhost', port: 6379 });
    expect(redisEndpoint('rediss://user:pw@[::1]:7000/2')).toEqual({ host: '::1', port: 7000 });
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['localhost', true],
    ['10.0.0.1', false],
    ['redis.example', false],
    ['::', false],
  ])('isLoopback(%s) = %s', (h, want) => expect(isLoopback(h)).toBe(want));

  it('puts a password into a URL and keeps it out of log lines', () => {
    expect(withPassword('redis://127.0.0.1:6379', 'p')).toBe('redis://:p@127.0.0.1:6379');
    expect(withPassword('redis://agent@[::1]:7000/2', 'p w')).toBe('redis://agent:p%20w@[::1]:7000/2');
    expect(redactUrl('redis://agent:secret@127.0.0.1:6379')).toBe('redis://agent:***@127.0.0.1:6379');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('not a url')).toBe('(invalid URL)');
  });

  it('makes a new 256-bit password every time', () => {
    const a = newPassword();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(newPassword()).not.toBe(a);
  });

  it('tells a listening port from a closed one', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await tcpReachable('127.0.0.1', port)).toBe(true);
    await new Promise((r) => server.close(r));
    expect(await tcpReachable('127.0.0.1', port)).toBe(false);
  });
});
