// Builds and starts the Nest application. The CLI (src/cli/srv6-agent.ts `serve`) is the entry
// point; tests call createApp/bootstrap directly.
import 'reflect-metadata';

import { INestApplication, LoggerService, LogLevel, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { NestExpressApplication } from '@nestjs/platform-express';
import { MAX_JOB_BYTES } from './jobs/job-validation';
import { AddressInfo } from 'node:net';

import { AppModule, AppOptions } from './app.module';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { DomainExceptionFilter } from './common/domain-exception.filter';
import { AgentConfig } from './config/agent.config';

export interface BootstrapOptions extends AppOptions {
  logger?: LoggerService | LogLevel[] | false;
}

/**
 * The configured application (pipes, filter, shutdown hooks), initialised (every onModuleInit has
 * run: the capability probe, the netlink socket, the local Redis) but not listening.
 */
export async function createApp(config: AgentConfig, opts: BootstrapOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, opts), {
    logger: opts.logger ?? ['log', 'warn', 'error'],
    abortOnError: false, // a failing start rejects (the CLI prints it and exits 1) instead of exiting here
  });
  // SIGTERM (systemd) / SIGINT: run every shutdown hook, then exit 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.useGlobalFilters(new DomainExceptionFilter());
  // Who may ask, before anything else (the body parser, /docs): bearer-token.guard.ts.
  app.use(new BearerTokenGuard(config).middleware());
  // Jobs carry up to 100,000 routes: Express's 100 kB default would refuse them.
  app.useBodyParser('json', { limit: MAX_JOB_BYTES });
  // OpenAPI at /docs (UI) and /docs-json.
  const doc = new DocumentBuilder()
    .setTitle('srv6-agent')
    .setDescription('Per-hypervisor SRv6 tenant networking agent')
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  try {
    await app.init();
  } catch (e) {
    await app.close().catch(() => undefined); // undo what the modules that did start opened
    throw e;
  }
  return app;
}

export interface RunningApp {
  app: INestApplication;
  /** "http://host:port" actually bound (port 0 resolved). */
  url: string;
}

/** createApp + listen on config.server.listen. */
export async function bootstrap(config: AgentConfig, opts: BootstrapOptions = {}): Promise<RunningApp> {
  const app = await createApp(config, opts);
  try {
    const { host, port } = config.listenAddress;
    await app.listen(port, host);
    const addr = app.getHttpServer().address() as AddressInfo;
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { app, url: `http://${shown}:${addr.port}` };
  } catch (e) {
    await app.close();
    throw e;
  }
}
