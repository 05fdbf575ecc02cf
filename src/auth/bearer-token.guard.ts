// Bearer token for every client that is not on loopback (and for loopback too when configured).
// The token lives in a file (config auth.tokenFile), read at start and again when it changes.
// Applied as the first middleware of the HTTP server (main.ts), so that nothing is served and no
// body is parsed (up to 16 MiB for jobs) before the client is known: /docs and /docs-json too.
import { HttpException, Injectable, UnauthorizedException } from '@nestjs/common';
import { readFileSync, statSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { AgentConfig } from '../config/agent.config';

/** Liveness and readiness stay open: supervisors probe them without credentials. */
const OPEN_PATHS = new Set(['/v1/health', '/v1/health/ready']);

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

interface RequestLike {
  path?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
}

@Injectable()
export class BearerTokenGuard {
  private token?: Buffer;
  private mtimeMs = -1;

  constructor(private readonly config: AgentConfig) {}

  private currentToken(): Buffer | undefined {
    const file = this.config.auth.tokenFile;
    if (!file) return undefined;
    const st = statSync(file); // a configured but missing file is an error: fail closed
    if (st.mtimeMs !== this.mtimeMs) {
      const t = readFileSync(file, 'utf8').trim();
      this.token = t ? Buffer.from(t) : undefined;
      this.mtimeMs = st.mtimeMs;
    }
    return this.token;
  }

  /** Throws UnauthorizedException (401) unless the request may go on. */
  check(req: RequestLike): void {
    const path = (req.path ?? req.url ?? '').split('?')[0];
    if (OPEN_PATHS.has(path)) return;
    // Open to local processes, but not to a web page on this host whose name was rebound to
    // 127.0.0.1 (DNS rebinding): its browser sends that page's host name, a local client ours.
    const host = headerOf(req, 'host');
    if (isLoopback(req.socket?.remoteAddress) && this.config.auth.loopback === 'open' && (host === undefined || isLoopbackHost(host))) return;
    let token: Buffer | undefined;
    try {
      token = this.currentToken();
    } catch {
      token = undefined;
    }
    if (!token) throw new UnauthorizedException('a bearer token is required from this address, and none is configured (auth.tokenFile)');
    const h = req.headers['authorization'];
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
    const given = m ? Buffer.from(m[1]) : undefined;
    if (!given || given.length !== token.length || !timingSafeEqual(given, token)) throw new UnauthorizedException('missing or wrong bearer token');
  }

  /** The check as an Express middleware: a refused request is answered here, as Nest would. */
  middleware(): (req: RequestLike, res: { status(n: number): { json(b: unknown): void } }, next: () => void) => void {
    return (req, res, next) => {
      try {
        this.check(req);
      } catch (e) {
        if (!(e instanceof HttpException)) throw e;
        res.status(e.getStatus()).json(e.getResponse());
        return;
      }
      next();
    };
  }
}

function headerOf(req: RequestLike, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** "localhost", "127.0.0.1", "[::1]", each with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name.toLowerCase() === 'localhost' || isLoopback(name);
}
