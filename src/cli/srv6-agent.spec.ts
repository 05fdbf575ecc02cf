// The CLI's exit codes and messages for everything that stops before the agent starts.
import { main } from './srv6-agent';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return {
    out: () => out.join(''),
    err: () => err.join(''),
    restore: () => {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

describe('srv6-agent main()', () => {
  let io: ReturnType<typeof capture>;
  beforeEach(() => (io = capture()));
  afterEach(() => io.restore());

  it('--help prints the usage to stdout and exits 0', async () => {
    expect(await main(['--help'])).toBe(0);
    expect(io.out()).toMatch(/^Usage: srv6-agent <command>/);
    expect(io.out()).toMatch(/Exit status: 0 success, 1 runtime error, 2 usage or configuration error/);
    expect(io.err()).toBe('');
  });

  it('a usage error prints the reason and the usage to stderr and exits 2', async () => {
    expect(await main(['serve', '--listen'])).toBe(2);
    expect(io.err()).toMatch(/^srv6-agent: .*--listen/);
    expect(io.err()).toContain('Usage: srv6-agent');
    expect(io.out()).toBe('');
  });

  it('a bad configuration value names the field and exits 2 before anything starts', async () => {
    expect(await main(['serve', '--listen', 'nowhere'])).toBe(2);
    expect(io.err()).toMatch(/server\.listen \(from --listen\): must be HOST:PORT/);
  });

  it('an unreadable config file exits 2', async () => {
    expect(await main(['serve', '--config', '/nonexistent/srv6.json'])).toBe(2);
    expect(io.err()).toMatch(/config file \/nonexistent\/srv6\.json\): cannot read: ENOENT/);
  });
});
