import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
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

const principals = new WeakMap<Request, Principal>();

/** The principal useApiKeyAuth found for a GraphQL request over HTTP. */
export const principalOf = (request: Request | undefined): Principal | undefined => (request ? principals.get(request) : undefined);

/**
 * Authentication of GraphQL over HTTP (GET, POST and SSE) in KEYS mode (the server hands yoga
 * requests to the GraphQL path only), in the style of @envelop/generic-auth
 * but before the request is parsed, so that a request without a valid key is a 401 whatever its
 * body: the key is read from `Authorization: Bearer KEY` and resolved by the key ring (a hash
 * and a cache lookup). yoga's GraphiQL page is answered by an earlier plugin and needs no key.
 * A response still open (an SSE or multipart stream) is ended when its key is revoked or expires.
 */
export function useApiKeyAuth(keys: KeyRing): Plugin<Record<string, unknown>, { res?: ServerResponse; req?: IncomingMessage }> {
  return {
    // Synchronous for a key the ring holds: no promise on the path of every request.
    onRequest({ request, serverContext, endResponse, fetchAPI }) {
      const settle = (outcome: AuthOutcome) => {
        if (!outcome.ok) {
          const body = JSON.stringify({ errors: [{ message: outcome.message, extensions: { code: 'UNAUTHENTICATED' } }] });
          endResponse(new fetchAPI.Response(body, { status: 401, headers: { ...UNAUTHENTICATED_HEADERS, 'content-type': 'application/json; charset=utf-8' } }));
          return;
        }
        principals.set(request, outcome.principal);
        // A stream (SSE or multipart) of a key that is revoked or expires is ended; any other
        // request of the key is too, which costs a map entry while it lasts.
        const res = serverContext.res;
        if (res && outcome.principal.keyId !== null) {
          const untrack = keys.track(outcome.principal, () => res.destroy());
          res.once('close', untrack);
        }
      };
      const outcome = authenticate(keys, request.headers.get('authorization'));
      return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
    },
  };
}
