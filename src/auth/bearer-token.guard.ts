// Bearer token for every client that is not on loopback (and for loopback too when configured).
// The token lives in a file (config auth.tokenFile), read at start and again when it changes.
import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
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
export class BearerTokenGuard implements CanActivate {
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

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<RequestLike>();
    const path = (req.path ?? req.url ?? '').split('?')[0];
    if (OPEN_PATHS.has(path)) return true;
    if (isLoopback(req.socket?.remoteAddress) && this.config.auth.loopback === 'open') return true;
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
    return true;
  }
}
