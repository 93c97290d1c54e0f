/**
 * Literal credentials in specs and arguments (SPEC.md, 'Secrets'): values given as they are (not
 * as a template) under a credential name, and a URL's user information or credential query
 * parameters. They are stored as given but shown as `[redacted]`; an update that sends
 * `[redacted]` back in such a place keeps what was stored.
 */

export const REDACTED = '[redacted]';

const EXACT_NAMES = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const NAME_PARTS = ['token', 'secret', 'password', 'apikey', 'api_key', 'api-key'];

/** `authorization`, `proxy-authorization`, `cookie`, `set-cookie`, or a name holding token, secret, password or api key (any case). */
export function isCredentialName(name: string): boolean {
  const lower = name.toLowerCase();
  return EXACT_NAMES.has(lower) || NAME_PARTS.some((part) => lower.includes(part));
}

const PLACEHOLDER = /\{\{[^{}]*\}\}/;
const URL_START = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

const isTemplate = (s: string) => PLACEHOLDER.test(s);
const isUrl = (s: string) => URL_START.test(s);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

interface UrlParts {
  scheme: string;
  userinfo: string | null;
  host: string;
  path: string;
  /** `name=value` pairs of the query (without `?`), null when there is none. */
  query: string[] | null;
  fragment: string;
}

function splitUrl(s: string): UrlParts | null {
  const m = URL_START.exec(s);
  if (!m) return null;
  const authority = m[2]!;
  const at = authority.lastIndexOf('@');
  let rest = m[3]!;
  const hash = rest.indexOf('#');
  const fragment = hash === -1 ? '' : rest.slice(hash);
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  return {
    scheme: m[1]!,
    userinfo: at === -1 ? null : authority.slice(0, at),
    host: at === -1 ? authority : authority.slice(at + 1),
    path: q === -1 ? rest : rest.slice(0, q),
    query: q === -1 ? null : rest.slice(q + 1).split('&'),
    fragment,
  };
}

const joinUrl = (p: UrlParts) =>
  `${p.scheme}${p.userinfo === null ? '' : `${p.userinfo}@`}${p.host}${p.path}${p.query === null ? '' : `?${p.query.join('&')}`}${p.fragment}`;

/** The literal credentials of one URL string: its user information and its credential query values. */
function urlCredentials(s: string): { userinfo: string | null; query: { index: number; value: string }[] } {
  const parts = splitUrl(s);
  if (!parts) return { userinfo: null, query: [] };
  const userinfo = parts.userinfo !== null && parts.userinfo !== '' && !isTemplate(parts.userinfo) ? parts.userinfo : null;
  const query: { index: number; value: string }[] = [];
  parts.query?.forEach((pair, index) => {
    const eq = pair.indexOf('=');
    if (eq === -1) return;
    const value = pair.slice(eq + 1);
    if (value !== '' && value !== REDACTED && !isTemplate(value) && isCredentialName(decode(pair.slice(0, eq)))) query.push({ index, value });
  });
  return { userinfo, query };
}

function redactUrl(s: string): string {
  const parts = splitUrl(s);
  if (!parts) return s;
  const found = urlCredentials(s);
  if (found.userinfo === null && found.query.length === 0) return s;
  if (found.userinfo !== null) parts.userinfo = REDACTED;
  for (const { index } of found.query) parts.query![index] = `${parts.query![index]!.split('=')[0]}=${REDACTED}`;
  return joinUrl(parts);
}

const isLiteral = (v: unknown): v is string | number => (typeof v === 'string' && !isTemplate(v)) || typeof v === 'number';

/**
 * A copy of a spec (or of any arguments) with its literal credentials replaced by `[redacted]`:
 * every literal string or number under a credential name, at any depth, and in every URL string
 * the user information and the values of credential query parameters. Placeholders such as
 * `{{secrets.NAME}}` are not values and stay.
 */
export function redactCredentials<T>(value: T): T;
export function redactCredentials(value: unknown): unknown {
  return redactWalk(value, false);
}

function redactWalk(value: unknown, underCredential: boolean): unknown {
  if (underCredential && isLiteral(value)) return REDACTED;
  if (typeof value === 'string') return isUrl(value) ? redactUrl(value) : value;
  if (Array.isArray(value)) return value.map((item) => redactWalk(item, underCredential));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactWalk(item, underCredential || isCredentialName(key))]));
  }
  return value;
}

/** The literal credential values a spec holds, as they are sent (so that a run can hide them wherever they come back). */
export function literalCredentials(value: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown, underCredential: boolean) => {
    if (underCredential && isLiteral(v)) {
      found.push(String(v));
      return;
    }
    if (typeof v === 'string') {
      const { userinfo, query } = urlCredentials(v);
      if (userinfo !== null) {
        found.push(userinfo);
        for (const part of userinfo.split(':')) if (part) found.push(part, decode(part));
      }
      for (const { value: raw } of query) found.push(raw, decode(raw));
      return;
    }
    if (Array.isArray(v)) for (const item of v) walk(item, underCredential);
    else if (isPlainObject(v)) for (const [key, item] of Object.entries(v)) walk(item, underCredential || isCredentialName(key));
  };
  walk(value, false);
  return [...new Set(found)];
}

/**
 * An updated spec in which every `[redacted]` sent back where the stored spec has a literal
 * credential (at the same path) is that stored value again; everything else as sent.
 */
export function restoreCredentials<T>(next: T, stored: unknown): T;
export function restoreCredentials(next: unknown, stored: unknown): unknown {
  return restoreWalk(next, stored, false);
}

function restoreWalk(next: unknown, stored: unknown, underCredential: boolean): unknown {
  if (typeof next === 'string') {
    if (underCredential && next === REDACTED && isLiteral(stored)) return stored;
    if (typeof stored === 'string' && next !== stored && next.includes(REDACTED) && isUrl(stored) && redactUrl(stored) === next) return stored;
    return next;
  }
  if (Array.isArray(next)) return next.map((item, i) => restoreWalk(item, Array.isArray(stored) ? stored[i] : undefined, underCredential));
  if (isPlainObject(next)) {
    const old = isPlainObject(stored) ? stored : {};
    return Object.fromEntries(
      Object.entries(next).map(([key, item]) => [
        key,
        restoreWalk(item, Object.hasOwn(old, key) ? old[key] : undefined, underCredential || isCredentialName(key)),
      ]),
    );
  }
  return next;
}
