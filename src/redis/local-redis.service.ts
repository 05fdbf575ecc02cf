// Redis at start. Outside --sandbox (and without redis.embedded) the agent only ever uses the Redis
// at redis.url, waiting for it when it is late: a throwaway one would silently take the jobs into
// a database that dies with the agent. With redis.embedded and nothing answering at a loopback
// redis.url, prepareRedis starts one as a child, with a random password, before the app exists
// (the queue connects with the URL it is given then); LocalRedisService stops it on shutdown.
import { Injectable, Logger, LoggerService, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';

import { AgentConfig } from '../config/agent.config';
import { isLoopback, newPassword, redactUrl, RedisChild, redisEndpoint, startRedisServer, tcpReachable, withPassword } from './local-redis';

/** The child started for a config (the one prepareRedis returned), for the service to stop. */
const children = new WeakMap<AgentConfig, RedisChild>();

export interface PreparedRedis {
  /** The config to run with: redis.url carries the child's password when one was started. */
  config: AgentConfig;
  child?: RedisChild;
}

function withRedisUrl(config: AgentConfig, url: string): AgentConfig {
  const redis = Object.assign(Object.create(Object.getPrototypeOf(config.redis) as object) as AgentConfig['redis'], config.redis, { url });
  return Object.assign(Object.create(Object.getPrototypeOf(config) as object) as AgentConfig, config, { redis });
}

/**
 * Run before the app is built. With redis.embedded, a loopback redis.url and nothing listening
 * there: starts redis-server (no persistence, requirepass a new random password) and returns the
 * config with that password in redis.url. Otherwise the config as it is, and a log line saying
 * whether the Redis answers.
 */
export async function prepareRedis(config: AgentConfig, logger: Pick<LoggerService, 'log' | 'warn'> = new Logger('LocalRedis')): Promise<PreparedRedis> {
  const url = config.redis.url;
  const shown = redactUrl(url);
  const { host, port } = redisEndpoint(url);
  if (await tcpReachable(host, port, 500)) {
    logger.log(`using the Redis at ${shown}`);
    return { config };
  }
  if (!config.redis.embedded) {
    logger.warn(
      `Redis at ${shown} is not reachable: waiting for it (jobs are taken once it answers; no throwaway redis-server is started without --sandbox or redis.embedded)`,
    );
    return { config };
  }
  if (!isLoopback(host)) {
    logger.warn(`Redis at ${shown} is not reachable, and it is not a loopback address: not starting one (redis.embedded); waiting for it`);
    return { config };
  }
  // The URL's own password if it has one (the operator chose it), else one for this run only.
  const password = decodeURIComponent(new URL(url).password) || newPassword();
  let child: RedisChild;
  try {
    child = await startRedisServer({ host, port, password });
  } catch (e) {
    logger.warn(`Redis at ${shown} is not reachable and starting one failed: ${(e as Error).message}; waiting for it`);
    return { config };
  }
  logger.log(`Redis at ${shown} was not reachable: started redis-server (pid ${child.pid}, no persistence, password required), stopped again on shutdown`);
  const prepared = withRedisUrl(config, withPassword(url, password));
  children.set(prepared, child);
  return { config: prepared, child };
}

/** How often a Redis that did not answer at start is looked for, to say when it is there. */
const WATCH_MS = 1000;

@Injectable()
export class LocalRedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('LocalRedis');
  private watch?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly config: AgentConfig) {}

  get childPid(): number | undefined {
    return children.get(this.config)?.pid;
  }

  /** Says when a Redis that was late answers (the queue reconnects by itself). */
  async onModuleInit(): Promise<void> {
    const { host, port } = redisEndpoint(this.config.redis.url);
    if (await tcpReachable(host, port, 500)) return;
    const look = async () => {
      this.watch = undefined;
      if (await tcpReachable(host, port, 500)) {
        this.logger.log(`Redis at ${redactUrl(this.config.redis.url)} answers now`);
        return;
      }
      if (!this.stopped) this.watch = setTimeout(() => void look(), WATCH_MS).unref();
    };
    this.watch = setTimeout(() => void look(), WATCH_MS).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.watch);
    const child = children.get(this.config);
    if (!child) return;
    children.delete(this.config);
    await child.stop();
    this.logger.log(`stopped redis-server (pid ${child.pid})`);
  }
}
