// Writes the Debian package's man pages and bash completions (scripts/package.sh runs it):
//   node dist/src/cli/package-docs.js INSTALL_ROOT OUT_DIR
// The man pages come from the --help and --version output of the CLIs in INSTALL_ROOT (the tree
// being packaged): their main() with the arguments, in this process (a process per page
// would load the whole agent seven times), the completions from the parsers' option tables.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { COMMANDS } from './cli-args';
import { ipftCompletion, srv6AgentCompletion } from './completion';
import { manPage } from './man-page';

/** Man page dates follow SOURCE_DATE_EPOCH (reproducible builds), else today. */
export function manDate(env: Record<string, string | undefined> = process.env, now = new Date()): string {
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  return (env.SOURCE_DATE_EPOCH && Number.isFinite(epoch) ? new Date(epoch * 1000) : now).toISOString().slice(0, 10);
}

const FILES: [string, string][] = [
  ['/etc/srv6-agent/config.json', 'the configuration (serve --config in the unit)'],
  ['/etc/srv6-agent/env', 'SRV6_* overrides of the configuration (optional)'],
  ['/etc/srv6-agent/token', 'the bearer token clients not on loopback must send'],
  ['/var/lib/srv6-agent', 'the desired state (state.dir)'],
  ['/lib/systemd/system/srv6-agent.service', 'the systemd unit'],
  ['/opt/srv6-agent', 'the program; docs/operations.md there describes every setting'],
];

type Main = (
  argv: string[],
  io: { out(s: string): void; err(s: string): void; readStdin(): Promise<string>; errIsTTY: boolean },
  env?: NodeJS.ProcessEnv,
) => Promise<number>;

/** What `name ...args` prints on stdout; it must exit 0. */
async function run(installRoot: string, name: string, args: string[]): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the installed tree, found at run time
  const { main } = require(join(installRoot, 'dist', 'src', 'cli', `${name}.js`)) as { main: Main };
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s), readStdin: async () => '', errIsTTY: false }, {});
  if (code !== 0) throw new Error(`${name} ${args.join(' ')} exited ${code}: ${err}`);
  return out;
}

export async function writePackageDocs(installRoot: string, out: string): Promise<void> {
  const cli = (name: string, args: string[]) => run(installRoot, name, args);
  const source = async (name: string) => (await cli(name, ['--version'])).split('\n')[0]!.replace(/ \(commit .*\)$/, '');
  const commands = [];
  for (const c of COMMANDS.filter((c) => c !== 'help')) commands.push({ name: c, help: await cli('srv6-agent', [c, '--help']) });
  const date = manDate();
  const man = join(out, 'man');
  const completions = join(out, 'completions');
  mkdirSync(man, { recursive: true });
  mkdirSync(completions, { recursive: true });

  writeFileSync(
    join(man, 'srv6-agent.8'),
    manPage({
      program: 'srv6-agent',
      section: 8,
      summary: 'per-hypervisor SRv6/VRF tenant networking agent and its command line',
      source: await source('srv6-agent'),
      date,
      help: await cli('srv6-agent', ['--help']),
      commands,
      files: FILES,
      seeAlso: ['ipft(8)', 'systemctl(1)', 'journalctl(1)', 'ip-route(8)', 'ip-nexthop(8)'],
    }),
  );
  writeFileSync(
    join(man, 'ipft.8'),
    manPage({
      program: 'ipft',
      section: 8,
      summary: 'trace the kernel functions that packets with a given mark pass through',
      source: await source('ipft'),
      date,
      help: await cli('ipft', ['--help']),
      intro:
        'ipft attaches a BPF probe to every kernel function (or, without fentry and kprobes, tracepoint) that takes a socket buffer, and reports the path of the packets whose skb->mark matches, with their length and GSO state. Its options follow ipftrace2. It needs root (CAP_BPF and CAP_PERFMON).',
      seeAlso: ['srv6-agent(8)', 'bpftool(8)', 'nft(8)', 'tc(8)'],
    }),
  );
  writeFileSync(join(completions, 'srv6-agent'), srv6AgentCompletion());
  writeFileSync(join(completions, 'ipft'), ipftCompletion());
}

if (require.main === module) {
  const [root, out] = process.argv.slice(2);
  if (!root || !out) {
    process.stderr.write('usage: package-docs INSTALL_ROOT OUT_DIR\n');
    process.exit(2);
  }
  writePackageDocs(root, out).catch((e: unknown) => {
    process.stderr.write(`package-docs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
