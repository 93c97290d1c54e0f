import type { ServerResponse } from 'node:http';
import { readBearer } from '../access/keys/keyText.js';
import type { KeyRing } from '../access/keys/keyRing.js';
import { OPEN_PRINCIPAL, type Principal } from '../access/principal.js';

/** Why a request was refused a principal: the text of its 401. It never tells whether a key exists. */
export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; message: string };

const NO_KEY = 'This service needs an API key: send the header "Authorization: Bearer KEY"';
const INVALID_KEY = 'The API key is not valid: it is unknown, expired or revoked';

const OPEN: AuthOutcome = { ok: true, principal: OPEN_PRINCIPAL };

const outcomeOf = (principal: Principal | null): AuthOutcome => (principal ? { ok: true, principal } : { ok: false, message: INVALID_KEY });

/**
 * Who the `Authorization` header (or graphql-ws' `authorization` parameter) acts as: at once for
 * a key the key ring holds, else once it has asked the database.
 */
export function authenticate(keys: KeyRing, header: unknown): AuthOutcome | Promise<AuthOutcome> {
  if (keys.mode === 'OPEN') return OPEN;
  if (header != null && typeof header !== 'string') return { ok: false, message: 'The authorization value must be a string "Bearer KEY"' };
  const reading = readBearer(header);
  if (reading.kind === 'missing') return { ok: false, message: NO_KEY };
  if (reading.kind === 'malformed') return { ok: false, message: `The API key is malformed: ${reading.reason}` };
  const principal = keys.authenticate(reading.key);
  return principal instanceof Promise ? principal.then(outcomeOf) : outcomeOf(principal);
}

const UNAUTHENTICATED_HEADERS = { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' };

/** The 401 of a plain route (POST /events, /metrics). */
export function sendUnauthenticated(res: ServerResponse, message: string) {
  const text = JSON.stringify({ error: message });
  res.writeHead(401, { ...UNAUTHENTICATED_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The 401 of GraphQL over HTTP: the GraphQL error UNAUTHENTICATED. */
export function sendGraphQLUnauthenticated(res: ServerResponse, message: string) {
  const text = JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] });
  res.writeHead(401, { ...UNAUTHENTICATED_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
