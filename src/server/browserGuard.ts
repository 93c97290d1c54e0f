import type { IncomingHttpHeaders } from 'node:http';
import { type Config, isLoopbackHost } from '../config.js';

/** Paths a health checker reaches by any name (an address, a pod IP): not held to the Host rule. */
const HOST_EXEMPT_PATHS = new Set(['/health', '/ready']);

/** Host names a loopback-bound service always answers to, whatever the port. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Where a request comes from, as its Origin header tells it. */
export type OriginVerdict =
  /** No Origin header: not a browser's cross-origin call (curl, a server, a same-origin GET). */
  | { kind: 'none' }
  /** The page that sent it is served by this service (same host and port as the Host header). */
  | { kind: 'same' }
  /** Another origin that CORS_ORIGINS lists. */
  | { kind: 'listed'; origin: string }
  /** Another origin, `null`, or something that is no origin at all. */
  | { kind: 'foreign' };

export type BrowserSettings = Pick<Config, 'host' | 'corsOrigins' | 'allowedHosts'>;

/**
 * The Origin compared with the Host header by host and port (the scheme aside: a proxy that ends
 * TLS forwards https pages to a plain-HTTP service). The Host header is read with the Origin's
 * scheme, so a default port counts the same written or not.
 */
export function originVerdict(headers: IncomingHttpHeaders, corsOrigins: readonly string[]): OriginVerdict {
  const value = headers.origin;
  if (value === undefined) return { kind: 'none' };
  let origin: URL;
  try {
    origin = new URL(value);
  } catch {
    return { kind: 'foreign' };
  }
  if (origin.origin === 'null') return { kind: 'foreign' };
  if (headers.host !== undefined && sameHostAndPort(origin, headers.host)) return { kind: 'same' };
  return corsOrigins.includes(origin.origin) ? { kind: 'listed', origin: origin.origin } : { kind: 'foreign' };
}

function sameHostAndPort(origin: URL, host: string): boolean {
  try {
    return new URL(`${origin.protocol}//${host}`).host === origin.host;
  } catch {
    return false;
  }
}

/** Whether a loopback-bound service answers to this Host header (DNS rebinding). */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (host === undefined) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return LOOPBACK_NAMES.has(name) || allowedHosts.includes(name);
}

export interface BrowserRefusal {
  /** What the client is told, naming the setting that would let the request through. */
  message: string;
  /** What the log line says (no header values). */
  reason: 'origin' | 'host';
}

/**
 * The two checks every request and graphql-ws upgrade passes before anything else (SPEC.md,
 * "Access": in the browser, in both modes). Returns why a request is refused (403), or null.
 */
export function createBrowserGuard(settings: BrowserSettings) {
  const checkHost = isLoopbackHost(settings.host);
  // A client sends the same Host on every request: its verdict is kept rather than parsed again.
  const hostVerdicts = new Map<string | undefined, boolean>();
  const allowedHost = (host: string | undefined) => {
    let allowed = hostVerdicts.get(host);
    if (allowed === undefined) {
      allowed = hostAllowed(host, settings.allowedHosts);
      if (hostVerdicts.size >= 256) hostVerdicts.clear();
      hostVerdicts.set(host, allowed);
    }
    return allowed;
  };
  return {
    refusal(headers: IncomingHttpHeaders, path: string): BrowserRefusal | null {
      if (checkHost && !HOST_EXEMPT_PATHS.has(path) && !allowedHost(headers.host)) {
        return {
          reason: 'host',
          message: 'The Host header names a host this service does not answer to while it listens on a loopback address; list the name in ALLOWED_HOSTS',
        };
      }
      if (originVerdict(headers, settings.corsOrigins).kind === 'foreign') {
        return { reason: 'origin', message: 'Requests from this origin are not allowed; list it in CORS_ORIGINS' };
      }
      return null;
    },
  };
}

export type BrowserGuard = ReturnType<typeof createBrowserGuard>;
