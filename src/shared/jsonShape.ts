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
  value: object;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

const pathOf = (frame: Frame | null, last: string | number): JsonPath => {
  const path: JsonPath = [last];
  for (let at = frame; at?.parent; at = at.parent) path.push(at.key);
  return path.reverse();
};

const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels`;
const NOT_FINITE = 'a number out of the double range (not finite)';

/** The first place where `value` is not of an acceptable shape, or null when it is. */
export function findJsonShapeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonShapeProblem | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : { path: [], problem: NOT_FINITE };
  if (typeof value !== 'object' || value === null) return null;
  if (maxDepth < 1) return { path: [], problem: TOO_DEEP };
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  let found: JsonShapeProblem | null = null;
  const visit = (frame: Frame, key: string | number, child: unknown): boolean => {
    if (typeof child === 'number') {
      if (!Number.isFinite(child)) found = { path: pathOf(frame, key), problem: NOT_FINITE };
    } else if (typeof child === 'object' && child !== null) {
      if (frame.depth >= maxDepth) found = { path: pathOf(frame, key), problem: TOO_DEEP };
      else stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
    }
    return found !== null;
  };
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (Array.isArray(frame.value)) {
      const items = frame.value as unknown[];
      for (let i = 0; i < items.length; i++) if (visit(frame, i, items[i])) return found;
    } else {
      const record = frame.value as Record<string, unknown>;
      for (const key of Object.keys(record)) if (visit(frame, key, record[key])) return found;
    }
  }
  return null;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_KEY_SHOWN = 60;

/** `root.a.b[3]["odd key"]`; overlong keys are cut, so the text stays short whatever the input. */
export function formatJsonPath(root: string, path: JsonPath): string {
  let text = root;
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (IDENTIFIER.test(key) && key.length <= MAX_KEY_SHOWN) text += text === '' ? key : `.${key}`;
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
