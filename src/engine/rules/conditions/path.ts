/**
 * Dotted-path reader over JSON values (shared by conditions, METRIC valuePath
 * and, later, templates).
 *
 * Semantics:
 * - `a.b.c` walks own properties of plain objects; a segment that is a
 *   canonical non-negative integer (`0`, `12`, not `01`/`-1`/`1.0`) indexes
 *   arrays. Any other segment on an array (e.g. `length`) finds nothing.
 * - Only own properties are read (never the prototype chain: `constructor`,
 *   `__proto__`, `toString` find nothing unless the payload has them as own keys).
 * - Primitives (strings included) have no children.
 * - A property whose value is `undefined` (or an array hole) counts as not found;
 *   `null` is found (with value null).
 * - The empty path `""` is the value itself (found unless it is undefined).
 *   Empty segments (`a..b`) are literal empty keys.
 */

/** Sentinel returned by the allocation-free reader when nothing is found. */
export const MISSING: unique symbol = Symbol('cepheus.path.missing');
export type Missing = typeof MISSING;

/** A path split once, at compile time. */
export interface CompiledPath {
  readonly path: string;
  /** Object keys, one per segment. */
  readonly keys: readonly string[];
  /** Array index per segment, or -1 when the segment is not a canonical index. */
  readonly indexes: readonly number[];
}

const INDEX_RE = /^(?:0|[1-9]\d*)$/;

export function compilePath(path: string): CompiledPath {
  const keys = path === '' ? [] : path.split('.');
  const indexes = keys.map((k) => {
    if (!INDEX_RE.test(k)) return -1;
    const n = Number(k);
    return Number.isSafeInteger(n) ? n : -1;
  });
  return { path, keys, indexes };
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Allocation-free read: returns the value, or MISSING. No try/catch, no
 * closures; safe for the matcher hot path.
 */
export function readCompiled(value: unknown, compiled: CompiledPath): unknown {
  const keys = compiled.keys;
  const indexes = compiled.indexes;
  const n = keys.length;
  let cur: unknown = value;
  for (let i = 0; i < n; i++) {
    if (cur === null || typeof cur !== 'object') return MISSING;
    if (Array.isArray(cur)) {
      const j = indexes[i] as number;
      if (j < 0 || j >= cur.length) return MISSING;
      cur = cur[j];
    } else {
      const k = keys[i] as string;
      if (!hasOwn.call(cur, k)) return MISSING;
      cur = (cur as Record<string, unknown>)[k];
    }
    if (cur === undefined) return MISSING;
  }
  return cur === undefined ? MISSING : cur;
}

/** Convenience reader: `{found, value}`; value is undefined when not found. */
export function readPath(payload: unknown, path: string): { found: boolean; value: unknown } {
  const v = readCompiled(payload, compilePath(path));
  return v === MISSING ? { found: false, value: undefined } : { found: true, value: v };
}
