#!/usr/bin/env node
// srv6-agent command line. `serve` runs the agent; submit/jobs/state/capabilities --url talk to a
// running one over its REST API; `capabilities` without --url probes this host's kernel.
// Exit status: see EXIT in cli-args.ts (0 ok, 1 runtime/job failed, 2 usage/config/invalid job,
// 3 job timeout, 4 agent unreachable or refused).
import 'reflect-metadata';

import { INestApplication, Logger, LoggerService } from '@nestjs/common';
import { readFileSync } from 'node:fs';

import { CapabilityProbe } from '../capabilities/capability-probe';
import { summarize } from '../capabilities/capabilities.model';
import { AgentConfig, CONFIG_DEFAULTS, CONFIG_ENV, ConfigField } from '../config/agent.config';
import { ConfigError, loadConfig } from '../config/config.loader';
import { bootstrap } from '../main';
import { StateMissingError } from '../dataplane/dataplane';
import { StateCorruptError } from '../dataplane/state-store';
import { prepareRedis } from '../redis/local-redis.service';
import { CliError } from './agent-client';
import { readBuildInfo, versionText } from '../common/build-info';
import { CliCommand, EXIT, helpText, LogFormat, parseCli, UsageError } from './cli-args';
import { CliIo, jobs, processIo, remoteCapabilities, state, submit } from './commands';
import { createLogger, logLevelsFor, resolveLogFormat } from './logging';
import { ensureSandbox, SANDBOX } from './sandbox-netns';
import { SystemdNotifier } from './systemd-notify';

/** Where a sandbox keeps its desired state unless told otherwise: never a real agent's. */
export const SANDBOX_STATE_DIR = `${CONFIG_DEFAULTS.state.dir}/sandbox`;
export const SANDBOX_HYPERVISOR = `${CONFIG_DEFAULTS.agent.hypervisor.slice(0, 55)}-sandbox`;

/** Whether the config file or the environment sets a field (then --sandbox leaves it alone). */
export function fieldGiven(field: ConfigField, env: Record<string, string | undefined>, file?: string): boolean {
  if (env[CONFIG_ENV[field]] !== undefined) return true;
  if (file === undefined) return false;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    const [ns, key] = field.split('.') as [string, string];
    return typeof data?.[ns] === 'object' && data[ns] !== null && data[ns]![key] !== undefined;
  } catch {
    return false; // loadConfig reports an unreadable or invalid file
  }
}

export interface ServeOptions {
  env?: NodeJS.ProcessEnv;
  /** Default: JSON or text per --log-format / SRV6_LOG_FORMAT / whether stdout is a terminal. */
  logger?: LoggerService;
  notifier?: SystemdNotifier;
}

export interface ServeHandle {
  app: INestApplication;
  url: string;
  config: AgentConfig;
  /** What systemd was told (tests). */
  notified: Promise<unknown>;
  /** Closes the app as SIGTERM would (minus process.exit); for tests. */
  close(): Promise<void>;
}

/** The configuration `serve` runs with: file < env < options; --sandbox defaults in between. */
export function serveConfig(cmd: Extract<CliCommand, { command: 'serve' }>, env: Record<string, string | undefined>): AgentConfig {
  const overrides: Partial<Record<ConfigField, { value: string; flag: string }>> = {};
  if (cmd.sandbox) {
    overrides['kernel.netns'] = { value: SANDBOX.netns, flag: '--sandbox' };
    if (!fieldGiven('state.dir', env, cmd.config)) overrides['state.dir'] = { value: SANDBOX_STATE_DIR, flag: '--sandbox' };
    if (!fieldGiven('agent.hypervisor', env, cmd.config)) overrides['agent.hypervisor'] = { value: SANDBOX_HYPERVISOR, flag: '--sandbox' };
    // A first run may have no Redis yet; a real agent never gets a throwaway one unasked.
    // The sandbox namespace holds only what sandboxes made: a new state directory starts it over.
    if (!fieldGiven('state.orphans', env, cmd.config)) overrides['state.orphans'] = { value: 'wipe', flag: '--sandbox' };
    if (!fieldGiven('redis.embedded', env, cmd.config)) overrides['redis.embedded'] = { value: 'true', flag: '--sandbox' };
  }
  if (cmd.listen !== undefined) overrides['server.listen'] = { value: cmd.listen, flag: '--listen' };
  if (cmd.stateDir !== undefined) overrides['state.dir'] = { value: cmd.stateDir, flag: '--state-dir' };
  if (cmd.wipeOrphans) overrides['state.orphans'] = { value: 'wipe', flag: '--wipe-orphans' };
  if (cmd.logLevel !== undefined) overrides['log.level'] = { value: cmd.logLevel, flag: '--log-level' };
  return loadConfig({ env, file: cmd.config, overrides });
}

export function serveLogFormat(cmd: Extract<CliCommand, { command: 'serve' }>): LogFormat {
  return resolveLogFormat(cmd.logFormat, process.stdout.isTTY === true);
}

export async function serve(cmd: Extract<CliCommand, { command: 'serve' }>, opts: ServeOptions = {}): Promise<ServeHandle> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger(serveLogFormat(cmd), { env });
  Logger.overrideLogger(logger);
  const log = new Logger('srv6-agent');
  const configured = serveConfig(cmd, env);
  // Until here (a bad configuration included) the default levels apply.
  logger.setLogLevels?.(logLevelsFor(configured.log.level));
  // Taken out of the environment before anything starts a child (see systemd-notify.ts).
  const notifier = opts.notifier ?? SystemdNotifier.fromEnv(env);

  if (cmd.sandbox) {
    const done = await ensureSandbox();
    log.log(
      `sandbox: netns ${SANDBOX.netns} (${SANDBOX.uplink} ${SANDBOX.address}) ${done.length ? done.join(', ') : 'reused as it was'}; state in ${configured.state.dir}, queue of hypervisor ${configured.agent.hypervisor}`,
    );
  }
  // Before the app: its queue connects with the URL it is given (with a throwaway Redis's password).
  const { config, child } = await prepareRedis(configured);
  // LocalRedisService stops the child on shutdown; a start that fails before the app exists must too.
  const { app, url } = await bootstrap(config, { startLocalRedis: true, logger }).catch(async (e: unknown) => {
    await child?.stop();
    throw e;
  });

  // Nest's own handlers (main.ts) run the shutdown hooks and exit; this one only tells systemd.
  const onSignal = (sig: NodeJS.Signals) => {
    log.log(`${sig}: shutting down; the dataplane stays in place`);
    void notifier.stopping();
  };
  process.once('SIGTERM', onSignal).once('SIGINT', onSignal);

  const managing = config.kernel.netns ? `netns ${config.kernel.netns}` : 'its own netns';
  log.log(`listening on ${url}, hypervisor ${config.agent.hypervisor}, managing ${managing}, state in ${config.state.dir}`);
  const notified = notifier.enabled
    ? notifier.ready(`listening on ${url}, managing ${managing}`).then((r) => {
        if (r.sent) log.log('told systemd the agent is ready');
        else log.warn(`could not tell systemd the agent is ready: ${r.reason}`);
        return r;
      })
    : Promise.resolve(undefined);
  // From here on the HTTP server keeps the process alive; SIGTERM/SIGINT run Nest's shutdown
  // hooks (child Redis stopped, sockets closed, kernel objects kept) and exit 0 (see main.ts).
  return {
    app,
    url,
    config,
    notified,
    close: async () => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      await app.close();
    },
  };
}

async function capabilities(): Promise<void> {
  // Without a handler SIGINT/SIGTERM would end the process without its 'exit' handlers, which
  // delete an interrupted probe's namespace: exit through process.exit instead.
  const interrupted = (sig: NodeJS.Signals) => {
    process.stderr.write(`srv6-agent: interrupted by ${sig}\n`);
    process.exit(EXIT.RUNTIME);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const caps = await new CapabilityProbe().run();
    process.stderr.write(`${summarize(caps)}\nas an SRv6 node: ${caps.srv6}\n`);
    process.stdout.write(`${JSON.stringify(caps, null, 2)}\n`);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}

/** A start failure explained: what to do about the common ones. */
export function explainStartError(e: unknown, config?: { listen?: string }): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EADDRINUSE')
    return `${err.message}: another process (another srv6-agent?) listens on ${config?.listen ?? 'that address'}; stop it or choose another address (--listen / SRV6_LISTEN)`;
  if (err?.code === 'EADDRNOTAVAIL') return `${err.message}: no interface of this host has that address; check server.listen`;
  if (err?.code === 'EACCES' && /listen/.test(err.message)) return `${err.message}: ports below 1024 need CAP_NET_BIND_SERVICE; use a port above 1024`;
  return err instanceof Error ? err.message : String(e);
}

export async function main(argv: string[], io: CliIo = processIo(), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cmd: CliCommand;
  try {
    cmd = parseCli(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`srv6-agent: ${e.message}\n\n${helpText(e.topic)}`);
    return EXIT.USAGE;
  }
  try {
    switch (cmd.command) {
      case 'help':
        io.out(helpText(cmd.topic));
        return EXIT.OK;
      case 'version':
        io.out(versionText('srv6-agent', readBuildInfo(), cmd.json));
        return EXIT.OK;
      case 'capabilities':
        if (cmd.remote) return await remoteCapabilities(cmd.remote, io);
        await capabilities();
        return EXIT.OK;
      case 'submit':
        return await submit(cmd, io);
      case 'jobs':
        return await jobs(cmd, io);
      case 'state':
        return await state(cmd, io);
      case 'serve':
        return await runServe(cmd, io, env);
    }
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`srv6-agent: ${e.message}\n${e.details.map((l) => `  ${l}\n`).join('')}`);
      return e.exitCode;
    }
    if (e instanceof ConfigError) {
      io.err(`srv6-agent: ${e.message}\n`);
      return EXIT.USAGE;
    }
    io.err(`srv6-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.RUNTIME;
  }
}

/** `serve`, with start failures logged in the chosen format (a JSON line under systemd). */
async function runServe(cmd: Extract<CliCommand, { command: 'serve' }>, io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const format = serveLogFormat(cmd);
  const logger = createLogger(format, { env });
  try {
    await serve(cmd, { env, logger });
    return EXIT.OK;
  } catch (e) {
    // A state to restore or wipe needs the operator, as a bad setting does: exit 2, which the unit does not restart.
    const code = e instanceof ConfigError || e instanceof StateMissingError || e instanceof StateCorruptError ? EXIT.USAGE : EXIT.RUNTIME;
    const message = e instanceof ConfigError ? e.message : `cannot start: ${explainStartError(e, { listen: cmd.listen ?? env.SRV6_LISTEN })}`;
    if (format === 'json') logger.fatal?.(message, 'srv6-agent');
    else io.err(`srv6-agent: ${message}\n`);
    return code;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps running (its server holds the loop); everything else ends here.
      if (code !== EXIT.OK) process.exit(code);
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`srv6-agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(EXIT.RUNTIME);
    },
  );
}
