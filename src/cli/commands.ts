// The commands that talk to a running agent over its REST API: submit, jobs, state,
// capabilities --url. Each returns its exit status; output goes through a CliIo so tests can
// capture it.
import { readFileSync } from 'node:fs';

import type { JobView } from '../jobs/job-queue';
import { AgentClient, AgentClientOptions, AgentHttpError, CliError } from './agent-client';
import { CliCommand, EXIT } from './cli-args';
import { formatProblems, JobFile, JobFileError, locate, parseJobFile, validateJobFile } from './job-file';
import {
  describeFailure,
  formatJob,
  formatJobsTable,
  formatState,
  formatTenant,
  StateSummaryLike,
  summarizeResult,
  TenantViewLike,
  TERMINAL_STATES,
} from './output';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  readStdin(): Promise<string>;
  /** A person watches stderr: print progress there. */
  errIsTTY: boolean;
}

export function processIo(): CliIo {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    readStdin: async () => {
      if (process.stdin.isTTY) process.stderr.write('srv6-agent: reading jobs from the terminal; end with Ctrl-D\n');
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    errIsTTY: process.stderr.isTTY === true,
  };
}

/** What the agent answers to POST /v1/jobs. */
interface SubmitAnswer {
  job: JobView;
  duplicate: boolean;
}

/**
 * The longest ?wait= asked of the agent in one request: below both the agent's own cap (300 s in
 * JobsController) and Node's fetch, which gives up on a response without headers after 300 s.
 * Longer --wait values poll GET /v1/jobs/:id after it.
 */
export const SERVER_MAX_WAIT_MS = 240_000;
const POLL_MS = 250;

export interface CommandDeps {
  client?: AgentClientOptions;
  /** Poll interval while waiting past the agent's own wait cap (tests shorten it). */
  pollMs?: number;
}

function readJobText(file: string, io: CliIo): Promise<string> | string {
  if (file === '-') return io.readStdin();
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? (e as Error).message);
    throw new CliError(`cannot read the job file ${file}: ${why}`, EXIT.USAGE);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function submit(cmd: Extract<CliCommand, { command: 'submit' }>, io: CliIo, deps: CommandDeps = {}): Promise<number> {
  const source = cmd.file === '-' ? '<stdin>' : cmd.file;
  const text = await readJobText(cmd.file, io);
  let file: JobFile;
  try {
    file = parseJobFile(text, source);
  } catch (e) {
    if (e instanceof JobFileError) throw new CliError(e.message, EXIT.USAGE);
    throw e;
  }

  // 1. Validate every job here, with the agent's own DTOs: nothing is sent unless all are valid.
  const { problems } = validateJobFile(file);
  if (problems.length) {
    const bad = new Set(problems.map((p) => p.job)).size;
    io.err(`srv6-agent: ${source}: ${file.jobs.length > 1 ? `${bad} of ${file.jobs.length} jobs are invalid` : 'the job is invalid'}; nothing was submitted\n`);
    for (const line of [...formatProblems(file, problems), ...file.hints()]) io.err(`${line}\n`);
    return EXIT.USAGE;
  }

  // 2. Submit in order; each job waited for before the next is sent.
  const client = AgentClient.open(cmd.remote, deps.client);
  const waitMs = Math.round(cmd.waitSeconds * 1000);
  const views: (JobView & { duplicate?: boolean })[] = [];
  let code: number = EXIT.OK;
  let stoppedAt: number | undefined;
  try {
    for (let i = 0; i < file.jobs.length; i++) {
      const label = file.jobs.length > 1 ? `job ${i + 1} of ${source}` : source;
      const serverWait = Math.min(waitMs, SERVER_MAX_WAIT_MS);
      const deadline = Date.now() + waitMs;
      let answer: SubmitAnswer;
      try {
        answer = await client.post<SubmitAnswer>(`/v1/jobs${serverWait ? `?wait=${serverWait}` : ''}`, file.jobs[i], serverWait + 30_000);
      } catch (e) {
        if (e instanceof AgentHttpError && e.status === 400 && Array.isArray(e.body.errors)) {
          // The agent's validation disagrees with ours: a CLI and an agent of different versions.
          const type = (file.jobs[i] as { type?: string }).type;
          io.err(`srv6-agent: the agent rejected ${label} (is this CLI the agent's version?); it and the jobs after it were not submitted\n`);
          for (const line of formatProblems(
            file,
            (e.body.errors as { field: string; messages: string[] }[]).map((fe) => locate(file, i, type, fe)),
          ))
            io.err(`${line}\n`);
          stoppedAt = i;
          code = EXIT.USAGE;
          break;
        }
        stoppedAt = i;
        throw e;
      }
      let view = answer.job;
      while (waitMs && !TERMINAL_STATES.includes(view.state) && Date.now() < deadline) {
        await sleep(Math.min(deps.pollMs ?? POLL_MS, Math.max(deadline - Date.now(), 1)));
        view = await client.get<JobView>(`/v1/jobs/${encodeURIComponent(view.id)}`);
      }
      views.push(answer.duplicate ? { ...view, duplicate: true } : view);
      if (answer.duplicate)
        io.err(`srv6-agent: ${label}: its idempotency key was submitted before: this is job ${view.id}'s result, nothing was applied again\n`);
      if (!waitMs) {
        if (io.errIsTTY) io.err(`${label}: enqueued as job ${view.id} (srv6-agent jobs ${view.id} shows how it ends)\n`);
        continue;
      }
      if (view.state === 'failed') {
        io.err(`srv6-agent: job ${view.id} (${view.type}) from ${label} failed:\n`);
        for (const line of describeFailure(view.failure)) io.err(`  ${line}\n`);
        code = EXIT.RUNTIME;
        stoppedAt = i + 1;
        break;
      }
      if (view.state !== 'completed') {
        const why = view.state === 'waiting' ? ' (queued behind other jobs, or no agent is taking jobs from this queue)' : '';
        io.err(
          `srv6-agent: job ${view.id} (${view.type}) from ${label} did not finish within ${cmd.waitSeconds} s; it is ${view.state}${why} and may still run: follow it with \`srv6-agent jobs ${view.id}\`\n`,
        );
        code = EXIT.TIMEOUT;
        stoppedAt = i + 1;
        break;
      }
      if (io.errIsTTY) io.err(`${label}: job ${view.id} (${view.type}) completed: ${summarizeResult(view.result)}\n`);
    }
  } finally {
    if (views.length) io.out(`${JSON.stringify(file.list ? views : views[0], null, 2)}\n`);
    if (stoppedAt !== undefined && stoppedAt < file.jobs.length) {
      const n = file.jobs.length - stoppedAt;
      if (file.jobs.length > 1 && stoppedAt > 0)
        io.err(`srv6-agent: ${n} job${n === 1 ? '' : 's'} of ${source} (from job ${stoppedAt + 1} on) ${n === 1 ? 'was' : 'were'} not submitted\n`);
    }
  }
  return code;
}

export async function jobs(cmd: Extract<CliCommand, { command: 'jobs' }>, io: CliIo, deps: CommandDeps = {}): Promise<number> {
  const client = AgentClient.open(cmd.remote, deps.client);
  if (cmd.id !== undefined) {
    let view: JobView;
    try {
      view = await client.get<JobView>(`/v1/jobs/${encodeURIComponent(cmd.id)}`);
    } catch (e) {
      if (e instanceof AgentHttpError && e.status === 404)
        throw new CliError(
          `no job ${cmd.id} at ${cmd.remote.url} (finished jobs are kept for audit up to a bound; \`srv6-agent jobs\` lists the recent ones)`,
          EXIT.RUNTIME,
        );
      throw e;
    }
    io.out(cmd.json ? `${JSON.stringify(view, null, 2)}\n` : formatJob(view));
    return EXIT.OK;
  }
  const list = await client.get<JobView[]>(`/v1/jobs?limit=${cmd.limit}`);
  io.out(cmd.json ? `${JSON.stringify(list, null, 2)}\n` : formatJobsTable(list));
  return EXIT.OK;
}

export async function state(cmd: Extract<CliCommand, { command: 'state' }>, io: CliIo, deps: CommandDeps = {}): Promise<number> {
  const client = AgentClient.open(cmd.remote, deps.client);
  if (cmd.tenant !== undefined) {
    let t: TenantViewLike;
    try {
      t = await client.get<TenantViewLike>(`/v1/tenants/${encodeURIComponent(cmd.tenant)}`);
    } catch (e) {
      if (e instanceof AgentHttpError && e.status === 404)
        throw new CliError(`no tenant ${cmd.tenant} on the agent at ${cmd.remote.url} (\`srv6-agent state\` lists its tenants)`, EXIT.RUNTIME);
      throw e;
    }
    io.out(cmd.json ? `${JSON.stringify(t, null, 2)}\n` : formatTenant(t));
    return EXIT.OK;
  }
  const s = await client.get<StateSummaryLike>('/v1/state');
  io.out(cmd.json ? `${JSON.stringify(s, null, 2)}\n` : formatState(s));
  return EXIT.OK;
}

export async function remoteCapabilities(
  remote: NonNullable<Extract<CliCommand, { command: 'capabilities' }>['remote']>,
  io: CliIo,
  deps: CommandDeps = {},
): Promise<number> {
  const caps = await AgentClient.open(remote, deps.client).get<{ srv6?: string }>('/v1/capabilities');
  if (caps?.srv6) io.err(`as an SRv6 node: ${caps.srv6}\n`);
  io.out(`${JSON.stringify(caps, null, 2)}\n`);
  return EXIT.OK;
}
