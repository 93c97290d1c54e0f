import { UNSTORABLE } from '../../../shared/storable.js';
import { SpecError } from './errors.js';
import { indexPath, keyPath } from './util.js';

/**
 * Names, descriptions and specs hold well-formed text only (SPEC.md "Limits"): U+0000 and lone
 * surrogates are refused with the path of the string or object key that holds them. (PostgreSQL
 * cannot store U+0000 in text or jsonb; a lone surrogate would be stored as U+FFFD and read
 * back different from what was saved.)
 */

/** Why `text` is refused, or null when it is well-formed and holds no U+0000. */
export function badTextReason(text: string): string | null {
  const found = UNSTORABLE.exec(text);
  if (found === null) return null;
  const unit = found[0].charCodeAt(0);
  if (unit === 0) return `U+0000 (NUL) at character ${found.index + 1} is not allowed`;
  const code = unit.toString(16).toUpperCase();
  return `a lone surrogate U+${code} at character ${found.index + 1} is not allowed (text must be well-formed Unicode)`;
}

/** A refusal of a string or key: where it is and why. */
export interface TextRefusal {
  path: string;
  reason: string;
}

/**
 * The first string or object key holding U+0000 or a lone surrogate in a JSON value, at any
 * depth, in document order; null when there is none. Walks with its own stack, so any nesting
 * the request parser let through is safe.
 */
export function findBadText(value: unknown, path: string): TextRefusal | null {
  // [value, path, whether the value is an object key]
  type Entry = [unknown, string, boolean];
  const stack: Entry[] = [[value, path, false]];
  while (stack.length > 0) {
    const [current, at, isKey] = stack.pop() as Entry;
    if (typeof current === 'string') {
      const reason = badTextReason(current);
      // keyPath writes an odd key as a JSON string, so the path itself stays well-formed.
      if (reason !== null) return { path: at, reason: isKey ? `the key: ${reason}` : reason };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    const children: Entry[] = [];
    if (Array.isArray(current)) {
      current.forEach((item, i) => {
        children.push([item, indexPath(at, i), false]);
      });
    } else {
      for (const [key, item] of Object.entries(current as Record<string, unknown>)) {
        const itemPath = keyPath(at, key);
        children.push([key, itemPath, true], [item, itemPath, false]);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Entry);
  }
  return null;
}

/** Throws SpecError at the path of the first string or key holding U+0000 or a lone surrogate. */
export function checkText(value: unknown, path: string): void {
  const refusal = findBadText(value, path);
  if (refusal !== null) throw new SpecError(refusal.path, refusal.reason);
}
