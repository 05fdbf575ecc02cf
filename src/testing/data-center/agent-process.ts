// A real agent on a hypervisor: `srv6-agent serve --config FILE` (the built CLI) inside the HV's
// namespace, with its own config, queue (hypervisor name), state directory, bearer token and log.
// Its REST API listens on the management network and is called from the controller namespace,
// as an operator's tooling would (curl, with the token: the caller is not on loopback).
//
// Entered with `nsenter --net` (not `ip netns exec`) and told the namespace by name
// (kernel.netns): the XDP offload pins its links and maps in the host's bpffs under
// <pinRoot>/<netns name>, where they outlive an agent restart as under systemd. `ip netns exec`
// gives each run a fresh mount namespace and /sys, so a bpffs the agent mounts there, and every
// pin in it, would go with the process: the XDP program detached at every stop.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_ENV } from '../../config/agent.config';
import { packageRoot } from '../../native/addon';
import { scaled } from '../time-scale';
import { pinDirOf } from '../../xdp/xdp-offload';
import { removeAgentLeftovers, removeDir, trackDir } from './cleanup-registry';
import { Exit, NetnsProcess } from './netns-process';
import { run } from './vm';

export const AGENT_PORT = 9610;

export interface AgentOptions {
  /** Hypervisor name: the queue is `srv6-agent:<hypervisor>`. */
  hypervisor: string;
  /** The HV's namespace, where the agent runs and which it manages. */
  netns: string;
  /** The HV's address on the management network (the API listens there). */
  mgmtAddress: string;
  /** Where callers of the API run (the controller's namespace). */
  callerNetns: string;
  redisUrl: string;
  dir: string;
  lockMs?: number;
  resyncSeconds?: number;
}

export interface RestAnswer<T = any> {
  status: number;
  body: T;
}

export function agentProgram(): string {
  const js = join(packageRoot(), 'dist', 'src', 'cli', 'srv6-agent.js');
  if (!existsSync(js)) throw new Error(`${js} is missing: run "npm run build" first`);
  return js;
}

/**
 * Where the agents keep V8's code cache (code-cache.preload.ts): SRV6_E2E_CODE_CACHE (the lab
 * passes a directory kept between boots), else node_modules/.cache (a tool cache, gone with
 * node_modules; where that is read-only the agents start without a cache).
 */
export function codeCacheDir(): string {
  return process.env.SRV6_E2E_CODE_CACHE || join(packageRoot(), 'node_modules', '.cache', 'srv6-e2e-code');
}

/** The preload that gives the agents a code cache; built with the rest (dist/). */
function codeCachePreload(): string {
  const js = join(packageRoot(), 'dist', 'src', 'testing', 'data-center', 'code-cache.preload.js');
  if (!existsSync(js)) throw new Error(`${js} is missing: run "npm run build" first`);
  return js;
}

/** The test's environment minus the agent's settings (SRV6_*): the config file alone decides. */
function agentEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SRV6_E2E_CODE_CACHE: codeCacheDir() };
  for (const name of Object.values(CONFIG_ENV)) delete env[name];
  return env;
}

export class AgentProcess {
  private proc?: NetnsProcess;
  readonly token = randomBytes(16).toString('hex');
  readonly stateDir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** Where the agent's XDP offload pins links and maps (removed with the data center). */
  readonly pinDir: string;
  /** Every pid this agent ran as (restarts). */
  readonly pids: number[] = [];

  constructor(readonly o: AgentOptions) {
    this.stateDir = join(o.dir, 'state');
    this.configFile = join(o.dir, 'agent.json');
    this.logFile = join(o.dir, 'agent.log');
    this.pinDir = pinDirOf({ netns: o.netns });
    trackDir(this.pinDir); // before the agent may create it
    mkdirSync(this.stateDir, { recursive: true });
    const tokenFile = join(o.dir, 'token');
    writeFileSync(tokenFile, `${this.token}\n`, { mode: 0o600 });
    const config = {
      agent: { hypervisor: o.hypervisor },
      auth: { tokenFile, loopback: 'token' },
      // Scaled like every deadline: under the lab's emulation the agent's event loop can stall
      // for seconds (a large job), and a lock not renewed in time is lost ("Missing lock"). 20 s
      // in the lab was lost once by a 10,000-route job while the host was busy (2026-12-07).
      queue: { lockMs: o.lockMs ?? scaled(5000) },
      dataplane: { resyncSeconds: o.resyncSeconds ?? 0 },
      server: { listen: `${o.mgmtAddress}:${AGENT_PORT}` },
      kernel: { netns: o.netns },
      state: { dir: this.stateDir },
      redis: { url: o.redisUrl },
    };
    writeFileSync(this.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  get baseUrl(): string {
    return `http://${this.o.mgmtAddress}:${AGENT_PORT}`;
  }

  /** Starts the agent and waits until its API says ready (startup reconcile done, Redis reachable). */
  async start(): Promise<void> {
    if (this.proc?.running) throw new Error(`agent ${this.o.hypervisor} already runs (pid ${this.proc.pid})`);
    this.proc = NetnsProcess.start({
      netns: this.o.netns,
      cmd: process.execPath,
      args: ['-r', codeCachePreload(), agentProgram(), 'serve', '--config', this.configFile, '--log-format', 'json'],
      env: agentEnv(),
      logFile: this.logFile,
      agent: true,
      launcher: 'nsenter',
    });
    this.pids.push(this.proc.pid);
    const t0 = performance.now();
    const loaded = this.proc.waitForLine(/Starting Nest application/, scaled(60_000)).then(() => performance.now() - t0);
    loaded.catch(() => undefined); // the listening line's failure says more
    await this.proc.waitForLine(/"listening on http/, scaled(60_000));
    const listening = performance.now() - t0;
    await this.waitReady(scaled(30_000));
    this.starts.push({ loadedMs: await loaded, listeningMs: listening, readyMs: performance.now() - t0 });
  }

  /** The timing of each start: modules loaded (Nest starts), listening, ready. */
  readonly starts: { loadedMs: number; listeningMs: number; readyMs: number }[] = [];

  /** "hv1 12.3/14.0/15.2 s" for the last start: loaded/listening/ready. */
  startSummary(): string {
    const s = this.starts.at(-1);
    return s
      ? `${this.o.hypervisor.replace(/.*-/, '')} ${[s.loadedMs, s.listeningMs, s.readyMs].map((x) => (x / 1000).toFixed(1)).join('/')} s`
      : `${this.o.hypervisor}: not started`;
  }

  private async waitReady(deadlineMs: number): Promise<void> {
    const t0 = Date.now();
    let last: RestAnswer | undefined;
    for (;;) {
      last = await this.rest('GET', '/v1/health/ready').catch((e) => ({ status: 0, body: String(e) }));
      if (last.status === 200) return;
      if (!this.proc?.running) throw new Error(`agent ${this.o.hypervisor} exited at start; log:\n${this.proc?.tail()}`);
      if (Date.now() - t0 > deadlineMs) throw new Error(`agent ${this.o.hypervisor} not ready within ${deadlineMs} ms: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (the agent's clean shutdown: the dataplane stays) and wait. */
  stop(): Promise<Exit | undefined> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL: no shutdown path at all, as a crash or the OOM killer. */
  kill(): Promise<Exit | undefined> {
    return this.signal('SIGKILL');
  }

  private async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<Exit | undefined> {
    const p = this.proc;
    if (!p) return undefined;
    const e = await p.stop(signal);
    removeAgentLeftovers(p.pid);
    return e;
  }

  /** The pinned XDP objects go once the agent is stopped for good (the namespace is going too). */
  removePins(): void {
    removeDir(this.pinDir);
  }

  tail(lines = 40): string {
    return this.proc?.tail(lines) ?? '(never started)';
  }

  /** The agent's REST API, called from the controller namespace with the bearer token. */
  async rest<T = any>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<RestAnswer<T>> {
    const args = [
      'netns',
      'exec',
      this.o.callerNetns,
      'curl',
      '-sS',
      '--max-time',
      String(Math.ceil(scaled(30_000) / 1000)),
      '-X',
      method,
      '-H',
      `Authorization: Bearer ${this.token}`,
      '-w',
      '\n%{http_code}',
    ];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    args.push(`${this.baseUrl}${path}`);
    const r = await run('ip', args);
    if (!r.ok) throw new Error(`${method} ${this.baseUrl}${path}: ${r.stderr.trim()}`);
    const nl = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, nl);
    const status = Number(r.stdout.slice(nl + 1));
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON (e.g. /metrics) */
    }
    return { status, body: parsed as T };
  }
}
