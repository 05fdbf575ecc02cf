// ipft's command line: ipftrace2's options, hex marks, and refusals with a reason.
import { parseIpftArgs, parseSize, parseU32, USAGE, UsageError } from './ipft-args';

describe('parseIpftArgs', () => {
  it('takes ipftrace2 options', () => {
    expect(parseIpftArgs(['-m', '0xdeadbeef', '--mask', '0xffff', '-r', '^ip6?_', '-o', 'json', '-b', 'kprobe'])).toMatchObject({
      mark: 0xdeadbeef,
      mask: 0xffff,
      regex: '^ip6?_',
      output: 'json',
      backend: 'kprobe',
      type: 'function',
    });
  });

  it('has ipftrace2 defaults', () => {
    expect(parseIpftArgs(['--mark', '42'])).toEqual({
      help: false,
      list: false,
      checkBackends: false,
      mark: 42,
      mask: 0xffffffff,
      output: 'aggregate',
      type: 'function',
      splitGapMs: 500,
      verbose: false,
    });
  });

  it('accepts the filters and script options', () => {
    expect(
      parseIpftArgs([
        '-m',
        '1',
        '--netns-inode',
        '4026531840',
        '--ifindex',
        '3',
        '--duration',
        '2.5',
        '--limit',
        '100',
        '--ready-file',
        '/tmp/r',
        '--ringbuf-size',
        '16M',
        '--max-events',
        '5000',
        '--split-gap-ms',
        '0',
        '-v',
      ]),
    ).toMatchObject({
      netnsInode: 4026531840,
      ifindex: 3,
      duration: 2.5,
      limit: 100,
      readyFile: '/tmp/r',
      ringBufferBytes: 16 << 20,
      maxEvents: 5000,
      splitGapMs: 0,
      verbose: true,
    });
  });

  it('takes a probe cap and any pattern it can match in linear time', () => {
    expect(parseIpftArgs(['-m', '1', '--max-probes', '100', '-r', '(\\w+)+\\.'])).toMatchObject({ maxProbes: 100, regex: '(\\w+)+\\.' });
    expect(parseIpftArgs(['-m', '1']).maxProbes).toBeUndefined(); // the tracer's default
  });

  it('documents the filter syntax and the cap in the usage', () => {
    expect(USAGE).toContain('backreferences, lookaround or \\b: matched in linear time');
    expect(USAGE).toMatch(/--max-probes N .*\n.*default 4096, at most 16384/);
  });

  it('maps backend aliases: ftrace (ipftrace2) = fentry, auto = none', () => {
    expect(parseIpftArgs(['-m', '1', '-b', 'ftrace']).backend).toBe('fentry');
    expect(parseIpftArgs(['-m', '1', '-b', 'kprobe_multi']).backend).toBe('kprobe-multi');
    expect(parseIpftArgs(['-m', '1', '-b', 'auto']).backend).toBeUndefined();
  });

  it('allows function_graph only where the backend has return probes with arguments', () => {
    expect(parseIpftArgs(['-m', '1', '-t', 'function_graph']).type).toBe('function_graph');
    expect(parseIpftArgs(['-m', '1', '-t', 'function_graph', '-b', 'fentry']).type).toBe('function_graph');
    expect(() => parseIpftArgs(['-m', '1', '-t', 'function_graph', '-b', 'tp_btf'])).toThrow(/needs the fentry backend/);
  });

  it('-V/--version needs no mark; -j makes it JSON', () => {
    expect(parseIpftArgs(['--version'])).toMatchObject({ version: true, output: 'aggregate' });
    expect(parseIpftArgs(['-V', '-j'])).toMatchObject({ version: true, output: 'json' });
    expect(parseIpftArgs(['-m', '1']).version).toBeUndefined();
  });

  it('-j/--json is -o json, for tracing, -l and --check-backends alike', () => {
    expect(parseIpftArgs(['-m', '1', '-j']).output).toBe('json');
    expect(parseIpftArgs(['-l', '--json'])).toMatchObject({ list: true, output: 'json' });
    expect(parseIpftArgs(['--check-backends', '-j', '-o', 'json']).output).toBe('json');
    expect(() => parseIpftArgs(['-m', '1', '-j', '-o', 'aggregate'])).toThrow('--json contradicts --output aggregate');
    expect(USAGE).toMatch(/^ {2}-j, --json {2,}/m);
    expect(USAGE).toMatch(/^ {2}-V, --version {2,}/m);
  });

  it('lists and checks backends without a mark', () => {
    expect(parseIpftArgs(['-l']).list).toBe(true);
    expect(parseIpftArgs(['--check-backends']).checkBackends).toBe(true);
  });

  it.each([
    [[], /--mark is required/],
    [['-m', 'zz'], /--mark: expected a 32-bit number/],
    [['-m', '0x1ffffffff'], /--mark/],
    [['-m', '1', '--mask', '-1'], /--mask/],
    [['-m', '1', '-o', 'yaml'], /--output/],
    [['-m', '1', '-b', 'ebpf'], /--backend/],
    [['-m', '1', '-t', 'graph'], /--tracer/],
    [['-m', '1', '-r', '('], /--regex/],
    [['-m', '1', '-r', '(ip)\\1'], /^--regex: backreferences \(\\1\) are not supported .*\(at position 4\)$/],
    [['-m', '1', '-r', 'seg6(?!_)'], /^--regex: lookahead and lookbehind/],
    [['-m', '1', '--max-probes', '0'], /--max-probes: expected a positive integer/],
    [['-m', '1', '--max-probes', '16385'], /--max-probes: at most 16384/],
    [['-m', '1', '--duration', '0'], /--duration/],
    [['-m', '1', '--limit', '1.5'], /--limit/],
    [['-m', '1', '--ringbuf-size', '3000'], /power of two/],
    [['-m', '1', '--bogus'], /Unknown option/],
    [['-m', '1', 'extra'], /positional/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseIpftArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseIpftArgs(argv as string[])).toThrow(msg as RegExp);
  });
});

describe('number parsing', () => {
  it('reads hex and decimal 32-bit values', () => {
    expect(parseU32('0xDEADBEEF', 'x')).toBe(0xdeadbeef);
    expect(parseU32('4294967295', 'x')).toBe(0xffffffff);
    expect(() => parseU32('4294967296', 'x')).toThrow(UsageError);
    expect(() => parseU32('1e3', 'x')).toThrow(UsageError);
  });

  it('reads ring buffer sizes', () => {
    expect(parseSize('4096', 's')).toBe(4096);
    expect(parseSize('512k', 's')).toBe(512 << 10);
    expect(() => parseSize('2G', 's')).toThrow(/between 4K and 1G/);
  });
});
