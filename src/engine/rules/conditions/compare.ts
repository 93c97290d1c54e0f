/**
 * Value comparison semantics shared by EVENT leaves and METRIC thresholds
 * (SPEC.md "EVENT conditions" / "METRIC").
 *
 * Decisions (where SPEC.md is silent):
 * - "Reads as a finite number": a `number` that is finite, or a `string` that,
 *   after trimming whitespace, is a non-empty DECIMAL literal (`"10"`, `" -1.5 "`,
 *   `"1e3"`, `".5"`, `"+2"`) whose value is finite. Hex/octal/binary (`"0x10"`),
 *   `"Infinity"`, `""` and `"  "` are not numbers. Booleans, null, objects and
 *   arrays are never numbers.
 * - Equality (`==`, `in`, list `contains`): when both sides read as finite
 *   numbers they are compared numerically (`"10" == 10`, `"1.0" == 1`).
 *   Otherwise primitives use strict equality (`true != 1`, `null == null`,
 *   `"a" != "A"`), and objects/arrays use JSON-structural equality (same keys
 *   regardless of order, arrays element-wise in order, nested values compared
 *   strictly, without numeric coercion: `[1] != ["1"]`).
 * - Ordering (`> < >= <=`, `between`): numerically when both sides read as
 *   finite numbers; else two strings compare lexicographically by UTF-16 code
 *   units (`"b" > "a"`, `"abc" > "9"`); else two (non-finite) numbers compare
 *   natively; anything else (number vs non-numeric string, booleans, null,
 *   objects, arrays) is false for every ordering operator, never an error.
 * - `between` is `low <= actual && actual <= high`, each side with the
 *   ordering rule above; a value that is not a 2-element list is never met.
 * - `in` with a value that is not a list is never met (so `not_in` is met).
 * - `contains`: actual string -> substring test; actual list -> some element
 *   equals the value (equality rule above); any other actual -> false. The
 *   needle of a substring test is the value when it is a string, or
 *   `String(value)` when it is a finite number (`"error 404" contains 404`);
 *   any other needle never matches a string. `""` is contained in every string.
 * - `starts_with` / `ends_with`: only when actual is a string (a number actual
 *   is false, no conversion); needle as for `contains`.
 * - `exists`: the field is found with any value, null included.
 * - `matches`: a JavaScript-syntax pattern (unanchored, no flags) run in linear
 *   time by regex.ts, compiled once; a non-string actual is false. A non-string,
 *   invalid or unsupported pattern is a compile error (the validator refuses those
 *   first).
 * - Negations `!=`, `not_in`, `not_contains` are exactly `!` of their positive.
 */
import { compilePattern, PatternError, type CompiledPattern } from './regex.js';
import { ConditionCompileError, type Operator } from './types.js';

const DECIMAL_RE = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** The finite number a value reads as, or NaN. No allocation. */
export function toFiniteNumber(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value === 'string') {
    // A decimal literal starts with whitespace, a digit, a sign or a dot, all below ':' in ASCII;
    // a first character from ':' to DEL (every letter) rules one out without parsing.
    const first = value.charCodeAt(0);
    if (first >= 58 && first <= 127) return NaN;
    const n = +value;
    // `+` accepts "", "  ", "0x1f", "0b1", "0o7", "Infinity": weed those out.
    if (Number.isNaN(n) || n === Infinity || n === -Infinity) return NaN;
    return DECIMAL_RE.test(value) ? n : NaN;
  }
  return NaN;
}

/** JSON-structural equality with strict leaves (no numeric coercion inside). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const aArr = Array.isArray(a);
  if (aArr !== Array.isArray(b)) return false;
  if (aArr) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!jsonEqual(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const xk = Object.keys(x);
  if (xk.length !== Object.keys(y).length) return false;
  for (const k of xk) {
    if (!Object.hasOwn(y, k)) return false;
    if (!jsonEqual(x[k], y[k])) return false;
  }
  return true;
}

/**
 * Equality with precomputed expected number (`expNum` = toFiniteNumber(expected)).
 */
function equalsPre(actual: unknown, expected: unknown, expNum: number): boolean {
  if (!Number.isNaN(expNum)) {
    // expected reads as a finite number
    const aNum = toFiniteNumber(actual);
    if (!Number.isNaN(aNum)) return aNum === expNum;
    return actual === expected;
  }
  if (expected !== null && typeof expected === 'object') return jsonEqual(actual, expected);
  if (actual === expected) return !Number.isNaN(expected); // NaN never equals
  return false;
}

/**
 * Three-way ordering: negative / 0 / positive, or NaN when the two values are
 * not orderable against each other.
 */
function orderPre(actual: unknown, expected: unknown, expNum: number): number {
  const aNum = toFiniteNumber(actual);
  if (!Number.isNaN(aNum) && !Number.isNaN(expNum)) return aNum < expNum ? -1 : aNum > expNum ? 1 : 0;
  const ta = typeof actual;
  const te = typeof expected;
  if (ta === 'string' && te === 'string') {
    return (actual as string) < (expected as string) ? -1 : (actual as string) > (expected as string) ? 1 : 0;
  }
  if (ta === 'number' && te === 'number') {
    const a = actual as number;
    const e = expected as number;
    return a < e ? -1 : a > e ? 1 : a === e ? 0 : NaN;
  }
  return NaN;
}

function needleOf(expected: unknown): string | null {
  if (typeof expected === 'string') return expected;
  if (typeof expected === 'number' && Number.isFinite(expected)) return String(expected);
  return null;
}

/** A test over a value that was found. Built once per leaf. */
export type ValueTest = (actual: unknown) => boolean;

const ALWAYS: ValueTest = () => true;
const NEVER: ValueTest = () => false;

/** The members of an `in` list, split for O(1) lookup. */
export interface MemberSets {
  /** Members that read as finite numbers, by value. */
  nums: Set<number>;
  /** Other primitives (NaN left out: it never equals), by identity. */
  prims: Set<unknown>;
  /** Objects and arrays, compared structurally. */
  objects: unknown[];
}

export function buildMemberSets(members: readonly unknown[]): MemberSets {
  const nums = new Set<number>();
  const prims = new Set<unknown>();
  const objects: unknown[] = [];
  for (const m of members) {
    const n = toFiniteNumber(m);
    if (!Number.isNaN(n)) nums.add(n);
    else if (m !== null && typeof m === 'object') objects.push(m);
    else if (!Number.isNaN(m)) prims.add(m);
  }
  return { nums, prims, objects };
}

function buildIn(expected: unknown): ValueTest {
  if (!Array.isArray(expected)) return NEVER;
  const { nums, prims, objects } = buildMemberSets(expected);
  const nObjects = objects.length;
  return (actual) => {
    const aNum = toFiniteNumber(actual);
    if (!Number.isNaN(aNum)) return nums.has(aNum);
    if (actual !== null && typeof actual === 'object') {
      for (let i = 0; i < nObjects; i++) if (jsonEqual(actual, objects[i])) return true;
      return false;
    }
    return prims.has(actual) && !Number.isNaN(actual);
  };
}

function buildContains(expected: unknown): ValueTest {
  const needle = needleOf(expected);
  const expNum = toFiniteNumber(expected);
  return (actual) => {
    if (typeof actual === 'string') return needle !== null && actual.includes(needle);
    if (Array.isArray(actual)) {
      for (let i = 0; i < actual.length; i++) if (equalsPre(actual[i], expected, expNum)) return true;
    }
    return false;
  };
}

function buildBetween(expected: unknown): ValueTest {
  if (!Array.isArray(expected) || expected.length !== 2) return NEVER;
  const low: unknown = expected[0];
  const high: unknown = expected[1];
  const lowNum = toFiniteNumber(low);
  const highNum = toFiniteNumber(high);
  return (actual) => orderPre(actual, low, lowNum) >= 0 && orderPre(actual, high, highNum) <= 0;
}

function buildMatches(expected: unknown): ValueTest {
  if (typeof expected !== 'string') {
    throw new ConditionCompileError('matches needs a string regular expression');
  }
  let pattern: CompiledPattern;
  try {
    pattern = compilePattern(expected);
  } catch (err) {
    const detail = (err as Error).message;
    throw new ConditionCompileError(
      err instanceof PatternError && err.kind === 'unsupported' ? `Regular expression refused: ${detail}` : `Invalid regular expression: ${detail}`,
    );
  }
  return (actual) => typeof actual === 'string' && pattern.test(actual);
}

function negate(test: ValueTest): ValueTest {
  return (actual) => !test(actual);
}

/** Normalise an operator (`=` is `==`); throws on an unknown one. */
export function normalizeOperator(op: string): Operator {
  if (op === '=') return '==';
  switch (op) {
    case '>':
    case '<':
    case '>=':
    case '<=':
    case '==':
    case '!=':
    case 'in':
    case 'not_in':
    case 'contains':
    case 'not_contains':
    case 'starts_with':
    case 'ends_with':
    case 'exists':
    case 'not_exists':
    case 'between':
    case 'matches':
      return op;
    default:
      throw new ConditionCompileError(`Unknown operator: ${String(op)}`);
  }
}

/**
 * Build the test applied to a FOUND value. (A missing value is handled by the
 * caller: only `not_exists` is met.)
 */
export function buildValueTest(op: Operator, expected: unknown): ValueTest {
  const expNum = toFiniteNumber(expected);
  switch (normalizeOperator(op)) {
    case '==':
      return (a) => equalsPre(a, expected, expNum);
    case '!=':
      return (a) => !equalsPre(a, expected, expNum);
    case '>':
      return (a) => orderPre(a, expected, expNum) > 0;
    case '<':
      return (a) => orderPre(a, expected, expNum) < 0;
    case '>=':
      return (a) => orderPre(a, expected, expNum) >= 0;
    case '<=':
      return (a) => orderPre(a, expected, expNum) <= 0;
    case 'in':
      return buildIn(expected);
    case 'not_in':
      return negate(buildIn(expected));
    case 'contains':
      return buildContains(expected);
    case 'not_contains':
      return negate(buildContains(expected));
    case 'starts_with': {
      const needle = needleOf(expected);
      if (needle === null) return NEVER;
      return (a) => typeof a === 'string' && a.startsWith(needle);
    }
    case 'ends_with': {
      const needle = needleOf(expected);
      if (needle === null) return NEVER;
      return (a) => typeof a === 'string' && a.endsWith(needle);
    }
    case 'exists':
      return ALWAYS;
    case 'not_exists':
      return NEVER;
    case 'between':
      return buildBetween(expected);
    case 'matches':
      return buildMatches(expected);
  }
}

const MATCHES_CACHE_MAX = 256;
const testCache = new Map<string, ValueTest>();

/**
 * METRIC form: compare a value already extracted (e.g. at `valuePath`) with a
 * threshold, with exactly the leaf semantics. `undefined` actual means "not
 * found": only `not_exists` is met. Never throws for `matches` with a bad
 * pattern (false instead); throws only for an unknown operator.
 */
export function compareValues(actual: unknown, op: Operator, expected: unknown): boolean {
  const nop = normalizeOperator(op);
  if (actual === undefined) return nop === 'not_exists';
  if (nop === 'matches') {
    if (typeof expected !== 'string') return false;
    let test = testCache.get(expected);
    if (test === undefined) {
      try {
        test = buildMatches(expected);
      } catch {
        test = NEVER;
      }
      if (testCache.size >= MATCHES_CACHE_MAX) testCache.clear();
      testCache.set(expected, test);
    }
    return test(actual);
  }
  return buildValueTest(nop, expected)(actual);
}
