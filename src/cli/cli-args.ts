// Command-line parsing for srv6-agent (node:util parseArgs, no dependency). Pure: unit-tested.
import { parseArgs } from 'node:util';

export const EXIT = { OK: 0, RUNTIME: 1, USAGE: 2 } as const;

export type CliCommand =
  | { command: 'help'; topic?: 'serve' | 'capabilities' }
  | { command: 'serve'; config?: string; sandbox: boolean; listen?: string }
  | { command: 'capabilities' };

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: srv6-agent <command> [options]

Commands:
  serve [--config FILE] [--sandbox] [--listen HOST:PORT]
      Run the agent: HTTP API on --listen (default SRV6_LISTEN or 127.0.0.1:9610).
      --config FILE   JSON config file: {"server": {"listen"}, "kernel": {"netns"},
                      "state": {"dir"}, "redis": {"url"}}; environment variables
                      SRV6_LISTEN, SRV6_NETNS, SRV6_STATE_DIR, SRV6_REDIS_URL override it,
                      command-line options override both.
      --sandbox       Manage the network namespace "srv6-sandbox" (created if missing, with
                      a veth sbx-uplink/sbx-peer, fc00:0:ffff::1/64 as a stand-in underlay)
                      instead of SRV6_NETNS; it is kept on exit and reused.
      --listen H:P    HTTP listen address ("[::1]:9610" for IPv6; port 0 = any free port).
      If no Redis answers at a loopback SRV6_REDIS_URL, a redis-server (no persistence) is
      started as a child and stopped on exit.
  capabilities
      Probe the kernel (in a throwaway network namespace) and print the result as JSON.

Options:
  -h, --help      Show this help (also: srv6-agent <command> --help).

Exit status: 0 success, 1 runtime error, 2 usage or configuration error.
`;

const COMMANDS = ['serve', 'capabilities'] as const;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse(args: string[], options: OptionSpec): { values: Record<string, string | boolean | undefined> } {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    return { values: values as Record<string, string | boolean | undefined> };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseCli(argv: string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('missing command');
  if (first === '-h' || first === '--help') {
    if (rest.length) throw new UsageError(`unexpected argument after ${first}: ${rest[0]}`);
    return { command: 'help' };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (options come after the command)`);
  if (!(COMMANDS as readonly string[]).includes(first)) throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: ${COMMANDS.join(', ')})`);
  const command = first as (typeof COMMANDS)[number];

  if (command === 'serve') {
    const { values } = parse(rest, { config: { type: 'string' }, sandbox: { type: 'boolean' }, listen: { type: 'string' } });
    if (values.help) return { command: 'help', topic: 'serve' };
    for (const k of ['config', 'listen'] as const)
      if (values[k] === '') throw new UsageError(`option --${k} needs a non-empty value`);
    const out: CliCommand = { command: 'serve', sandbox: values.sandbox === true };
    if (typeof values.config === 'string') out.config = values.config;
    if (typeof values.listen === 'string') out.listen = values.listen;
    return out;
  }
  const { values } = parse(rest, {});
  if (values.help) return { command: 'help', topic: 'capabilities' };
  return { command: 'capabilities' };
}
