// Command-line parsing for srv6-agent (node:util parseArgs, no dependency). Pure: unit-tested.
// Everything a person reads about the CLI (usage, per-command help, exit codes) lives here.
import { parseArgs } from 'node:util';

import { LOG_LEVELS, LogLevelName } from '../config/agent.config';
import { TENANT_ID_PATTERN } from '../dataplane/spec.dto';

/** Exit status of every command (documented in USAGE and docs/operations.md). */
export const EXIT = {
  OK: 0,
  /** A runtime error; `submit`: a job failed. */
  RUNTIME: 1,
  /** Usage or configuration error; `submit`: a job file that does not parse or validate (nothing sent). */
  USAGE: 2,
  /** `submit`: a job did not finish within --wait (it may still run). */
  TIMEOUT: 3,
  /** The agent could not be reached, or refused the request (no or wrong bearer token). */
  UNAVAILABLE: 4,
} as const;

export const DEFAULT_AGENT_URL = 'http://127.0.0.1:9610';
export const DEFAULT_WAIT_SECONDS = 60;
export const MAX_WAIT_SECONDS = 86_400;
export const DEFAULT_JOBS_LIMIT = 20;
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const COMMANDS = ['serve', 'submit', 'jobs', 'state', 'capabilities', 'help'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** How to reach a running agent. */
export interface RemoteOptions {
  /** Base URL without a trailing slash, e.g. "http://127.0.0.1:9610". */
  url: string;
  /** Bearer token file (--token-file, else SRV6_TOKEN_FILE); none: no Authorization header. */
  tokenFile?: string;
}

export type CliCommand =
  | { command: 'help'; topic?: Exclude<CommandName, 'help'> }
  | { command: 'version'; json: boolean }
  | {
      command: 'serve';
      config?: string;
      sandbox: boolean;
      listen?: string;
      stateDir?: string;
      wipeOrphans?: boolean;
      logFormat?: LogFormat;
      logLevel?: LogLevelName;
    }
  // submit and capabilities print JSON anyway: `json` only records that -j was given.
  | { command: 'submit'; file: string; remote: RemoteOptions; /** 0: enqueue only. */ waitSeconds: number; json?: true }
  | { command: 'jobs'; id?: string; limit: number; json: boolean; remote: RemoteOptions }
  | { command: 'state'; tenant?: string; json: boolean; remote: RemoteOptions }
  | { command: 'capabilities'; /** Absent: probe this host's kernel locally. */ remote?: RemoteOptions; json?: true };

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help fits the mistake. */
    readonly topic?: Exclude<CommandName, 'help'>,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const REMOTE_HELP = `  --url URL          The agent's HTTP API (default: $SRV6_AGENT_URL, else ${DEFAULT_AGENT_URL}).
  --token-file FILE  File holding the bearer token (default: $SRV6_TOKEN_FILE). Needed unless
                     you are on loopback and the agent has auth.loopback=open (its default).`;

const EXIT_HELP = `Exit status:
  0  success
  1  runtime error; submit: a job failed; jobs ID, state TENANT: no such job or tenant
  2  usage or configuration error; submit: the job file does not parse or validate (nothing sent)
  3  submit: a job did not finish within --wait (it may still run)
  4  the agent could not be reached, or refused the request (missing or wrong bearer token)`;

export const COMMAND_HELP: Record<Exclude<CommandName, 'help'>, string> = {
  serve: `Usage: srv6-agent serve [--config FILE] [--sandbox] [--listen HOST:PORT] [--state-dir DIR]
                        [--wipe-orphans] [--log-format json|text | -j] [--log-level LEVEL]

Run the agent: HTTP API, the hypervisor's Bull job queue, the dataplane. SIGTERM/SIGINT shut it
down cleanly and leave the dataplane in place.

  --config FILE        JSON config file (every field: docs/operations.md, example:
                       deploy/config.example.json). Environment variables SRV6_* override it,
                       options override both.
  --listen HOST:PORT   HTTP API address (server.listen; default 127.0.0.1:9610, "[::1]:9610"
                       for IPv6, port 0: any free port).
  --state-dir DIR      Desired state directory (state.dir; default /var/lib/srv6-agent).
  --wipe-orphans       With no desired state in the state dir, delete the objects of the agent
                       the kernel holds (state.orphans=wipe); without it such a start is refused,
                       since it would delete them all unasked (a lost state directory).
  --sandbox            Manage the network namespace "srv6-sandbox" (created if missing, with a
                       veth sbx-uplink/sbx-peer and fc00:0:ffff::1/64 as a stand-in underlay)
                       instead of kernel.netns; it is kept on exit and reused. Unless given
                       otherwise, the state dir is /var/lib/srv6-agent/sandbox and the hypervisor
                       name gets "-sandbox" appended, so a sandbox never mixes with a real agent.
  --log-format FORMAT  "json" (one JSON object per line: time, level, context, message) or
                       "text". Default: $SRV6_LOG_FORMAT, else json when stdout is not a terminal.
  -j, --json           Same as --log-format json.
  --log-level LEVEL    The least severe level logged: ${LOG_LEVELS.join(', ')}
                       (log.level, $SRV6_LOG_LEVEL; default info: info, warn, error, fatal).

With --sandbox (or redis.embedded), if no Redis answers at a loopback redis.url, a redis-server
(no persistence, a random password) is started as a child and stopped on exit; otherwise the
agent waits for its Redis. Under systemd (NOTIFY_SOCKET set) readiness is reported with
systemd-notify once the API listens and the startup reconcile is done.`,

  submit: `Usage: srv6-agent submit FILE|- [--wait SECONDS | --no-wait] [-j] [--url URL] [--token-file FILE]

Validate jobs from FILE (or stdin for "-") and submit them, in order, to a running agent.
FILE is YAML or JSON: one job, a list of jobs, or several YAML documents ("---"). Every job is
validated here first: field errors are printed with their line and nothing is sent (exit 2).
Then each job is posted and its result printed to stdout as JSON (the job as GET /v1/jobs/ID
shows it; a list of them when FILE holds a list). Submission stops at the first job that fails
or does not finish in time; the jobs after it are not sent.

  --wait SECONDS  How long to wait for each job's result (default ${DEFAULT_WAIT_SECONDS}).
  --no-wait       Only enqueue (same as --wait 0); check later with "srv6-agent jobs ID".
  -j, --json      The output is JSON anyway (accepted, as by every command, for scripts).
${REMOTE_HELP}

Example:
  srv6-agent submit tenant-alpha.yaml
  printf '{"type":"resync"}' | srv6-agent submit - --no-wait`,

  jobs: `Usage: srv6-agent jobs [ID] [--limit N] [-j|--json] [--url URL] [--token-file FILE]

Without ID: the most recent jobs, newest first (a table; --json for the raw list).
With ID: one job, with its result or why it failed (--json for the raw job).

  --limit N   How many jobs to list (1..1000, default ${DEFAULT_JOBS_LIMIT}).
  -j, --json  Print JSON instead of text.
${REMOTE_HELP}`,

  state: `Usage: srv6-agent state [TENANT] [-j|--json] [--url URL] [--token-file FILE]

Without TENANT: the node, the owned kernel objects and every tenant with its decap counters.
With TENANT: that tenant as desired and as the kernel holds it.

  -j, --json  Print JSON instead of text.
${REMOTE_HELP}`,

  capabilities: `Usage: srv6-agent capabilities [-j] [--url URL [--token-file FILE]]

Without --url: probe this host's kernel (in a throwaway network namespace; needs root) and
print the result as JSON; no agent needs to run. With --url: what the running agent probed at
its start and the mode it runs in (GET /v1/capabilities). $SRV6_AGENT_URL does not apply
here: without --url the kernel is probed.

  -j, --json  The output is JSON anyway (accepted, as by every command, for scripts).`,
};

export const USAGE = `Usage: srv6-agent <command> [options]
       srv6-agent -V|--version [-j|--json]

Commands:
  serve            Run the agent (HTTP API, job queue, dataplane).
  submit FILE|-    Validate jobs (YAML or JSON) and submit them to a running agent.
  jobs [ID]        Recent jobs, or one job with its result.
  state [TENANT]   Desired and observed state: node, owned objects, tenants.
  capabilities     What the kernel supports (local probe; --url: the running agent's).
  help [COMMAND]   Help for a command (also: srv6-agent COMMAND --help).

-j, --json: JSON on stdout, taken by every command but help (serve: JSON logs). -V, --version
prints the version and the commit it was built from.

submit, jobs, state and capabilities --url talk to a running agent:
${REMOTE_HELP}

Environment:
  SRV6_AGENT_URL   --url of submit, jobs and state (the option wins).
  SRV6_TOKEN_FILE  --token-file.
  SRV6_LOG_FORMAT  serve --log-format.
  SRV6_LOG_LEVEL   serve --log-level.
  SRV6_*           serve: every configuration field (docs/operations.md lists them).

${EXIT_HELP}
`;

/** The text printed for `help [topic]`. */
export function helpText(topic?: Exclude<CommandName, 'help'>): string {
  return topic ? `${COMMAND_HELP[topic]}\n\n${EXIT_HELP}\n` : USAGE;
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values = Record<string, string | boolean | undefined>;

/** The options every command takes besides its own. */
export const COMMON_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const satisfies OptionSpec;
/** The top level's options (before any command). */
export const TOP_OPTIONS = { ...COMMON_OPTIONS, version: { type: 'boolean', short: 'V' }, json: { type: 'boolean', short: 'j' } } as const satisfies OptionSpec;
const JSON_OPTION = { json: { type: 'boolean', short: 'j' } } as const satisfies OptionSpec;
const REMOTE_OPTIONS = { url: { type: 'string' }, 'token-file': { type: 'string' } } as const satisfies OptionSpec;

/** Each command's options (besides COMMON_OPTIONS): what it parses and what shell completion offers. */
export const COMMAND_OPTIONS = {
  serve: {
    config: { type: 'string' },
    sandbox: { type: 'boolean' },
    listen: { type: 'string' },
    'state-dir': { type: 'string' },
    'wipe-orphans': { type: 'boolean' },
    'log-format': { type: 'string' },
    'log-level': { type: 'string' },
    ...JSON_OPTION,
  },
  submit: { ...REMOTE_OPTIONS, wait: { type: 'string' }, 'no-wait': { type: 'boolean' }, ...JSON_OPTION },
  jobs: { ...REMOTE_OPTIONS, limit: { type: 'string' }, ...JSON_OPTION },
  state: { ...REMOTE_OPTIONS, ...JSON_OPTION },
  capabilities: { ...REMOTE_OPTIONS, ...JSON_OPTION },
} as const satisfies Record<Exclude<CommandName, 'help'>, OptionSpec>;

/** What an option's value is, for shell completion: a fixed list, a file or a directory. */
export type ValueHint = readonly string[] | 'file' | 'dir';
export const OPTION_VALUES: Record<string, ValueHint> = {
  config: 'file',
  'state-dir': 'dir',
  'log-format': LOG_FORMATS,
  'log-level': LOG_LEVELS,
  'token-file': 'file',
};
/** What a command's argument is, for shell completion (commands not listed: nothing to offer). */
export const COMMAND_ARGUMENT: Partial<Record<CommandName, ValueHint>> = {
  submit: 'file',
  help: COMMANDS.filter((c) => c !== 'help'),
};

function parse(args: string[], options: OptionSpec, topic: Exclude<CommandName, 'help'>, positionals = false): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, ...COMMON_OPTIONS }, strict: true, allowPositionals: positionals });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''), topic);
  }
}

function nonEmpty(values: Values, keys: string[], topic: Exclude<CommandName, 'help'>): void {
  for (const k of keys) if (values[k] === '') throw new UsageError(`option --${k} needs a non-empty value`, topic);
}

/** "http://host:port[/prefix]" without a trailing slash; `from` names where `s` came from in errors. */
export function parseAgentUrl(s: string, topic: Exclude<CommandName, 'help'>, from = '--url'): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new UsageError(`${from} ${JSON.stringify(s)} is not a URL (e.g. ${DEFAULT_AGENT_URL})`, topic);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${from} must be an http:// or https:// URL (e.g. ${DEFAULT_AGENT_URL}), not ${u.protocol}`, topic);
  if (u.search || u.hash) throw new UsageError(`${from} must not have a query or fragment`, topic);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** --url, else $SRV6_AGENT_URL (unless empty), else the default. */
function remoteOf(values: Values, env: Record<string, string | undefined>, topic: Exclude<CommandName, 'help'>): RemoteOptions {
  nonEmpty(values, ['url', 'token-file'], topic);
  const url =
    typeof values.url === 'string'
      ? parseAgentUrl(values.url, topic)
      : env.SRV6_AGENT_URL
        ? parseAgentUrl(env.SRV6_AGENT_URL, topic, 'SRV6_AGENT_URL')
        : DEFAULT_AGENT_URL;
  const out: RemoteOptions = { url };
  const tokenFile = typeof values['token-file'] === 'string' ? values['token-file'] : env.SRV6_TOKEN_FILE;
  if (tokenFile) out.tokenFile = tokenFile;
  return out;
}

function atMostOne(positionals: string[], what: string, topic: Exclude<CommandName, 'help'>): string | undefined {
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])} (${topic} takes at most one ${what})`, topic);
  return positionals[0];
}

const VERSION_FLAGS = ['-V', '--version', '-j', '--json'];

/**
 * Parses the command line. `env` supplies defaults that options override: SRV6_AGENT_URL (--url),
 * SRV6_TOKEN_FILE (--token-file) and SRV6_LOG_FORMAT (--log-format). SRV6_LOG_LEVEL, like every
 * setting of the configuration, is read by the config loader.
 */
export function parseCli(argv: string[], env: Record<string, string | undefined> = {}): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('missing command');
  if (first === '-h' || first === '--help') {
    if (rest.length) throw new UsageError(`unexpected argument after ${first}: ${rest[0]}`);
    return { command: 'help' };
  }
  if (VERSION_FLAGS.includes(first) && argv.some((a) => a === '-V' || a === '--version')) {
    const bad = argv.find((a) => !VERSION_FLAGS.includes(a));
    if (bad !== undefined) throw new UsageError(`unexpected argument with --version: ${bad}`);
    return { command: 'version', json: argv.some((a) => a === '-j' || a === '--json') };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (options come after the command)`);
  if (!(COMMANDS as readonly string[]).includes(first)) throw new UsageError(`unknown command ${JSON.stringify(first)} (commands: ${COMMANDS.join(', ')})`);
  const command = first as CommandName;

  switch (command) {
    case 'help': {
      if (rest.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(rest[1])} (help takes at most one command)`);
      const topic = rest[0];
      if (topic === undefined || topic === '-h' || topic === '--help') return { command: 'help' };
      if (topic === 'help' || !(COMMANDS as readonly string[]).includes(topic))
        throw new UsageError(`no help for ${JSON.stringify(topic)} (commands: ${COMMANDS.filter((c) => c !== 'help').join(', ')})`);
      return { command: 'help', topic: topic as Exclude<CommandName, 'help'> };
    }

    case 'serve': {
      const { values } = parse(rest, COMMAND_OPTIONS.serve, command);
      if (values.help) return { command: 'help', topic: 'serve' };
      nonEmpty(values, ['config', 'listen', 'state-dir', 'log-format', 'log-level'], command);
      const out: Extract<CliCommand, { command: 'serve' }> = { command: 'serve', sandbox: values.sandbox === true };
      if (typeof values.config === 'string') out.config = values.config;
      if (typeof values.listen === 'string') out.listen = values.listen;
      if (typeof values['state-dir'] === 'string') out.stateDir = values['state-dir'];
      if (values['wipe-orphans'] === true) out.wipeOrphans = true;
      if (values.json && typeof values['log-format'] === 'string' && values['log-format'] !== 'json')
        throw new UsageError(`--json contradicts --log-format ${values['log-format']}`, command);
      const format = values.json ? 'json' : typeof values['log-format'] === 'string' ? values['log-format'] : env.SRV6_LOG_FORMAT || undefined;
      if (format !== undefined) {
        const from = typeof values['log-format'] === 'string' ? '--log-format' : 'SRV6_LOG_FORMAT';
        if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new UsageError(`${from} must be json or text, not ${JSON.stringify(format)}`, command);
        out.logFormat = format as LogFormat;
      }
      const level = values['log-level'];
      if (typeof level === 'string') {
        if (!(LOG_LEVELS as readonly string[]).includes(level))
          throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`, command);
        out.logLevel = level as LogLevelName;
      }
      return out;
    }

    case 'submit': {
      const { values, positionals } = parse(rest, COMMAND_OPTIONS.submit, command, true);
      if (values.help) return { command: 'help', topic: 'submit' };
      const file = atMostOne(positionals, 'file', command);
      if (file === undefined || file === '') throw new UsageError('submit needs a job file (or "-" for stdin)', command);
      if (values.wait !== undefined && values['no-wait']) throw new UsageError('--wait and --no-wait contradict each other', command);
      let waitSeconds = DEFAULT_WAIT_SECONDS;
      if (values['no-wait']) waitSeconds = 0;
      else if (typeof values.wait === 'string') {
        const w = values.wait.trim() === '' ? NaN : Number(values.wait);
        if (!Number.isFinite(w) || w < 0 || w > MAX_WAIT_SECONDS)
          throw new UsageError(`--wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}, not ${JSON.stringify(values.wait)}`, command);
        waitSeconds = w;
      }
      const out: Extract<CliCommand, { command: 'submit' }> = { command: 'submit', file, remote: remoteOf(values, env, command), waitSeconds };
      if (values.json) out.json = true;
      return out;
    }

    case 'jobs': {
      const { values, positionals } = parse(rest, COMMAND_OPTIONS.jobs, command, true);
      if (values.help) return { command: 'help', topic: 'jobs' };
      const id = atMostOne(positionals, 'job id', command);
      if (id === '') throw new UsageError('the job id must not be empty', command);
      let limit = DEFAULT_JOBS_LIMIT;
      if (typeof values.limit === 'string') {
        if (!/^\d+$/.test(values.limit) || Number(values.limit) < 1 || Number(values.limit) > 1000)
          throw new UsageError(`--limit must be a whole number from 1 to 1000, not ${JSON.stringify(values.limit)}`, command);
        if (id !== undefined) throw new UsageError('--limit applies to the list of jobs, not to one job', command);
        limit = Number(values.limit);
      }
      const out: Extract<CliCommand, { command: 'jobs' }> = { command: 'jobs', limit, json: values.json === true, remote: remoteOf(values, env, command) };
      if (id !== undefined) out.id = id;
      return out;
    }

    case 'state': {
      const { values, positionals } = parse(rest, COMMAND_OPTIONS.state, command, true);
      if (values.help) return { command: 'help', topic: 'state' };
      const tenant = atMostOne(positionals, 'tenant', command);
      if (tenant !== undefined && !TENANT_ID_PATTERN.test(tenant))
        throw new UsageError(
          `${JSON.stringify(tenant)} is not a tenant id (1..11 characters of a-z, 0-9, "_" or "-", starting with a letter or digit)`,
          command,
        );
      const out: Extract<CliCommand, { command: 'state' }> = { command: 'state', json: values.json === true, remote: remoteOf(values, env, command) };
      if (tenant !== undefined) out.tenant = tenant;
      return out;
    }

    case 'capabilities': {
      const { values } = parse(rest, COMMAND_OPTIONS.capabilities, command);
      if (values.help) return { command: 'help', topic: 'capabilities' };
      const json = values.json ? ({ json: true } as const) : {};
      if (values.url === undefined) {
        if (values['token-file'] !== undefined) throw new UsageError('--token-file needs --url (without --url the kernel is probed locally)', command);
        return { command: 'capabilities', ...json };
      }
      return { command: 'capabilities', remote: remoteOf(values, env, command), ...json };
    }
  }
}
