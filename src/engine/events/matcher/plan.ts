/**
 * Access plans: from a condition tree, a set of index keys of which AT LEAST ONE is hit by every
 * event that meets the condition (a necessary condition, never a sufficient one: candidates are
 * always verified with the full compiled predicate).
 *
 * The reasoning follows the exact leaf semantics of ../conditions (compare.ts, compile.ts):
 * - every leaf except `not_exists` is false when its field is missing, so "the field is present"
 *   is necessary for all of them (the weakest key, used when nothing better applies);
 * - `==` and `in`: an actual that reads as a finite number equals only expected values that read
 *   as the same finite number (`"10" == 10`); any other primitive actual equals only the identical
 *   primitive; objects/arrays (structural equality) are not hashed, so those leaves fall back to
 *   presence;
 * - ordering (`> >= < <= between`) with every bound reading as a finite number: for an actual that
 *   reads as a finite number the comparison is numeric, hence exact on sorted thresholds; an
 *   actual that does not (a non-numeric string vs a string bound: lexicographic; a non-finite
 *   number vs a number bound: native) is handled by "odd" lists scanned only for such actuals;
 *   ordering with a non-numeric bound falls back to presence;
 * - leaves that can never be met (`in` / `between` with a malformed list, ordering against a
 *   boolean/null/object, `starts_with` with a non-string needle, ...) give the EMPTY key set.
 *
 * Groups (SPEC: AND = all, OR = any, NOT = none; an empty group is true whatever its logic):
 * - AND: the most selective child plan (lowest score);
 * - OR: the union of the children's plans, or ALWAYS if one of them is ALWAYS;
 * - NOT: "none of the children" = AND of the negated children. Negation is pushed down
 *   (De Morgan); a negated leaf is indexable only for `not_exists` (whose negation requires the
 *   field present); any other negated leaf is ALWAYS.
 * - Anything malformed (unknown operator or logic, non-string field) is ALWAYS: the index never
 *   gets stricter than the predicate.
 */
import { normalizeOperator, toFiniteNumber } from '../../rules/conditions/compare.js';
import type { Condition, Operator } from '../../rules/conditions/types.js';

export type RangeOp = 'gt' | 'ge' | 'lt' | 'le';

/** One index key. */
export type AccessKey =
  /** The field reads as a finite number equal to `num`. */
  | { kind: 'eqNum'; field: string; num: number }
  /** The field is the identical primitive (non-numeric string, boolean, null, non-finite number). */
  | { kind: 'eqPrim'; field: string; prim: unknown }
  /**
   * Ordering against finite-number threshold(s). `oddStr` / `oddNum`: may also hold for a
   * non-numeric string / non-finite number actual (some bound is a string / a number).
   */
  | { kind: 'range'; field: string; op: RangeOp; threshold: number; oddStr: boolean; oddNum: boolean }
  | { kind: 'between'; field: string; low: number; high: number; oddStr: boolean; oddNum: boolean }
  /** The field is found (any value, null included). */
  | { kind: 'present'; field: string };

export type AccessPlan =
  /** Cannot be narrowed: a candidate for every event. */
  | { always: true }
  /** A candidate only when one of `keys` is hit. Empty: can never be met. */
  | { always: false; keys: AccessKey[]; score: number };

const ALWAYS: AccessPlan = { always: true };
const NEVER: AccessPlan = { always: false, keys: [], score: 0 };

/** Rough selectivity costs (lower is more selective). */
const SCORE_EQ = 1;
const SCORE_BETWEEN = 6;
const SCORE_RANGE = 12;
const SCORE_PRESENT = 100;

const keysPlan = (keys: AccessKey[], score: number): AccessPlan => ({ always: false, keys, score });

function isPrimitive(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function presence(field: string): AccessPlan {
  return keysPlan([{ kind: 'present', field }], SCORE_PRESENT);
}

/** Keys for a value that must EQUAL `expected` (the `==` rule), or null when not hashable. */
function eqKey(field: string, expected: unknown): AccessKey | null | 'never' {
  const n = toFiniteNumber(expected);
  if (!Number.isNaN(n)) return { kind: 'eqNum', field, num: n };
  if (!isPrimitive(expected)) return null; // structural equality: not hashed
  // NaN and undefined never equal a found value.
  if (expected === undefined || Number.isNaN(expected)) return 'never';
  return { kind: 'eqPrim', field, prim: expected };
}

function leafPlan(field: string, op: Operator, expected: unknown): AccessPlan {
  switch (op) {
    case 'not_exists':
      return ALWAYS;
    case '==': {
      const key = eqKey(field, expected);
      if (key === 'never') return NEVER;
      return key ? keysPlan([key], SCORE_EQ) : presence(field);
    }
    case 'in': {
      if (!Array.isArray(expected)) return NEVER;
      const keys: AccessKey[] = [];
      const nums = new Set<number>();
      const prims = new Set<unknown>();
      for (const m of expected as unknown[]) {
        const key = eqKey(field, m);
        if (key === 'never') continue;
        if (key === null) return presence(field); // an object member: not hashed
        if (key.kind === 'eqNum') {
          if (nums.has(key.num)) continue;
          nums.add(key.num);
        } else if (key.kind === 'eqPrim') {
          if (prims.has(key.prim)) continue;
          prims.add(key.prim);
        }
        keys.push(key);
      }
      return keys.length === 0 ? NEVER : keysPlan(keys, SCORE_EQ * keys.length);
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const n = toFiniteNumber(expected);
      if (!Number.isNaN(n)) {
        const rop: RangeOp = op === '>' ? 'gt' : op === '>=' ? 'ge' : op === '<' ? 'lt' : 'le';
        return keysPlan(
          [{ kind: 'range', field, op: rop, threshold: n, oddStr: typeof expected === 'string', oddNum: typeof expected === 'number' }],
          SCORE_RANGE,
        );
      }
      // Non-numeric string or non-finite number: met by some strings / numbers only.
      if (typeof expected === 'string' || typeof expected === 'number') return presence(field);
      return NEVER; // boolean, null, object, array, undefined: never ordered
    }
    case 'between': {
      if (!Array.isArray(expected) || expected.length !== 2) return NEVER;
      const lowV: unknown = expected[0];
      const highV: unknown = expected[1];
      const orderable = (v: unknown) => typeof v === 'string' || typeof v === 'number';
      if (!orderable(lowV) || !orderable(highV)) return NEVER;
      const low = toFiniteNumber(lowV);
      const high = toFiniteNumber(highV);
      if (Number.isNaN(low) || Number.isNaN(high)) return presence(field);
      return keysPlan(
        [
          {
            kind: 'between',
            field,
            low,
            high,
            oddStr: typeof lowV === 'string' || typeof highV === 'string',
            oddNum: typeof lowV === 'number' || typeof highV === 'number',
          },
        ],
        SCORE_BETWEEN,
      );
    }
    case 'starts_with':
    case 'ends_with': {
      const needleOk = typeof expected === 'string' || (typeof expected === 'number' && Number.isFinite(expected));
      return needleOk ? presence(field) : NEVER;
    }
    // `!=`, `not_in`, `not_contains`, `contains`, `exists`, `matches`: the field must be found.
    default:
      return presence(field);
  }
}

function andPlans(plans: AccessPlan[]): AccessPlan {
  let best: AccessPlan = ALWAYS;
  for (const p of plans) {
    if (p.always) continue;
    if (best.always || p.score < best.score) best = p;
  }
  return best;
}

/** Identifies a key: two keys with the same signature are hit by the same events. */
function keySignature(k: AccessKey): string {
  switch (k.kind) {
    case 'eqNum':
      return JSON.stringify([k.kind, k.field, k.num]);
    case 'eqPrim':
      return JSON.stringify([k.kind, k.field, typeof k.prim, String(k.prim)]);
    case 'range':
      return JSON.stringify([k.kind, k.field, k.op, k.threshold, k.oddStr, k.oddNum]);
    case 'between':
      return JSON.stringify([k.kind, k.field, k.low, k.high, k.oddStr, k.oddNum]);
    case 'present':
      return JSON.stringify([k.kind, k.field]);
  }
}

function orPlans(plans: AccessPlan[]): AccessPlan {
  const keys: AccessKey[] = [];
  // The same key from several branches (`(type == a AND x) OR (type == a AND y)`) is kept once.
  const seen = new Set<string>();
  let score = 0;
  for (const p of plans) {
    if (p.always) return ALWAYS;
    for (const k of p.keys) {
      const signature = keySignature(k);
      if (seen.has(signature)) continue;
      seen.add(signature);
      keys.push(k);
    }
    score += p.score;
  }
  return keysPlan(keys, score);
}

function normalizeLogic(logic: unknown): 'AND' | 'OR' | 'NOT' | null {
  if (logic === undefined || logic === null) return 'AND';
  const l = typeof logic === 'string' ? logic.toUpperCase() : logic;
  return l === 'AND' || l === 'OR' || l === 'NOT' ? l : null;
}

const MAX_DEPTH = 64;

function planOf(condition: unknown, negated: boolean, depth: number): AccessPlan {
  if (condition === null || typeof condition !== 'object' || depth > MAX_DEPTH) return ALWAYS;
  const node = condition as Record<string, unknown>;
  if (Array.isArray(node.conditions)) {
    const logic = normalizeLogic(node.logic);
    if (logic === null) return ALWAYS;
    const children = node.conditions as unknown[];
    // An empty group is true: its negation is never true.
    if (children.length === 0) return negated ? NEVER : ALWAYS;
    // NOT(c1..cn) = AND(!c1..!cn); !NOT(c1..cn) = OR(c1..cn); !AND = OR of negations; !OR = AND of negations.
    const childNegated = logic === 'NOT' ? !negated : negated;
    const combineAsAnd = logic === 'AND' ? !negated : logic === 'OR' ? negated : !negated;
    const plans = children.map((c) => planOf(c, childNegated, depth + 1));
    return combineAsAnd ? andPlans(plans) : orPlans(plans);
  }
  if (typeof node.field !== 'string') return ALWAYS;
  let op: Operator;
  try {
    op = normalizeOperator(node.op as string);
  } catch {
    return ALWAYS;
  }
  if (negated) return op === 'not_exists' ? presence(node.field) : ALWAYS;
  return leafPlan(node.field, op, node.value);
}

/** The access plan of a condition (see the module comment). Never throws. */
export function accessPlan(condition: Condition | unknown): AccessPlan {
  return planOf(condition, false, 0);
}

const sameKey = (a: AccessKey, b: AccessKey): boolean =>
  a.field === b.field &&
  ((a.kind === 'eqNum' && b.kind === 'eqNum' && a.num === b.num) || (a.kind === 'eqPrim' && b.kind === 'eqPrim' && Object.is(a.prim, b.prim)));

function isEqualityLeaf(node: unknown, key: AccessKey): boolean {
  if (node === null || typeof node !== 'object' || Array.isArray((node as { conditions?: unknown }).conditions)) return false;
  const leaf = node as { field?: unknown; op?: unknown; value?: unknown };
  if (typeof leaf.field !== 'string' || typeof leaf.op !== 'string') return false;
  let op: Operator;
  try {
    op = normalizeOperator(leaf.op);
  } catch {
    return false;
  }
  if (op !== '==') return false;
  const own = eqKey(leaf.field, leaf.value);
  return own !== null && own !== 'never' && sameKey(own, key);
}

/** A condition that always holds (an empty group): what a proven condition reduces to. */
const PROVEN: Condition = { logic: 'AND', conditions: [] };

/**
 * When the plan's only key is a hash key, every candidate has hit it, which proves every `==`
 * leaf of the condition that the key was taken from or that has the same key (the hash follows
 * the leaf's own equality, numbers and numeric strings alike, other primitives identical, and
 * reads the field with the same reader). Returns the condition left to verify with those leaves
 * replaced by `true` inside AND / OR groups (an AND drops them, an OR holding one is proven;
 * an empty AND group when the whole condition is proven), or null when nothing is proven.
 */
export function residualAfterKey(condition: unknown, plan: AccessPlan): Condition | null {
  if (plan.always || plan.keys.length !== 1) return null;
  const key = plan.keys[0]!;
  if (key.kind !== 'eqNum' && key.kind !== 'eqPrim') return null;
  const residual = withKeyProven(condition, key, 0);
  return residual === condition ? null : (residual as Condition);
}

/** `node` with the leaves `key` proves replaced (see residualAfterKey); `node` itself if none. */
function withKeyProven(node: unknown, key: AccessKey, depth: number): unknown {
  if (isEqualityLeaf(node, key)) return PROVEN;
  if (node === null || typeof node !== 'object' || depth > MAX_DEPTH) return node;
  const group = node as { conditions?: unknown; logic?: unknown };
  if (!Array.isArray(group.conditions) || group.conditions.length === 0) return node;
  const logic = normalizeLogic(group.logic);
  if (logic !== 'AND' && logic !== 'OR') return node; // NOT (or malformed) is left as it is
  const rest: unknown[] = [];
  let changed = false;
  for (const child of group.conditions as unknown[]) {
    const residual = withKeyProven(child, key, depth + 1);
    if (residual === child) {
      rest.push(child);
      continue;
    }
    changed = true;
    if (residual !== PROVEN) rest.push(residual);
    else if (logic === 'OR') return PROVEN;
  }
  if (!changed) return node;
  if (rest.length === 0) return PROVEN;
  return rest.length === 1 ? rest[0] : { logic, conditions: rest };
}
