/**
 * What a spec or a script may not ask of the outbound client, checked at save (spec headers of
 * webhooks, HTTP definitions and METRIC polls) and again by the client on every call (ctx.http,
 * and specs saved before these rules).
 */

/** CONNECT opens a tunnel past the guard's view; TRACE and TRACK echo the request (headers included) back. */
const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * Headers the client owns, by lower-case name: Host is the URL's (another would reach a virtual
 * host the URL does not name); the body's framing and the connection are the pooled client's, so
 * Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade and Expect set by hand would
 * at best break the call.
 */
const REFUSED_HEADERS: ReadonlyMap<string, string> = new Map([
  ['host', "the Host header is always the URL's host"],
  ['content-length', 'the client sets Content-Length from the body'],
  ['transfer-encoding', 'the client frames the body itself'],
  ['connection', 'the client manages its connections'],
  ['keep-alive', 'the client manages its connections'],
  ['upgrade', 'protocol upgrades are not supported'],
  ['expect', 'Expect is not supported'],
]);

/** Why this method may not be sent, or null when it may (any case). */
export function refusedMethodReason(method: string): string | null {
  const upper = method.toUpperCase();
  return REFUSED_METHODS.has(upper) ? `the method ${upper} is not allowed for outbound HTTP` : null;
}

/** Why this header may not be set, or null when it may (names are case-insensitive). */
export function refusedHeaderReason(name: string): string | null {
  const reason = REFUSED_HEADERS.get(name.trim().toLowerCase());
  return reason ? `the header "${name}" may not be set: ${reason}` : null;
}

/** The first refused header of a set, as its reason, or null. */
export function refusedHeadersReason(headers: Record<string, unknown> | undefined): string | null {
  for (const name of Object.keys(headers ?? {})) {
    const reason = refusedHeaderReason(name);
    if (reason) return reason;
  }
  return null;
}
