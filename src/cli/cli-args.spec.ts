import { parseCli, UsageError } from './cli-args';

describe('parseCli', () => {
  it.each([
    [['serve'], { command: 'serve', sandbox: false }],
    [['serve', '--sandbox'], { command: 'serve', sandbox: true }],
    [['serve', '--config', '/etc/srv6.json', '--listen', '[::1]:9610'], { command: 'serve', sandbox: false, config: '/etc/srv6.json', listen: '[::1]:9610' }],
    [['serve', '--listen=0.0.0.0:1', '--sandbox'], { command: 'serve', sandbox: true, listen: '0.0.0.0:1' }],
    [['capabilities'], { command: 'capabilities' }],
    [['--help'], { command: 'help' }],
    [['-h'], { command: 'help' }],
    [['serve', '--help'], { command: 'help', topic: 'serve' }],
    [['capabilities', '-h'], { command: 'help', topic: 'capabilities' }],
  ])('%j', (argv, want) => expect(parseCli(argv)).toEqual(want));

  it.each([
    [[], /missing command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--sandbox', 'serve'], /options come after the command/],
    [['serve', '--bogus'], /bogus/],
    [['serve', '--listen'], /listen/],
    [['serve', '--listen', ''], /--listen needs a non-empty value/],
    [['serve', 'extra'], /extra/],
    [['serve', '--sandbox=yes'], /sandbox/],
    [['capabilities', '--sandbox'], /sandbox/],
    [['--help', 'serve'], /unexpected argument/],
  ])('%j is a usage error', (argv, msg) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(msg);
  });
});
