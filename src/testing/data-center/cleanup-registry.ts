// What a data center would leave behind if nobody cleaned up: processes (by pid), temporary
// directories, the agents' pinned XDP objects (bpffs directories) and the network namespaces its
// agents made (capability probes). Everything is
// registered before it is created; sweepAll() runs on teardown, on process exit and on
// SIGINT/SIGTERM, and is idempotent. Namespaces made with TestNetns have their own registry
// (src/testing/netns.ts), swept here too.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destroyAllNetns } from '../netns';
import { onProcessExit } from '../process-exit';
import { DEFAULT_PIN_ROOT } from '../../xdp/xdp-offload';

const pids = new Set<number>();
const dirs = new Set<string>();
/** Agents' pids: their capability probe makes `srv6-probe-<pid>-*` namespaces. */
const agentPids = new Set<number>();

export const AGENT_PROBE_NETNS_PREFIX = 'srv6-probe-';

export function trackPid(pid: number, opts: { agent?: boolean } = {}): void {
  pids.add(pid);
  if (opts.agent) agentPids.add(pid);
}

/** The process is gone (its exit was observed): nothing to kill any more. */
export function untrackPid(pid: number): void {
  pids.delete(pid);
}

export function trackDir(dir: string): void {
  dirs.add(dir);
}

/** Leaves a tracked directory in place (logs kept on request). */
export function keepDir(dir: string): void {
  dirs.delete(dir);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Deletes the probe namespaces an agent (by pid) may have left when it was killed mid-probe. */
export function removeAgentLeftovers(pid: number): void {
  for (const n of listDir('/var/run/netns').filter((x) => x.startsWith(`${AGENT_PROBE_NETNS_PREFIX}${pid}-`))) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      /* gone meanwhile */
    }
  }
  agentPids.delete(pid);
}

/** Kills every tracked process, removes every tracked directory and namespace. Synchronous. */
export function sweepAll(): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  pids.clear();
  for (const pid of [...agentPids]) removeAgentLeftovers(pid);
  destroyAllNetns();
  for (const d of [...dirs]) removeDir(d);
}

/**
 * Leftovers of earlier runs that died without cleaning up (SIGKILL): namespaces and directories
 * named `srv6t-<tag>-...-<pid>-<random>` (the tags given: never anyone else's) whose process is
 * gone. scripts/test.sh sweeps such namespaces too; this also covers a jest run started by hand.
 */
export function sweepStale(tags: string[]): void {
  const re = new RegExp(`^srv6t-(?:${tags.join('|')})-(?:.*-)?(\\d+)-[0-9a-f]+$`);
  const dead = (name: string) => {
    const m = re.exec(name);
    if (!m || Number(m[1]) === process.pid) return false;
    try {
      process.kill(Number(m[1]), 0);
      return false;
    } catch {
      return true;
    }
  };
  for (const ns of listDir('/var/run/netns').filter(dead)) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* gone meanwhile */
    }
  }
  for (const root of [tmpdir(), DEFAULT_PIN_ROOT]) for (const d of listDir(root).filter(dead)) rmSync(join(root, d), { recursive: true, force: true });
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// On exit or SIGINT/SIGTERM of the real process (jest's copy of `process` never fires them): the
// sweep of every test file that loaded this module (each file has its own registries).
onProcessExit(sweepAll);
