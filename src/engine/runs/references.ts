/** The most `references` of one execution may hold, as JSON (SPEC.md, "Limits"). */
export const MAX_REFERENCES_BYTES = 64 * 1024;

/** What a reduced part keeps of a string: a short one whole, a longer one not at all. */
const KEPT_STRING = 256;
/** What a reduced part keeps of an object: its first entries. */
const KEPT_ENTRIES = 32;

type References = Record<string, unknown>;

/**
 * An execution's references, at most MAX_REFERENCES_BYTES of JSON. Beyond, `truncated: true`
 * and the condition trace (`trigger`) cut to its top level (the group's logic and result, or a
 * leaf's short fields: no `conditions_evaluated`, no long values); the other keys are kept if
 * they still fit, else cut the same way, else null.
 *
 * Most references are a few hundred bytes: a walk that stops as soon as an upper bound of the
 * size passes the limit tells so without making the text; only references that may be larger
 * are measured exactly.
 */
export function boundedReferences(references: References): References {
  if (sizeBound(references, MAX_REFERENCES_BYTES) <= MAX_REFERENCES_BYTES || fits(references)) return references;
  const cut: References = { ...references, trigger: reduced(references.trigger, 1), truncated: true };
  const others = Object.keys(cut).filter((key) => key !== 'trigger' && key !== 'truncated');
  for (const key of others) {
    if (fits(cut)) return cut;
    cut[key] = reduced(cut[key], 1);
  }
  for (const key of [...others, 'trigger']) {
    if (fits(cut)) return cut;
    cut[key] = null;
  }
  return cut;
}

const fits = (value: unknown) => Buffer.byteLength(JSON.stringify(value)) <= MAX_REFERENCES_BYTES;

/**
 * An upper bound of the bytes of the value's JSON, or some number above `limit` as soon as it
 * passes it. A UTF-16 unit is at most 6 bytes of JSON (a control character's `\u00XX`; UTF-8
 * needs at most 3).
 */
function sizeBound(value: unknown, limit: number): number {
  if (typeof value === 'string') return 6 * value.length + 2;
  if (typeof value !== 'object' || value === null) return 24;
  let size = 2;
  if (Array.isArray(value)) {
    for (const item of value) {
      size += sizeBound(item, limit - size) + 1;
      if (size > limit) return size;
    }
    return size;
  }
  for (const key in value) {
    size += 6 * key.length + 4 + sizeBound((value as References)[key], limit - size);
    if (size > limit) return size;
  }
  return size;
}

/**
 * A part of the references reduced to its top level: numbers, booleans, null and short strings,
 * and, `depth` levels down, objects reduced the same way (a stream form's `{window: {...}}`).
 * Arrays (a group's `conditions_evaluated`) are left out.
 */
function reduced(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length <= KEPT_STRING ? value : null;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return null;
  const kept: References = {};
  let count = 0;
  for (const key in value) {
    if (count >= KEPT_ENTRIES) break;
    if (key.length > KEPT_STRING) continue;
    const item = (value as References)[key];
    if (Array.isArray(item)) continue;
    if (typeof item === 'object' && item !== null) {
      if (depth > 0) {
        kept[key] = reduced(item, depth - 1);
        count++;
      }
      continue;
    }
    if (typeof item === 'string' && item.length > KEPT_STRING) continue;
    kept[key] = item;
    count++;
  }
  return kept;
}
