// The generated bash completion, run by bash itself: each case sets COMP_WORDS as bash would for
// the command line typed so far and calls the completion function.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { LOG_LEVELS } from '../config/agent.config';
import { BACKENDS } from '../trace/backend';
import { IPFT_OPTIONS } from '../trace/ipft-args';
import { COMMAND_OPTIONS, COMMANDS } from './cli-args';
import { ipftCompletion, srv6AgentCompletion } from './completion';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'srv6t-completion-'));
  writeFileSync(join(dir, 'srv6-agent'), srv6AgentCompletion());
  writeFileSync(join(dir, 'ipft'), ipftCompletion());
  mkdirSync(join(dir, 'jobs.d'));
  writeFileSync(join(dir, 'tenant-alpha.yaml'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash offers for `words` (the last one being completed), the program's script loaded. */
function offered(program: 'srv6-agent' | 'ipft', ...words: string[]): string[] {
  const fn = program === 'ipft' ? '_ipft' : '_srv6_agent';
  const script = `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script, join(dir, program), program, ...words], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('srv6-agent completion', () => {
  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', join(dir, 'srv6-agent')]).status).toBe(0);
  });

  it('offers the commands first, and the top-level options', () => {
    expect(offered('srv6-agent', '')).toEqual([...COMMANDS, '-h', '--help', '-V', '--version', '-j', '--json'].sort());
    expect(offered('srv6-agent', 'st')).toEqual(['state']);
  });

  it.each(Object.keys(COMMAND_OPTIONS))('%s: every option the parser takes, and nothing else', (cmd) => {
    const want = Object.entries(COMMAND_OPTIONS[cmd as keyof typeof COMMAND_OPTIONS]).flatMap(([n, o]) => [`--${n}`, ...('short' in o ? [`-${o.short}`] : [])]);
    expect(offered('srv6-agent', cmd, '-')).toEqual([...want, '-h', '--help'].sort());
  });

  it('option values: fixed lists, files, directories; free values get nothing', () => {
    expect(offered('srv6-agent', 'serve', '--log-level', '')).toEqual([...LOG_LEVELS].sort());
    expect(offered('srv6-agent', 'serve', '--log-format', 't')).toEqual(['text']);
    expect(offered('srv6-agent', 'serve', '--log-level', '=', 'd')).toEqual(['debug']); // --log-level=d
    expect(offered('srv6-agent', 'serve', '--state-dir', 'j')).toEqual(['jobs.d']);
    expect(offered('srv6-agent', 'serve', '--config', 't')).toEqual(['tenant-alpha.yaml']);
    expect(offered('srv6-agent', 'jobs', '--url', '')).toEqual([]);
  });

  it('arguments: submit takes a file, help a command, the others nothing to offer', () => {
    expect(offered('srv6-agent', 'submit', 'ten')).toEqual(['tenant-alpha.yaml']);
    expect(offered('srv6-agent', 'help', 'ca')).toEqual(['capabilities']);
    expect(offered('srv6-agent', 'state', '')).toEqual([]);
  });

  it('--version takes only --json', () => {
    expect(offered('srv6-agent', '--version', '-')).toEqual(['-V', '--version', '-j', '--json'].sort());
  });
});

describe('ipft completion', () => {
  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', join(dir, 'ipft')]).status).toBe(0);
  });

  it('offers every option the parser takes', () => {
    const want = Object.entries(IPFT_OPTIONS).flatMap(([n, o]) => [`--${n}`, ...('short' in o ? [`-${o.short}`] : [])]);
    expect(offered('ipft', '-')).toEqual(want.sort());
    expect(offered('ipft', '--back')).toEqual(['--backend']);
  });

  it('option values: backends, tracers, output formats; a mark is free text', () => {
    expect(offered('ipft', '-b', '')).toEqual([...BACKENDS, 'auto', 'ftrace'].sort());
    expect(offered('ipft', '-m', '0x1', '-t', 'function_')).toEqual(['function_graph']);
    expect(offered('ipft', '--output', '')).toEqual(['aggregate', 'json']);
    expect(offered('ipft', '-m', '')).toEqual([]);
  });
});
