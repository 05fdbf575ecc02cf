// At start: is Redis reachable at redis.url? If not and the URL is loopback, run one as a child
// (LocalRedis); it is stopped in the shutdown hooks. Enabled by `serve` (AppOptions.startLocalRedis).
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';

import { AgentConfig } from '../config/agent.config';
import { isLoopback, RedisChild, redisEndpoint, startRedisServer, tcpReachable } from './local-redis';

@Injectable()
export class LocalRedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('LocalRedis');
  private child?: RedisChild;

  constructor(private readonly config: AgentConfig) {}

  get childPid(): number | undefined {
    return this.child?.pid;
  }

  async onModuleInit(): Promise<void> {
    const url = this.config.redis.url;
    const { host, port } = redisEndpoint(url);
    if (await tcpReachable(host, port, 500)) {
      this.logger.log(`using the Redis at ${url}`);
      return;
    }
    if (!isLoopback(host)) {
      this.logger.warn(`Redis at ${url} is not reachable, and it is not a loopback address: not starting one`);
      return;
    }
    try {
      this.child = await startRedisServer({ host, port });
      this.logger.log(`Redis at ${url} was not reachable: started redis-server (pid ${this.child.pid}, no persistence), stopped again on shutdown`);
    } catch (e) {
      this.logger.warn(`Redis at ${url} is not reachable and starting one failed: ${(e as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await child.stop();
    this.logger.log(`stopped redis-server (pid ${child.pid})`);
  }
}
