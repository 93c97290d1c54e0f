/**
 * The shape every JSON input must have (SPEC.md, 'Limits'): nested at most MAX_JSON_DEPTH levels
 * (a scalar at the top is level 0, each object or array one more) and holding only finite
 * numbers (JSON.parse reads 1e400 as Infinity, which would match as Infinity and be stored as
 * null). The walk keeps its own stack, so no input can overflow it.
 */
export const MAX_JSON_DEPTH = 64;

export type JsonPath = (string | number)[];

export interface JsonShapeProblem {
  /** Where, from the checked value's top. */
  path: JsonPath;
  problem: string;
}

interface Frame {
  /** The object or array's keys (array indexes are read from `items`). */
  keys: string[] | null;
  items: unknown[] | Record<string, unknown>;
  /** The next child to look at. */
  next: number;
  /** Its level: 1 for a value at the top. */
  depth: number;
  parent: Frame | null;
  key: string | number;
}

const pathOf = (frame: Frame, last: string | number): JsonPath => {
  const path: JsonPath = [last];
  for (let at: Frame | null = frame; at?.parent; at = at.parent) path.push(at.key);
  return path.reverse();
};

const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels`;
const NOT_FINITE = 'a number out of the double range (not finite)';

const frameOf = (value: object, depth: number, parent: Frame | null, key: string | number): Frame =>
  Array.isArray(value)
    ? { keys: null, items: value, next: 0, depth, parent, key }
    : { keys: Object.keys(value), items: value as Record<string, unknown>, next: 0, depth, parent, key };

/**
 * The first place, in document order, where `value` is not of an acceptable shape, or null when
 * it is. Children are taken one at a time from the frame on top of the stack, so a problem is
 * found before any that comes after it in the text.
 */
export function findJsonShapeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonShapeProblem | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { path: [], problem: NOT_FINITE };
  if (typeof value !== 'object' || value === null) return null;
  if (maxDepth < 1) return { path: [], problem: TOO_DEEP };
  const stack: Frame[] = [frameOf(value, 1, null, '')];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const count = frame.keys ? frame.keys.length : (frame.items as unknown[]).length;
    if (frame.next >= count) {
      stack.pop();
      continue;
    }
    const key = frame.keys ? frame.keys[frame.next]! : frame.next;
    frame.next++;
    const child = (frame.items as Record<string | number, unknown>)[key];
    if (typeof child === 'number') {
      if (!Number.isFinite(child)) return { path: pathOf(frame, key), problem: NOT_FINITE };
    } else if (typeof child === 'object' && child !== null) {
      if (frame.depth >= maxDepth) return { path: pathOf(frame, key), problem: TOO_DEEP };
      stack.push(frameOf(child, frame.depth + 1, frame, key));
    }
  }
  return null;
}

/** A key written after a dot in a path (`payload.items.0.id`); any other key is quoted in brackets. Specs' paths use the same. */
export const SIMPLE_KEY = /^[A-Za-z0-9_$-]+$/;
const MAX_KEY_SHOWN = 60;

/** `root.a.b[3]["odd key"]`; overlong keys are cut, so the text stays short whatever the input. */
export function formatJsonPath(root: string, path: JsonPath): string {
  let text = root;
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (SIMPLE_KEY.test(key) && key.length <= MAX_KEY_SHOWN) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key)}]`;
  }
  return text;
}

/** `payload.a.b: nested deeper than 64 levels`, or null when `value` has an acceptable shape. */
export function jsonShapeRefusal(root: string, value: unknown): { path: string; message: string } | null {
  const found = findJsonShapeProblem(value);
  if (!found) return null;
  const path = formatJsonPath(root, found.path);
  return { path, message: `${path}: ${found.problem}` };
}

/**
 * A JSON value from outside (an answer, a script's output) as it is kept: parsed, unless nested
 * too deep or holding a number out of range, then as its text (SPEC.md, 'Limits').
 */
export function keptAsTextWhenMisshapen(parsed: unknown, text: string): unknown {
  return findJsonShapeProblem(parsed) ? text : parsed;
}
