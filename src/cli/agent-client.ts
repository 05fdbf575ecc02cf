// The CLI's HTTP client for a running agent's REST API (Node's fetch, no dependency). Every way
// a request can go wrong becomes a CliError whose message says what to do and whose exit code is
// the documented one.
import { readFileSync } from 'node:fs';

import { EXIT, RemoteOptions } from './cli-args';

/** An error the CLI reports as it is (no stack) and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** Extra lines printed after the message (field errors, kernel failures). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The agent answered with an HTTP error; callers handle the statuses they expect (404, 400). */
export class AgentHttpError extends CliError {
  constructor(
    message: string,
    exitCode: number,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message, exitCode);
    this.name = 'AgentHttpError';
  }
}

/** Reads the bearer token; a CliError (exit 2) that says what is wrong with the file otherwise. */
export function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'it does not exist'
        : code === 'EACCES'
          ? 'permission denied (it is usually readable by root only: run as root, or use a copy you may read)'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (code ?? (e as Error).message);
    throw new CliError(`cannot read the token file ${file}: ${why} (from --token-file or SRV6_TOKEN_FILE)`, EXIT.USAGE);
  }
  const token = text.trim();
  if (!token) throw new CliError(`the token file ${file} is empty (it must hold the agent's bearer token: the content of its auth.tokenFile)`, EXIT.USAGE);
  if (/\s/.test(token)) throw new CliError(`the token file ${file} holds more than one word; it must hold only the token`, EXIT.USAGE);
  return token;
}

/** The low-level reason of a fetch failure ("ECONNREFUSED", "ENOTFOUND", ...). */
function causeCode(e: unknown): string | undefined {
  let c = (e as { cause?: unknown })?.cause ?? e;
  for (let i = 0; i < 3 && c; i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (c as { errors?: unknown[] }).errors; // AggregateError: one per address tried
    if (Array.isArray(errors) && errors.length) c = errors[0];
    else c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The message for a request that got no HTTP answer at all. Pure: unit-tested. */
export function unreachableMessage(url: string, e: unknown, timeoutMs: number): string {
  const name = (e as { name?: string })?.name;
  if (name === 'TimeoutError' || name === 'AbortError')
    return `the agent at ${url} did not answer within ${Math.round(timeoutMs / 1000)} s — is it overloaded or stuck? Look at its logs (journalctl -u srv6-agent)`;
  const code = causeCode(e);
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  switch (code) {
    case 'ECONNREFUSED':
      return `cannot reach the agent at ${url}: connection refused — is \`srv6-agent serve\` running (systemctl status srv6-agent), and is ${host} its server.listen address?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach the agent at ${url}: host name not found — check --url`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach the agent at ${url}: no route to ${host} — check --url and the network`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `cannot reach the agent at ${url}: connection timed out — a firewall, or the wrong address in --url?`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return `the connection to ${url} was closed without an answer — is --url the agent's HTTP API (not Redis or another service)?`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `cannot talk to ${url}: TLS failed — the agent serves plain http:// unless a proxy in front of it adds TLS`;
    default: {
      const cause = (e as { cause?: { message?: unknown } })?.cause?.message;
      if (cause === 'bad port')
        return `cannot talk to ${url}: Node's fetch refuses port ${new URL(url).port} (one of the ports browsers block, e.g. 1-25, 6000, 6665-6669): give the agent another server.listen port`;
      return `cannot reach the agent at ${url}: ${code ?? (typeof cause === 'string' ? cause : undefined) ?? (e as Error)?.message ?? String(e)}`;
    }
  }
}

export interface AgentClientOptions {
  fetch?: typeof fetch;
  /** Per-request timeout when a request does not say otherwise. */
  timeoutMs?: number;
}

export class AgentClient {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(
    readonly url: string,
    private readonly token?: string,
    private readonly tokenFile?: string,
    opts: AgentClientOptions = {},
  ) {
    this.fetch = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** A client for the command's remote options (reads the token file now). */
  static open(remote: RemoteOptions, opts: AgentClientOptions = {}): AgentClient {
    const token = remote.tokenFile ? readToken(remote.tokenFile) : undefined;
    return new AgentClient(remote.url, token, remote.tokenFile, opts);
  }

  get<T>(path: string, timeoutMs?: number): Promise<T> {
    return this.request<T>('GET', path, undefined, timeoutMs);
  }

  post<T>(path: string, body: unknown, timeoutMs?: number): Promise<T> {
    return this.request<T>('POST', path, body, timeoutMs);
  }

  private async request<T>(method: string, path: string, body: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await this.fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new CliError(unreachableMessage(this.url, e, timeoutMs), EXIT.UNAVAILABLE);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new CliError(unreachableMessage(this.url, e, timeoutMs), EXIT.UNAVAILABLE);
    }
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(
        `${method} ${this.url}${path} answered ${res.status} with something that is not JSON — is --url the agent's HTTP API?`,
        EXIT.UNAVAILABLE,
      );
    }
    if (res.ok) return data as T;
    throw this.httpError(method, path, res.status, (data && typeof data === 'object' ? data : {}) as Record<string, unknown>);
  }

  private httpError(method: string, path: string, status: number, body: Record<string, unknown>): AgentHttpError {
    const said = typeof body.message === 'string' ? body.message : Array.isArray(body.message) ? body.message.join('; ') : '';
    if (status === 401 || status === 403) {
      const how = this.token
        ? `the token in ${this.tokenFile} was not accepted: it must be the content of the agent's auth.tokenFile (re-read by the agent when the file changes)`
        : "this address needs a bearer token: pass --token-file FILE (or set SRV6_TOKEN_FILE) with the content of the agent's auth.tokenFile";
      return new AgentHttpError(`the agent at ${this.url} refused the request (${status}${said ? `: ${said}` : ''}); ${how}`, EXIT.UNAVAILABLE, status, body);
    }
    if (status === 404) return new AgentHttpError(`${said || `${path} not found`} (agent at ${this.url})`, EXIT.RUNTIME, status, body);
    if (status === 413)
      return new AgentHttpError(
        `the agent refused the request as too large (413${said ? `: ${said}` : ''}): its HTTP API limits the size of a request body; split the job (e.g. several routes jobs with shorter add lists) or submit it through Redis (src/client/hypervisor-client.ts)`,
        EXIT.USAGE,
        status,
        body,
      );
    if (status === 400) return new AgentHttpError(`the agent rejected the request: ${said || 'bad request'}`, EXIT.USAGE, status, body);
    const kind = typeof body.error === 'string' ? ` ${body.error}` : '';
    return new AgentHttpError(
      `${method} ${path} failed at the agent (${status}${kind}${said ? `: ${said}` : ''}) — see its logs (journalctl -u srv6-agent)`,
      EXIT.RUNTIME,
      status,
      body,
    );
  }
}
