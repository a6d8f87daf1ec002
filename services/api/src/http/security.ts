import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import { DASHBOARD_HTML } from './dashboard-page';

/** The only value of AEVO_API_NO_TOKEN that lets the API listen beyond loopback without a token. */
export const OPEN_API_OPT_OUT = 'i-accept-an-open-api-beyond-loopback';
export const TOKEN_COOKIE = 'aevo_api_token';

export interface ApiSecurity {
  /** Host header names accepted (lower case, no port). */
  allowedHosts: ReadonlySet<string>;
  /** Bearer token every request must carry; null: none required. */
  token: string | null;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
};

const isWildcard = (host: string) => ['0.0.0.0', '::', '[::]', ''].includes(host);

/**
 * The API's security settings from its bind address and configuration (config.ts). Throws when it would listen
 * beyond loopback without a token and without the explicit opt-out: the read model holds every campaign's log.
 */
export function apiSecurity(cfg: {
  host: string;
  token: string | null;
  allowedHosts: readonly string[];
  noTokenOptOut: string | null;
}): ApiSecurity {
  const bindHost = cfg.host;
  const hosts = new Set(LOOPBACK_NAMES);
  if (!isWildcard(bindHost)) hosts.add(bindHost.toLowerCase().replace(/^\[|\]$/g, ''));
  for (const h of cfg.allowedHosts)
    if (h.trim())
      hosts.add(
        h
          .trim()
          .toLowerCase()
          .replace(/^\[|\]$/g, ''),
      );
  const token = cfg.token;
  if (!isLoopback(bindHost) && !token && cfg.noTokenOptOut !== OPEN_API_OPT_OUT)
    throw new Error(
      `the API would listen on ${bindHost || 'every address'} (beyond loopback) without a token: set AEVO_API_TOKEN, ` +
        `or AEVO_API_NO_TOKEN=${OPEN_API_OPT_OUT} to serve every campaign's log to anyone who can reach it`,
    );
  return { allowedHosts: hosts, token };
}

/** The Host header's name without port ("[::1]:3000" → "::1"); null when absent or malformed. */
export function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^\[([0-9a-fA-F:.]+)\](?::\d+)?$/.exec(header) ?? /^([^:[\]]+)(?::\d+)?$/.exec(header);
  return m ? m[1].toLowerCase() : null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const sameToken = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

function refuse(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ code, message, issues: [] }));
}

type Next = (err?: unknown) => void;

/**
 * Rejects requests whose Host is not allowed (a DNS-rebinding page names its own domain), then, with a token
 * configured, requests without it: `Authorization: Bearer <token>`, or the HttpOnly cookie a browser gets by opening
 * `/?token=<token>` once (page loads and EventSource cannot send headers).
 */
export function accessGuard(sec: ApiSecurity) {
  return (req: IncomingMessage, res: ServerResponse, next: Next) => {
    const host = hostName(req.headers.host);
    if (!host || !sec.allowedHosts.has(host))
      return refuse(
        res,
        421,
        'HOST_NOT_ALLOWED',
        `Host "${String(req.headers.host ?? '')}" is not served here (AEVO_API_ALLOWED_HOSTS adds names)`,
      );
    if (!sec.token) return next();
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    const fromQuery = url.pathname === '/' ? url.searchParams.get('token') : null;
    if (fromQuery !== null && sameToken(fromQuery, sec.token)) {
      res.writeHead(303, {
        location: '/',
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(sec.token)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return res.end();
    }
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? cookie(req, TOKEN_COOKIE);
    if (auth === null || !sameToken(auth, sec.token))
      return refuse(res, 401, 'UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer <AEVO_API_TOKEN>)', {
        'www-authenticate': 'Bearer realm="aevo"',
      });
    return next();
  };
}

/** sha256 of the dashboard's one inline script, so CSP can allow exactly it (no 'unsafe-inline' for scripts). */
const inlineScriptHash = (html: string): string => {
  const m = /<script>([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('dashboard page: no inline script found');
  return `'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`;
};

/** Security headers (helmet): CSP that admits the dashboard and nothing else, nosniff, no framing, no X-Powered-By. */
export const securityHeaders = () =>
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", inlineScriptHash(DASHBOARD_HTML)],
        // The page sets style attributes (heatmap colours, bar widths) from script.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // Plain HTTP on loopback by default: HSTS would be wrong here.
    strictTransportSecurity: false,
  });
