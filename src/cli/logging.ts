// Logs of `serve`: one JSON object per line for machines (journald, log shippers) or Nest's
// readable text for a person at a terminal. The JSON logger is a plain LoggerService, so every
// Nest `Logger` in the application writes through it once it is installed.
import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';
import { fstatSync } from 'node:fs';
import { inspect } from 'node:util';

import { LOG_LEVELS, LogLevelName } from '../config/agent.config';
import type { LogFormat } from './cli-args';

/** The format when none was asked for: JSON unless a person is watching stdout. */
export function resolveLogFormat(asked: LogFormat | undefined, stdoutIsTTY: boolean): LogFormat {
  return asked ?? (stdoutIsTTY ? 'text' : 'json');
}

export const DEFAULT_LOG_LEVELS: LogLevel[] = ['log', 'warn', 'error', 'fatal'];

/** The conventional level names of log.level → Nest's ("info" is Nest's "log"). */
const NEST_LEVEL: Record<LogLevelName, LogLevel> = { fatal: 'fatal', error: 'error', warn: 'warn', info: 'log', debug: 'debug', verbose: 'verbose' };

/** The Nest levels that `level` enables: itself and every more severe one. */
export function logLevelsFor(level: LogLevelName): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1).map((l) => NEST_LEVEL[l]);
}

/** Nest's level names → the conventional ones in the JSON (Nest's "log" is "info"). */
const LEVEL_NAME: Record<LogLevel, string> = { log: 'info', warn: 'warn', error: 'error', fatal: 'fatal', debug: 'debug', verbose: 'verbose' };

/** syslog priorities, for journald's `<N>` line prefix (journalctl -p works then). */
const SYSLOG_PRIORITY: Record<LogLevel, number> = { fatal: 2, error: 3, warn: 4, log: 6, debug: 7, verbose: 7 };

/** Nest's line-per-module and line-per-route start-up chatter: debug level in the JSON logs. */
const NEST_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

export interface JsonLogRecord {
  time: string;
  level: string;
  context?: string;
  message: string;
  pid: number;
  stack?: string;
  [k: string]: unknown;
}

export interface JsonLoggerOptions {
  levels?: LogLevel[];
  /** Where lines go (default process.stdout). */
  write?: (line: string) => void;
  /** Prefix each line with its syslog priority, "<3>{...}" (journald strips it): see journalPrefixWanted. */
  syslogPrefix?: boolean;
  now?: () => Date;
}

/**
 * True when stdout is the journal's stream (systemd sets JOURNAL_STREAM to its "dev:ino"): then a
 * "<N>" prefix sets each line's priority, and journald stores the JSON without it.
 */
export function journalPrefixWanted(env: Record<string, string | undefined> = process.env, fd = 1): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fstatSync(fd);
    return `${st.dev}:${st.ino}` === want;
  } catch {
    return false;
  }
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.message;
  try {
    return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  } catch {
    return inspect(v, { depth: 4, breakLength: Infinity });
  }
}

/**
 * One JSON object per line: {"time","level","context","message","pid"} (+ "stack" for errors
 * that carry one). Everything goes to one stream (stdout) so the order of lines is the order of
 * events. Follows Nest's calling convention: the last extra string parameter is the context; for
 * error(), a string before it is the stack.
 */
export class JsonLogger implements LoggerService {
  private levels: Set<LogLevel>;
  private readonly write: (line: string) => void;
  private readonly now: () => Date;

  constructor(private readonly opts: JsonLoggerOptions = {}) {
    this.levels = new Set(opts.levels ?? DEFAULT_LOG_LEVELS);
    this.write = opts.write ?? ((line) => void process.stdout.write(line));
    this.now = opts.now ?? (() => new Date());
  }

  setLogLevels(levels: LogLevel[]): void {
    this.levels = new Set(levels);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.emit('log', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.emit('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.emit('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.emit('verbose', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.emit('error', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.emit('fatal', message, params);
  }

  private emit(asked: LogLevel, message: unknown, params: unknown[]): void {
    const rest = [...params];
    let context: string | undefined;
    if (rest.length && typeof rest[rest.length - 1] === 'string') context = rest.pop() as string;
    const level: LogLevel = asked === 'log' && context && NEST_BOOT_CONTEXTS.has(context) ? 'debug' : asked;
    if (!this.levels.has(level)) return;
    let stack: string | undefined;
    if ((level === 'error' || level === 'fatal') && rest.length && (typeof rest[rest.length - 1] === 'string' || rest[rest.length - 1] === undefined))
      stack = rest.pop() as string | undefined;
    if (message instanceof Error && !stack) stack = message.stack;
    const record: JsonLogRecord = {
      time: this.now().toISOString(),
      level: LEVEL_NAME[level],
      ...(context ? { context } : {}),
      message: text(message),
      pid: process.pid,
    };
    if (stack) record.stack = stack;
    if (rest.length) record.details = rest.map(text);
    const line = JSON.stringify(record);
    this.write(`${this.opts.syslogPrefix ? `<${SYSLOG_PRIORITY[level]}>` : ''}${line}\n`);
  }
}

/** The logger `serve` installs: JSON or Nest's text logger (colours only on a terminal). */
export function createLogger(format: LogFormat, opts: { levels?: LogLevel[]; env?: Record<string, string | undefined> } = {}): LoggerService {
  const levels = opts.levels ?? DEFAULT_LOG_LEVELS;
  if (format === 'json') return new JsonLogger({ levels, syslogPrefix: journalPrefixWanted(opts.env ?? process.env) });
  return new ConsoleLogger({ logLevels: levels, prefix: 'srv6-agent' });
}
