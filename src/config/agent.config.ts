// Typed agent configuration, one class per namespace, validated with class-validator at start.
// Sources (later wins): defaults < JSON file (--config) < environment (SRV6_*) < command line.
// See config.loader.ts for how they are merged and how errors name the offending field.
import 'reflect-metadata';

import { Type } from 'class-transformer';
import { IsDefined, IsString, Matches, ValidateBy, ValidateNested, ValidationOptions } from 'class-validator';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * "HOST:PORT" with HOST an IPv4 address, a hostname or a bracketed IPv6 address ("[::1]:9610");
 * PORT 0..65535 (0: any free port). Undefined when it does not parse.
 */
export function parseHostPort(s: unknown): HostPort | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function IsHostPort(opts?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isHostPort',
      validator: {
        validate: (v) => parseHostPort(v) !== undefined,
        defaultMessage: () => 'must be HOST:PORT (e.g. 127.0.0.1:9610 or [::1]:9610), port 0..65535',
      },
    },
    opts,
  );
}

export const REDIS_URL_PROTOCOLS = ['redis:', 'rediss:'];

function IsRedisUrl(opts?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRedisUrl',
      validator: {
        validate: (v) => {
          if (typeof v !== 'string') return false;
          try {
            const u = new URL(v);
            return REDIS_URL_PROTOCOLS.includes(u.protocol) && u.hostname !== '';
          } catch {
            return false;
          }
        },
        defaultMessage: () => 'must be a redis:// or rediss:// URL with a host (e.g. redis://127.0.0.1:6379)',
      },
    },
    opts,
  );
}

export class ServerConfig {
  /** HTTP API address. */
  @IsHostPort()
  listen!: string;
}

export class KernelConfig {
  /** Named network namespace (/var/run/netns/NAME) the agent manages; '' = the agent's own. */
  @IsString()
  @Matches(/^(?:|[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})$/, {
    message: "must be a network namespace name (letters, digits, '_', '.', '-', at most 64) or empty for the agent's own",
  })
  netns!: string;
}

export class StateConfig {
  /** Where the desired state and allocations are kept. */
  @IsString()
  @Matches(/^\/(?!.*\/\.\.?(?:\/|$))/, { message: "must be an absolute path without '.' or '..' segments" })
  dir!: string;
}

export class RedisConfig {
  @IsRedisUrl()
  url!: string;
}

export class AgentConfig {
  @IsDefined()
  @ValidateNested()
  @Type(() => ServerConfig)
  server!: ServerConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => KernelConfig)
  kernel!: KernelConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => StateConfig)
  state!: StateConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => RedisConfig)
  redis!: RedisConfig;

  /** The parsed listen address (valid once the config passed validation). */
  get listenAddress(): HostPort {
    return parseHostPort(this.server.listen)!;
  }
}

/** Plain shape of a config (what the JSON file holds, every field optional there). */
export interface AgentConfigInput {
  server?: { listen?: string };
  kernel?: { netns?: string };
  state?: { dir?: string };
  redis?: { url?: string };
}

export const CONFIG_DEFAULTS = {
  server: { listen: '127.0.0.1:9610' },
  kernel: { netns: '' },
  state: { dir: '/var/lib/srv6-agent' },
  redis: { url: 'redis://127.0.0.1:6379' },
} as const;

/** Environment variable of each field. */
export const CONFIG_ENV = {
  'server.listen': 'SRV6_LISTEN',
  'kernel.netns': 'SRV6_NETNS',
  'state.dir': 'SRV6_STATE_DIR',
  'redis.url': 'SRV6_REDIS_URL',
} as const;
export type ConfigField = keyof typeof CONFIG_ENV;
