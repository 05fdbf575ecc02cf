import { ConsoleLogger, Logger } from '@nestjs/common';
import { fstatSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createLogger, DEFAULT_LOG_LEVELS, JsonLogger, journalPrefixWanted, logLevelsFor, resolveLogFormat } from './logging';

const NOW = new Date('2025-01-02T03:04:05.678Z');

function capture(opts: { syslogPrefix?: boolean; levels?: any[] } = {}) {
  const lines: string[] = [];
  const logger = new JsonLogger({ ...opts, write: (l) => void lines.push(l), now: () => NOW });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l.replace(/^<\d>/, ''))) };
}

describe('resolveLogFormat', () => {
  it.each([
    [undefined, true, 'text'],
    [undefined, false, 'json'],
    ['json', true, 'json'],
    ['text', false, 'text'],
  ] as const)('asked %s, stdout a terminal: %s → %s', (asked, tty, want) => expect(resolveLogFormat(asked, tty)).toBe(want));
});

describe('JsonLogger', () => {
  it('writes one JSON object per line: time, level, context, message, pid', () => {
    const { logger, lines, records } = capture();
    logger.log('listening on http://127.0.0.1:9610', 'srv6-agent');
    logger.warn('Redis at redis://127.0.0.1:6379 is not reachable', 'LocalRedis');
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(records()).toEqual([
      { time: '2025-01-02T03:04:05.678Z', level: 'info', context: 'srv6-agent', message: 'listening on http://127.0.0.1:9610', pid: process.pid },
      { time: '2025-01-02T03:04:05.678Z', level: 'warn', context: 'LocalRedis', message: 'Redis at redis://127.0.0.1:6379 is not reachable', pid: process.pid },
    ]);
  });

  it('errors carry their stack; multi-line messages stay on one line', () => {
    const { logger, lines, records } = capture();
    logger.error('start failed:\n  netns x does not exist', 'Error: boom\n    at f (a.ts:1:1)', 'NestApplication');
    logger.error(new Error('kaput'));
    expect(lines).toHaveLength(2);
    expect(records()[0]).toMatchObject({
      level: 'error',
      context: 'NestApplication',
      message: 'start failed:\n  netns x does not exist',
      stack: 'Error: boom\n    at f (a.ts:1:1)',
    });
    expect(records()[1]).toMatchObject({ level: 'error', message: 'kaput', stack: expect.stringContaining('Error: kaput') });
  });

  it('objects are logged as JSON text; extra parameters are kept as details', () => {
    const { logger, records } = capture();
    logger.log({ tenant: 'alpha', routes: 3 }, 'extra', 'Jobs');
    expect(records()[0]).toMatchObject({ message: '{"tenant":"alpha","routes":3}', context: 'Jobs', details: ['extra'] });
  });

  it('drops levels that are not enabled', () => {
    const { logger, lines } = capture({ levels: ['warn', 'error'] });
    logger.log('no');
    logger.debug('no');
    logger.warn('yes');
    expect(lines).toHaveLength(1);
  });

  it("Nest's per-module and per-route start-up lines are debug", () => {
    const { logger, records } = capture({ levels: ['log', 'debug'] });
    logger.log('JobsModule dependencies initialized', 'InstanceLoader');
    logger.log('Mapped {/v1/jobs, POST} route', 'RouterExplorer');
    logger.log('Nest application successfully started', 'NestApplication');
    expect(records().map((r) => r.level)).toEqual(['debug', 'debug', 'info']);
    const quiet = capture();
    quiet.logger.log('JobsModule dependencies initialized', 'InstanceLoader');
    expect(quiet.lines).toEqual([]);
  });

  it('with a syslog prefix journald can file each line under its priority', () => {
    const { logger, lines } = capture({ syslogPrefix: true });
    logger.error('e', undefined, 'X');
    logger.warn('w', 'X');
    logger.log('i', 'X');
    expect(lines.map((l) => l.slice(0, 4))).toEqual(['<3>{', '<4>{', '<6>{']);
  });

  it('every Nest Logger writes through it once installed (context from the Logger)', () => {
    const { logger, records } = capture();
    Logger.overrideLogger(logger);
    try {
      new Logger('Jobs').warn('job 7 failed');
      new Logger('Dataplane').error('reconcile failed');
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    expect(records()).toEqual([
      expect.objectContaining({ level: 'warn', context: 'Jobs', message: 'job 7 failed' }),
      expect.objectContaining({ level: 'error', context: 'Dataplane', message: 'reconcile failed' }),
    ]);
    expect(records()[1]).not.toHaveProperty('stack');
  });
});

describe('journalPrefixWanted', () => {
  it('only when JOURNAL_STREAM names the stream stdout really is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srv6t-log-'));
    const fd = openSync(join(dir, 'out'), 'w');
    try {
      const st = fstatSync(fd);
      expect(journalPrefixWanted({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(journalPrefixWanted({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(journalPrefixWanted({}, fd)).toBe(false);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('logLevelsFor', () => {
  it('a level enables itself and every more severe one; info is the default set', () => {
    expect(logLevelsFor('fatal')).toEqual(['fatal']);
    expect(logLevelsFor('warn')).toEqual(['fatal', 'error', 'warn']);
    expect(logLevelsFor('info').sort()).toEqual([...DEFAULT_LOG_LEVELS].sort());
    expect(logLevelsFor('verbose')).toEqual(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']);
  });

  it('set on a JsonLogger, debug lines appear and info ones go', () => {
    const lines: string[] = [];
    const logger = new JsonLogger({ write: (l) => void lines.push(l), now: () => NOW });
    logger.setLogLevels(logLevelsFor('debug'));
    logger.debug('d', 'Ctx');
    logger.setLogLevels(logLevelsFor('warn'));
    logger.log('i', 'Ctx');
    logger.warn('w', 'Ctx');
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['d', 'w']);
  });
});

describe('createLogger', () => {
  it("json: a JsonLogger; text: Nest's ConsoleLogger", () => {
    expect(createLogger('json', { env: {} })).toBeInstanceOf(JsonLogger);
    expect(createLogger('text', { env: {} })).toBeInstanceOf(ConsoleLogger);
  });
});
