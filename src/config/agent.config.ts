// Typed agent configuration, one class per namespace, validated with class-validator at start.
// Sources (later wins): defaults < JSON file (--config) < environment (SRV6_*) < command line.
// See config.loader.ts for how they are merged and how errors name the offending field.
import 'reflect-metadata';

import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsIn, IsInt, IsString, Matches, Max, Min, ValidateBy, ValidateNested, ValidationOptions } from 'class-validator';
import { hostname } from 'node:os';

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

  /**
   * What a start finding no desired state does while the kernel holds objects of the agent (its
   * state directory lost): 'refuse' to start, or 'wipe' them with the startup reconcile. For a
   * one-off, prefer `serve --wipe-orphans`; --sandbox wipes (its namespace is its own).
   */
  @IsIn(['refuse', 'wipe'], { message: 'must be refuse or wipe' })
  orphans!: 'refuse' | 'wipe';
}

export class RedisConfig {
  /** May carry a user and password (redis://user:password@host:port): keep it out of world-readable files. */
  @IsRedisUrl()
  url!: string;

  /**
   * Whether `serve` may start a throwaway redis-server (no persistence, random password) when
   * nothing answers at a loopback url. Off unless --sandbox: a late real Redis must not be
   * replaced by a database that dies with the agent.
   */
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'must be true or false' })
  embedded!: boolean;
}

export class AgentIdentityConfig {
  /** This hypervisor's name: its job queue is `srv6-agent:<hypervisor>:jobs` in Redis. */
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: "must be 1..63 characters of letters, digits, '_', '.', '-'" })
  hypervisor!: string;
}

export class AuthConfig {
  /** File holding the bearer token non-loopback clients must send; '' = refuse them all. */
  @IsString()
  @Matches(/^(?:|\/.*)$/, { message: 'must be an absolute path or empty' })
  tokenFile!: string;

  /** Loopback clients: 'open' (no token) or 'token' (same rule as everybody). */
  @IsIn(['open', 'token'])
  loopback!: 'open' | 'token';
}

export class QueueConfig {
  /** Lock of the job being applied: a job whose agent died runs again once it expires. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(600_000)
  lockMs!: number;
}

export class DataplaneConfig {
  /** Full reconcile this often, behind the netlink monitor (0: never). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  resyncSeconds!: number;
}

/** Log levels of `serve`, most severe first; each enables itself and those before it. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export class LogConfig {
  /** The least severe level logged ("info": info, warn, error and fatal). */
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  level!: LogLevelName;
}

export class AgentConfig {
  @IsDefined()
  @ValidateNested()
  @Type(() => AgentIdentityConfig)
  agent!: AgentIdentityConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => LogConfig)
  log!: LogConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => AuthConfig)
  auth!: AuthConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => QueueConfig)
  queue!: QueueConfig;

  @IsDefined()
  @ValidateNested()
  @Type(() => DataplaneConfig)
  dataplane!: DataplaneConfig;

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
  agent?: { hypervisor?: string };
  auth?: { tokenFile?: string; loopback?: string };
  queue?: { lockMs?: number | string };
  dataplane?: { resyncSeconds?: number | string };
  server?: { listen?: string };
  kernel?: { netns?: string };
  state?: { dir?: string; orphans?: string };
  redis?: { url?: string; embedded?: boolean | string };
  log?: { level?: string };
}

export const CONFIG_DEFAULTS = {
  agent: {
    hypervisor:
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 63) || 'hv',
  },
  auth: { tokenFile: '', loopback: 'open' },
  queue: { lockMs: 30_000 },
  dataplane: { resyncSeconds: 300 },
  server: { listen: '127.0.0.1:9610' },
  kernel: { netns: '' },
  state: { dir: '/var/lib/srv6-agent', orphans: 'refuse' },
  redis: { url: 'redis://127.0.0.1:6379', embedded: false },
  log: { level: 'info' },
} as const;

/** Environment variable of each field. */
export const CONFIG_ENV = {
  'agent.hypervisor': 'SRV6_HYPERVISOR',
  'auth.tokenFile': 'SRV6_TOKEN_FILE',
  'auth.loopback': 'SRV6_LOOPBACK_AUTH',
  'queue.lockMs': 'SRV6_QUEUE_LOCK_MS',
  'dataplane.resyncSeconds': 'SRV6_RESYNC_SECONDS',
  'server.listen': 'SRV6_LISTEN',
  'kernel.netns': 'SRV6_NETNS',
  'state.dir': 'SRV6_STATE_DIR',
  'state.orphans': 'SRV6_STATE_ORPHANS',
  'redis.url': 'SRV6_REDIS_URL',
  'redis.embedded': 'SRV6_REDIS_EMBEDDED',
  'log.level': 'SRV6_LOG_LEVEL',
} as const;
export type ConfigField = keyof typeof CONFIG_ENV;
