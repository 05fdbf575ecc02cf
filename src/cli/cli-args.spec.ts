import { LOG_LEVELS } from '../config/agent.config';
import { COMMAND_HELP, COMMAND_OPTIONS, DEFAULT_AGENT_URL, EXIT, helpText, parseCli, USAGE, UsageError } from './cli-args';

const remote = { url: DEFAULT_AGENT_URL };

describe('parseCli', () => {
  it.each([
    [['serve'], { command: 'serve', sandbox: false }],
    [['serve', '--sandbox'], { command: 'serve', sandbox: true }],
    [['serve', '--config', '/etc/srv6.json', '--listen', '[::1]:9610'], { command: 'serve', sandbox: false, config: '/etc/srv6.json', listen: '[::1]:9610' }],
    [['serve', '--listen=0.0.0.0:1', '--sandbox'], { command: 'serve', sandbox: true, listen: '0.0.0.0:1' }],
    [['serve', '--state-dir', '/tmp/s', '--log-format', 'text'], { command: 'serve', sandbox: false, stateDir: '/tmp/s', logFormat: 'text' }],
    [['serve', '--wipe-orphans'], { command: 'serve', sandbox: false, wipeOrphans: true }],
    [['capabilities'], { command: 'capabilities' }],
    [['capabilities', '--url', 'http://10.0.0.5:9610/'], { command: 'capabilities', remote: { url: 'http://10.0.0.5:9610' } }],
    [
      ['capabilities', '--url', 'https://hv1.example/agent/', '--token-file', '/t'],
      { command: 'capabilities', remote: { url: 'https://hv1.example/agent', tokenFile: '/t' } },
    ],
    [['submit', 'jobs.yaml'], { command: 'submit', file: 'jobs.yaml', remote, waitSeconds: 60 }],
    [['submit', '-', '--no-wait'], { command: 'submit', file: '-', remote, waitSeconds: 0 }],
    [
      ['submit', '--wait', '2.5', 'j.json', '--url', 'http://[::1]:9610'],
      { command: 'submit', file: 'j.json', remote: { url: 'http://[::1]:9610' }, waitSeconds: 2.5 },
    ],
    [['submit', 'j.json', '--wait=0'], { command: 'submit', file: 'j.json', remote, waitSeconds: 0 }],
    [['jobs'], { command: 'jobs', limit: 20, json: false, remote }],
    [['jobs', '--limit', '5', '--json'], { command: 'jobs', limit: 5, json: true, remote }],
    [['jobs', 'o-123'], { command: 'jobs', id: 'o-123', limit: 20, json: false, remote }],
    [['state'], { command: 'state', json: false, remote }],
    [['state', 'alpha', '--json'], { command: 'state', tenant: 'alpha', json: true, remote }],
    [['help'], { command: 'help' }],
    [['help', 'submit'], { command: 'help', topic: 'submit' }],
    [['--help'], { command: 'help' }],
    [['-h'], { command: 'help' }],
    [['serve', '--help'], { command: 'help', topic: 'serve' }],
    [['capabilities', '-h'], { command: 'help', topic: 'capabilities' }],
    [['submit', '--help'], { command: 'help', topic: 'submit' }],
    [['jobs', '-h', 'x', 'y'], { command: 'help', topic: 'jobs' }],
    [['state', '--help'], { command: 'help', topic: 'state' }],
  ])('%j', (argv, want) => expect(parseCli(argv)).toEqual(want));

  it('takes the token file and the log format from the environment unless options say otherwise', () => {
    const env = { SRV6_TOKEN_FILE: '/etc/srv6-agent/token', SRV6_LOG_FORMAT: 'text' };
    expect(parseCli(['state'], env)).toMatchObject({ remote: { tokenFile: '/etc/srv6-agent/token' } });
    expect(parseCli(['state', '--token-file', '/mine'], env)).toMatchObject({ remote: { tokenFile: '/mine' } });
    expect(parseCli(['serve'], env)).toMatchObject({ logFormat: 'text' });
    expect(parseCli(['serve', '--log-format', 'json'], env)).toMatchObject({ logFormat: 'json' });
    expect(parseCli(['state'], { SRV6_TOKEN_FILE: '' })).toEqual({ command: 'state', json: false, remote });
    expect(parseCli(['capabilities'], env)).toEqual({ command: 'capabilities' }); // the local probe needs no token
    expect(() => parseCli(['serve'], { SRV6_LOG_FORMAT: 'xml' })).toThrow('SRV6_LOG_FORMAT must be json or text, not "xml"');
  });

  it.each([
    [[], /missing command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--sandbox', 'serve'], /options come after the command/],
    [['serve', '--bogus'], /bogus/],
    [['serve', '--listen'], /listen/],
    [['serve', '--listen', ''], /--listen needs a non-empty value/],
    [['serve', 'extra'], /extra/],
    [['serve', '--sandbox=yes'], /sandbox/],
    [['serve', '--log-format', 'xml'], /--log-format must be json or text, not "xml"/],
    [['capabilities', '--sandbox'], /sandbox/],
    [['capabilities', '--token-file', '/t'], /--token-file needs --url/],
    [['--help', 'serve'], /unexpected argument/],
    [['help', 'frobnicate'], /no help for "frobnicate"/],
    [['submit'], /submit needs a job file/],
    [['submit', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml" \(submit takes at most one file\)/],
    [['submit', 'a.yaml', '--wait', '5', '--no-wait'], /--wait and --no-wait contradict/],
    [['submit', 'a.yaml', '--wait', 'soon'], /--wait must be a number of seconds from 0 to 86400, not "soon"/],
    [['submit', 'a.yaml', '--wait', '-1'], /--wait/],
    [['submit', 'a.yaml', '--url', 'redis://127.0.0.1:6379'], /--url must be an http:\/\/ or https:\/\/ URL .*not redis:/],
    [['submit', 'a.yaml', '--url', '127.0.0.1:9610'], /--url/],
    [['submit', 'a.yaml', '--url', 'not a url'], /is not a URL/],
    [['submit', 'a.yaml', '--token-file', ''], /--token-file needs a non-empty value/],
    [['jobs', '--limit', '0'], /--limit must be a whole number from 1 to 1000, not "0"/],
    [['jobs', '--limit', '1e3'], /--limit/],
    [['jobs', '7', '--limit', '3'], /--limit applies to the list of jobs/],
    [['jobs', 'a', 'b'], /jobs takes at most one job id/],
    [['state', 'Alpha!'], /"Alpha!" is not a tenant id/],
  ])('%j is a usage error', (argv, msg) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(msg);
  });

  it('--version (-V), alone or with --json (-j), in either order', () => {
    expect(parseCli(['--version'])).toEqual({ command: 'version', json: false });
    expect(parseCli(['-V'])).toEqual({ command: 'version', json: false });
    expect(parseCli(['--version', '--json'])).toEqual({ command: 'version', json: true });
    expect(parseCli(['-j', '-V'])).toEqual({ command: 'version', json: true });
    expect(() => parseCli(['--version', 'serve'])).toThrow('unexpected argument with --version: serve');
    expect(() => parseCli(['-j'])).toThrow(/options come after the command/);
  });

  it('-j/--json on every command: jobs and state print JSON, submit and capabilities print it anyway, serve logs it', () => {
    for (const options of Object.values(COMMAND_OPTIONS)) expect(options.json).toEqual({ type: 'boolean', short: 'j' });
    expect(parseCli(['jobs', '-j'])).toEqual({ command: 'jobs', limit: 20, json: true, remote });
    expect(parseCli(['state', 'alpha', '-j'])).toEqual({ command: 'state', tenant: 'alpha', json: true, remote });
    expect(parseCli(['submit', 'j.yaml', '-j'])).toEqual({ command: 'submit', file: 'j.yaml', remote, waitSeconds: 60, json: true });
    expect(parseCli(['capabilities', '--json'])).toEqual({ command: 'capabilities', json: true });
    expect(parseCli(['capabilities', '-j', '--url', 'http://h:1'])).toEqual({ command: 'capabilities', remote: { url: 'http://h:1' }, json: true });
    expect(parseCli(['serve', '-j'], { SRV6_LOG_FORMAT: 'text' })).toEqual({ command: 'serve', sandbox: false, logFormat: 'json' });
    expect(parseCli(['serve', '-j', '--log-format', 'json'])).toMatchObject({ logFormat: 'json' });
    expect(() => parseCli(['serve', '-j', '--log-format', 'text'])).toThrow('--json contradicts --log-format text');
  });

  it('SRV6_AGENT_URL is the default --url of the commands that talk to an agent; the option wins', () => {
    const env = { SRV6_AGENT_URL: 'http://10.0.0.7:9610/' };
    expect(parseCli(['state'], env)).toEqual({ command: 'state', json: false, remote: { url: 'http://10.0.0.7:9610' } });
    expect(parseCli(['jobs'], env)).toMatchObject({ remote: { url: 'http://10.0.0.7:9610' } });
    expect(parseCli(['submit', 'j.yaml'], env)).toMatchObject({ remote: { url: 'http://10.0.0.7:9610' } });
    expect(parseCli(['state', '--url', 'http://[::1]:1'], env)).toMatchObject({ remote: { url: 'http://[::1]:1' } });
    expect(parseCli(['state'], { SRV6_AGENT_URL: '' })).toEqual({ command: 'state', json: false, remote });
    // without --url, capabilities probes this host: the variable does not turn it into a remote query
    expect(parseCli(['capabilities'], env)).toEqual({ command: 'capabilities' });
    expect(() => parseCli(['state'], { SRV6_AGENT_URL: 'redis://x:1' })).toThrow(/^SRV6_AGENT_URL must be an http:\/\/ or https:\/\/ URL/);
    expect(() => parseCli(['state'], { SRV6_AGENT_URL: 'nope' })).toThrow('SRV6_AGENT_URL "nope" is not a URL');
  });

  it('serve --log-level takes the levels of log.level', () => {
    for (const level of LOG_LEVELS) expect(parseCli(['serve', '--log-level', level])).toEqual({ command: 'serve', sandbox: false, logLevel: level });
    expect(() => parseCli(['serve', '--log-level', 'trace'])).toThrow('--log-level must be one of fatal, error, warn, info, debug, verbose, not "trace"');
    expect(() => parseCli(['serve', '--log-level', ''])).toThrow('--log-level needs a non-empty value');
  });

  it('a usage error of a command names that command, so its help is shown', () => {
    try {
      parseCli(['jobs', '--limit', 'x']);
      throw new Error('no error');
    } catch (e) {
      expect((e as UsageError).topic).toBe('jobs');
    }
  });
});

describe('help', () => {
  it('the overview lists every command and every exit status', () => {
    for (const c of ['serve', 'submit FILE|-', 'jobs [ID]', 'state [TENANT]', 'capabilities', 'help [COMMAND]']) expect(USAGE).toContain(`  ${c}`);
    for (const code of Object.values(EXIT)) expect(USAGE).toMatch(new RegExp(`^  ${code}  `, 'm'));
  });

  it.each(Object.keys(COMMAND_HELP))('%s --help shows its usage, options and the exit statuses', (topic) => {
    const text = helpText(topic as keyof typeof COMMAND_HELP);
    expect(text).toMatch(new RegExp(`^Usage: srv6-agent ${topic}`));
    expect(text).toContain('Exit status:');
    if (topic !== 'serve') expect(text).toContain('--url URL');
  });

  it('the help names --version, -j/--json and the environment variables the CLI reads', () => {
    expect(USAGE).toContain('-V|--version [-j|--json]');
    for (const v of ['SRV6_AGENT_URL', 'SRV6_TOKEN_FILE', 'SRV6_LOG_FORMAT', 'SRV6_LOG_LEVEL']) expect(USAGE).toMatch(new RegExp(`^  ${v} `, 'm'));
    for (const topic of Object.keys(COMMAND_HELP)) expect(COMMAND_HELP[topic as keyof typeof COMMAND_HELP]).toMatch(/^ {2}-j, --json {2,}/m);
    expect(COMMAND_HELP.serve).toMatch(/^ {2}--log-level LEVEL {2,}/m);
  });

  it('no help line is wider than 100 columns', () => {
    for (const text of [USAGE, ...Object.values(COMMAND_HELP)]) for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});
