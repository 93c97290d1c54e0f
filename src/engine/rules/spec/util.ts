import { refusedHeaderReason } from '../../outbound/requestRules.js';
import { SpecError } from './errors.js';
import { SIMPLE_KEY } from '../../../shared/jsonShape.js';

/** Internal helpers shared by the spec validators. */

export type JsonObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base.key`, or `base["odd key"]` when the key would not read well after a dot. */
export function keyPath(base: string, key: string): string {
  return SIMPLE_KEY.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

export function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

/** A short description of a given value for messages: `the string "abc"`, `an array`, `null`. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
      return value === '' ? 'an empty string' : `the string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return Number.isFinite(value) ? `the number ${value}` : `${value}`;
    case 'boolean':
      return `${value}`;
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

export function fail(path: string, detail: string): never {
  throw new SpecError(path, detail);
}

export function expected(path: string, what: string, given: unknown): never {
  throw new SpecError(path, `expected ${what}, got ${describe(given)}`);
}

export function expectObject(value: unknown, path: string, what = 'an object'): JsonObject {
  if (!isPlainObject(value)) expected(path, what, value);
  return value;
}

/** Refuses the first key of `obj` that is not in `allowed`, at its own path. */
export function checkKeys(obj: JsonObject, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      fail(keyPath(path, key), `unknown key "${key}"; allowed keys here: ${allowed.join(', ')}`);
    }
  }
}

/** The value of an optional key; a key given as null is the same as the key left out. */
export function optional(obj: JsonObject, key: string): unknown {
  const value = obj[key];
  return value === null ? undefined : value;
}

/** The value of a required key (null counts as missing). */
export function required(obj: JsonObject, key: string, path: string, what: string): unknown {
  const value = optional(obj, key);
  if (value === undefined) fail(keyPath(path, key), `required: expected ${what}`);
  return value;
}

export function has(obj: JsonObject, key: string): boolean {
  return obj[key] !== undefined && obj[key] !== null;
}

export function expectString(value: unknown, path: string, what = 'a string'): string {
  if (typeof value !== 'string') expected(path, what, value);
  return value;
}

export function expectNonEmptyString(value: unknown, path: string, what = 'a non-empty string'): string {
  if (typeof value !== 'string' || value.trim() === '') expected(path, what, value);
  return value;
}

export function expectFiniteNumber(value: unknown, path: string, what = 'a number'): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) expected(path, what, value);
  return value;
}

export function expectPositiveNumber(value: unknown, path: string): number {
  const what = 'a number greater than 0';
  const n = expectFiniteNumber(value, path, what);
  if (n <= 0) expected(path, what, value);
  return n;
}

export function expectInteger(value: unknown, path: string, min: number, max?: number): number {
  const what = max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    expected(path, what, value);
  }
  return value;
}

export function expectBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') expected(path, 'true or false', value);
  return value;
}

/** A string from a fixed set, matched case-insensitively and returned in its canonical spelling. */
export function expectEnum<T extends string>(value: unknown, path: string, values: readonly T[]): T {
  if (typeof value === 'string') {
    const found = values.find((v) => v.toLowerCase() === value.toLowerCase());
    if (found !== undefined) return found;
  }
  return expected(path, `one of ${values.join(', ')}`, value);
}

/** A list of non-empty strings (dotted paths, host names, ...). */
export function expectStringList(value: unknown, path: string, what = 'a list of non-empty strings'): string[] {
  if (!Array.isArray(value)) expected(path, what, value);
  return value.map((item, i) => expectNonEmptyString(item, indexPath(path, i), 'a non-empty string'));
}

/** A dotted path into an event (`host.metrics.cpu`, `items.0.id`). */
export function expectFieldPath(value: unknown, path: string): string {
  const what = 'a dotted path such as "cpu" or "host.metrics.cpu"';
  if (typeof value !== 'string' || value === '') expected(path, what, value);
  if (value.split('.').some((segment) => segment === '')) {
    fail(path, `expected ${what}, got "${value}" (a path segment is empty)`);
  }
  return value;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** HTTP headers: valid header names, none of those the outbound client owns (requestRules.ts), string values. */
export function expectHeaders(value: unknown, path: string): Record<string, string> {
  const obj = expectObject(value, path, 'an object of header names to string values');
  const entries = Object.entries(obj).map(([key, v]): [string, string] => {
    if (!HEADER_NAME.test(key)) fail(keyPath(path, key), `"${key}" is not a valid HTTP header name`);
    const refused = refusedHeaderReason(key);
    if (refused) fail(keyPath(path, key), refused);
    const s = expectString(v, keyPath(path, key));
    if (/[\r\n\0]/.test(s)) fail(keyPath(path, key), 'a header value may not contain line breaks or NUL');
    return [key, s];
  });
  return Object.fromEntries(entries);
}

/** An absolute http(s) URL without placeholders. */
export function expectHttpUrl(value: unknown, path: string): string {
  const what = 'an absolute http or https URL';
  const s = expectNonEmptyString(value, path, what);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return expected(path, what, value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(path, `expected ${what}, got a ${url.protocol.replace(/:$/, '')} URL`);
  }
  return s;
}

/** A URL that may hold `{{ }}` placeholders: checked as a URL when it has none, else by its start. */
export function expectTemplatedHttpUrl(value: unknown, path: string): string {
  const what = 'an absolute http or https URL';
  const s = expectNonEmptyString(value, path, what);
  if (!s.includes('{{')) return expectHttpUrl(s, path);
  const trimmed = s.trimStart();
  if (trimmed.startsWith('{{')) return s;
  if (!/^https?:\/\//i.test(trimmed)) {
    fail(path, `expected ${what} (placeholders allowed), got ${describe(s)}`);
  }
  // With each placeholder standing for a plain word, the rest must still read as a URL.
  try {
    new URL(s.replace(/\{\{[^}]*\}\}/g, 'x'));
  } catch {
    fail(path, `expected ${what} (placeholders allowed), got ${describe(s)}`);
  }
  return s;
}
