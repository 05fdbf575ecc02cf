#!/usr/bin/env node
// srv6-agent command line: `serve` runs the agent, `capabilities` prints the kernel probe.
// Exit status: 0 success, 1 runtime error, 2 usage or configuration error.
import 'reflect-metadata';

import { Logger } from '@nestjs/common';

import { CapabilityProbe } from '../capabilities/capability-probe';
import { ConfigField } from '../config/agent.config';
import { ConfigError, loadConfig } from '../config/config.loader';
import { bootstrap } from '../main';
import { CliCommand, EXIT, parseCli, USAGE, UsageError } from './cli-args';
import { ensureSandbox, SANDBOX } from './sandbox-netns';

async function serve(cmd: Extract<CliCommand, { command: 'serve' }>): Promise<void> {
  const logger = new Logger('srv6-agent');
  const overrides: Partial<Record<ConfigField, { value: string; flag: string }>> = {};
  if (cmd.listen !== undefined) overrides['server.listen'] = { value: cmd.listen, flag: '--listen' };
  if (cmd.sandbox) overrides['kernel.netns'] = { value: SANDBOX.netns, flag: '--sandbox' };
  const config = loadConfig({ env: process.env, file: cmd.config, overrides });

  if (cmd.sandbox) {
    const done = await ensureSandbox();
    logger.log(`sandbox: netns ${SANDBOX.netns} (${SANDBOX.uplink} ${SANDBOX.address}) ${done.length ? done.join(', ') : 'reused as it was'}`);
  }
  const { url } = await bootstrap(config, { startLocalRedis: true });
  logger.log(`listening on ${url}, managing ${config.kernel.netns ? `netns ${config.kernel.netns}` : 'its own netns'}`);
  // From here on the HTTP server keeps the process alive; SIGTERM/SIGINT run Nest's shutdown
  // hooks (child Redis stopped, sockets closed) and exit 0 (see main.ts).
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
    process.stdout.write(`${JSON.stringify(caps, null, 2)}\n`);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}

export async function main(argv: string[]): Promise<number> {
  let cmd: CliCommand;
  try {
    cmd = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`srv6-agent: ${e.message}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  try {
    switch (cmd.command) {
      case 'help':
        process.stdout.write(USAGE);
        return EXIT.OK;
      case 'capabilities':
        await capabilities();
        return EXIT.OK;
      case 'serve':
        await serve(cmd);
        return EXIT.OK;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`srv6-agent: ${e.message}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`srv6-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.RUNTIME;
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
