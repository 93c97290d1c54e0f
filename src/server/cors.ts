import type { IncomingMessage, ServerResponse } from 'node:http';
import { originVerdict } from './browserGuard.js';

/**
 * Headers a page on a listed origin may send: the key (Authorization), the JSON body's type, and
 * the headers of POST /events. No credentials: keys travel in the Authorization header, never in
 * cookies, so browsers are not told to send cookies or HTTP authentication along.
 */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Event-Source';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Headers a refusal answers with that a page may read (a missing key, a rate limit). */
const EXPOSED_HEADERS = 'WWW-Authenticate, Retry-After';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * CORS for the origins of CORS_ORIGINS. A request from a listed origin gets its
 * Access-Control-Allow-Origin; its preflight is answered here (204). Returns true when the
 * request has been answered. Foreign origins never reach this point (refused with 403).
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, corsOrigins: readonly string[]): boolean {
  if (corsOrigins.length === 0) return false;
  // Whether the answer carries Access-Control-Allow-Origin depends on Origin: caches must know.
  res.setHeader('vary', 'Origin');
  const verdict = originVerdict(req.headers, corsOrigins);
  if (verdict.kind !== 'listed') return false;
  res.setHeader('access-control-allow-origin', verdict.origin);
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(204, {
      'access-control-allow-methods': ALLOWED_METHODS,
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
      'content-length': 0,
    });
    res.end();
    return true;
  }
  res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
  return false;
}
