/**
 * Text PostgreSQL cannot store: U+0000 (refused by text and jsonb) and lone surrogates (JSON
 * text carries them as `\ud800`..`\udfff` escapes, which jsonb refuses). Text from outside is stored with
 * each of them replaced by U+FFFD.
 *
 * In unicode mode a surrogate pair is one code point above U+FFFF, so the class matches only
 * lone surrogates.
 */
export const UNSTORABLE = /[\0\ud800-\udfff]/u;
const UNSTORABLE_ALL = /[\0\ud800-\udfff]/gu;
/** How JSON.stringify writes them: `\u0000`, and a lone surrogate as `\ud800`..`\udfff`. */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/;

export const REPLACEMENT = '\uFFFD';

/** The text, with U+0000 and lone surrogates replaced by U+FFFD; the same string when it has none. */
export const storableText = (text: string): string => (UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, REPLACEMENT) : text);

/**
 * A JSON value with every string, object keys included, made storable. Nothing is copied unless
 * something needs replacing: a clean value comes back as the same object, so the cost on clean
 * input is one regex test per string.
 */
export function storableJson<T>(value: T): T {
  return storable(value) as T;
}

function storable(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return storableArray(value);
  return storableObject(value as Record<string, unknown>);
}

function storableArray(array: unknown[]): unknown[] {
  let copy: unknown[] | null = null;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    const clean = storable(item);
    if (clean !== item) {
      copy ??= array.slice();
      copy[i] = clean;
    }
  }
  return copy ?? array;
}

function storableObject(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  const keys = Object.keys(object);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = object[key];
    // Each value is made storable once: walking it again to build the copy would cost twice
    // per level, exponential in the depth.
    const clean = storable(item);
    if (!copy && (clean !== item || UNSTORABLE.test(key))) {
      copy = {};
      for (let j = 0; j < i; j++) setOwn(copy, keys[j]!, object[keys[j]!]);
    }
    if (copy) setOwn(copy, storableText(key), clean);
  }
  return copy ?? object;
}

/** Sets an own property, also one named `__proto__` (which plain assignment would take as the prototype). Two keys made equal keep the last value. */
function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

/**
 * A value as storable JSON text. The text is made as usual and only searched for the escapes of
 * unstorable text (a plain regex test over text that was made anyway); only then is the value
 * walked and made again.
 */
export function storableJsonText(value: unknown): string {
  const text = JSON.stringify(value);
  return text !== undefined && UNSTORABLE_ESCAPE.test(text) ? JSON.stringify(storableJson(value)) : text;
}
