/**
 * Candidate verification over the per-event field cache (fieldReads.ts).
 *
 * A condition is compiled into a tree of Check nodes (one object shape, interpreted by `passes`),
 * not into closures: the matcher verifies many different rules per event, and a call through a
 * closure per rule and per leaf costs more than the test itself. The semantics are those of
 * compilePredicate (same leaf tests, same group logic, same compile errors); each leaf takes its
 * field from EventReads, so a field is read once per event whatever the number of rules.
 *
 * Common leaves are specialised:
 * - ordering, `==`, `!=` against a value that reads as a finite number, `between` whose bounds
 *   both do, and `in` / `not_in`: when the actual reads as a finite number (cached by
 *   EventReads) the comparison is numeric, exactly what the general test does for such an
 *   actual; any other actual goes to the general test (lexicographic strings, non-finite numbers,
 *   structural equality, ...), except that `in` looks a primitive up in its member set;
 * - `==` / `!=` against another primitive (non-numeric string, boolean, null) are identity tests:
 *   with no numeric reading on the expected side the general equality is `===`.
 */
import {
  buildMemberSets,
  buildValueTest,
  checkLeaf,
  isGroupCondition,
  MISSING,
  normalizeLogic,
  normalizeOperator,
  toFiniteNumber,
  type Condition,
  type LeafCondition,
} from '../../rules/conditions/index.js';
import type { EventReads, FieldSlots } from './fieldReads.js';

type ValueTest = (actual: unknown) => boolean;

enum Kind {
  // Leaves.
  Exists,
  NotExists,
  /** Found and the general test holds. */
  Test,
  IdentityEq,
  IdentityNe,
  NumGt,
  NumGe,
  NumLt,
  NumLe,
  NumEq,
  NumNe,
  Between,
  In,
  NotIn,
  // Groups (Kind >= All).
  All,
  Any,
  None,
  /** An empty group (true whatever its logic), or a condition proven by the index. */
  True,
}

/** One node of a compiled condition. All nodes share this shape so `passes` stays monomorphic. */
export class Check {
  constructor(
    readonly kind: Kind,
    /** Leaf: field slot in EventReads. */
    readonly slot: number,
    /** Leaf: the general test of a found value (fallback of the specialised kinds). */
    readonly test: ValueTest | null,
    /** Num*: the threshold; Between: the low bound. */
    readonly low: number,
    /** Between: the high bound. */
    readonly high: number,
    /** Identity*: the expected primitive. */
    readonly expected: unknown,
    /** In / NotIn: members that read as finite numbers, and the other primitives. */
    readonly nums: ReadonlySet<number> | null,
    readonly prims: ReadonlySet<unknown> | null,
    /** Groups: the children. */
    readonly children: readonly Check[],
  ) {}
}

export const TRUE_CHECK = new Check(Kind.True, -1, null, NaN, NaN, undefined, null, null, []);

export interface CompiledCheck {
  check: Check;
  /** The field slots the check holds (to release when it is dropped). */
  slots: number[];
}

/** Compiles `condition`; throws like compilePredicate, holding no slot then. */
export function compileCheck(condition: Condition, fieldSlots: FieldSlots): CompiledCheck {
  const slots: number[] = [];
  const slotOf = (field: string) => {
    const slot = fieldSlots.acquire(field);
    slots.push(slot);
    return slot;
  };
  try {
    return { check: compileNode(condition, slotOf), slots };
  } catch (error) {
    for (const slot of slots) fieldSlots.release(slot);
    throw error;
  }
}

/** Whether the current event of `reads` meets the compiled condition. */
export function passes(c: Check, reads: EventReads): boolean {
  const kind = c.kind;
  if (kind >= Kind.All) return groupPasses(c, reads);
  const v = reads.load(c.slot);
  if (v === MISSING) return kind === Kind.NotExists;
  switch (kind) {
    case Kind.Exists:
      return true;
    case Kind.NotExists:
      return false;
    case Kind.IdentityEq:
      return v === c.expected;
    case Kind.IdentityNe:
      return v !== c.expected;
    case Kind.Test:
      return (c.test as ValueTest)(v);
  }
  const n = reads.nums[c.slot] as number;
  if (Number.isNaN(n)) {
    if ((kind === Kind.In || kind === Kind.NotIn) && (v === null || typeof v !== 'object')) {
      // NaN is never a member.
      return ((c.prims as ReadonlySet<unknown>).has(v) && !Number.isNaN(v)) === (kind === Kind.In);
    }
    return (c.test as ValueTest)(v);
  }
  switch (kind) {
    case Kind.NumGt:
      return n > c.low;
    case Kind.NumGe:
      return n >= c.low;
    case Kind.NumLt:
      return n < c.low;
    case Kind.NumLe:
      return n <= c.low;
    case Kind.NumEq:
      return n === c.low;
    case Kind.NumNe:
      return n !== c.low;
    case Kind.Between:
      return c.low <= n && n <= c.high;
    case Kind.In:
      return (c.nums as ReadonlySet<number>).has(n);
    default: // Kind.NotIn
      return !(c.nums as ReadonlySet<number>).has(n);
  }
}

function groupPasses(c: Check, reads: EventReads): boolean {
  const children = c.children;
  const n = children.length;
  switch (c.kind) {
    case Kind.All:
      for (let i = 0; i < n; i++) if (!passes(children[i] as Check, reads)) return false;
      return true;
    case Kind.Any:
      for (let i = 0; i < n; i++) if (passes(children[i] as Check, reads)) return true;
      return false;
    case Kind.None:
      for (let i = 0; i < n; i++) if (passes(children[i] as Check, reads)) return false;
      return true;
    default: // Kind.True
      return true;
  }
}

// --- compilation --------------------------------------------------------------------------------

function compileNode(condition: Condition, slotOf: (field: string) => number): Check {
  if (!isGroupCondition(condition)) return compileLeaf(condition, slotOf);
  const logic = normalizeLogic(condition.logic);
  const children = condition.conditions.map((c) => compileNode(c, slotOf));
  if (children.length === 0) return TRUE_CHECK;
  // A group of one is its child (AND, OR) or the child's negation (NOT): the loops do that too.
  const kind = logic === 'AND' ? Kind.All : logic === 'OR' ? Kind.Any : Kind.None;
  if (children.length === 1 && kind !== Kind.None) return children[0] as Check;
  return group(kind, children);
}

const group = (kind: Kind, children: Check[]) => new Check(kind, -1, null, NaN, NaN, undefined, null, null, children);

const leaf = (kind: Kind, slot: number, test: ValueTest | null, low = NaN, high = NaN, expected: unknown = undefined) =>
  new Check(kind, slot, test, low, high, expected, null, null, []);

const NUMERIC_KIND: Partial<Record<string, Kind>> = {
  '>': Kind.NumGt,
  '>=': Kind.NumGe,
  '<': Kind.NumLt,
  '<=': Kind.NumLe,
  '==': Kind.NumEq,
  '!=': Kind.NumNe,
};

/** A primitive that only an identical value equals (NaN and undefined equal nothing found). */
function isIdentityPrimitive(v: unknown): boolean {
  return (v === null || typeof v !== 'object') && v !== undefined && !Number.isNaN(v);
}

function compileLeaf(condition: LeafCondition, slotOf: (field: string) => number): Check {
  checkLeaf(condition);
  const op = normalizeOperator(condition.op);
  if (op === 'exists' || op === 'not_exists') {
    return leaf(op === 'exists' ? Kind.Exists : Kind.NotExists, slotOf(condition.field), null);
  }
  const expected: unknown = condition.value;
  const test = buildValueTest(op, expected);
  const slot = slotOf(condition.field);
  const t = toFiniteNumber(expected);
  const numeric = NUMERIC_KIND[op];
  if (numeric !== undefined && !Number.isNaN(t)) return leaf(numeric, slot, test, t);
  if ((op === '==' || op === '!=') && isIdentityPrimitive(expected)) {
    return leaf(op === '==' ? Kind.IdentityEq : Kind.IdentityNe, slot, test, NaN, NaN, expected);
  }
  if (op === 'between' && Array.isArray(expected) && expected.length === 2) {
    const low = toFiniteNumber(expected[0]);
    const high = toFiniteNumber(expected[1]);
    if (!Number.isNaN(low) && !Number.isNaN(high)) return leaf(Kind.Between, slot, test, low, high);
  }
  if ((op === 'in' || op === 'not_in') && Array.isArray(expected)) {
    const { nums, prims } = buildMemberSets(expected);
    return new Check(op === 'in' ? Kind.In : Kind.NotIn, slot, test, NaN, NaN, undefined, nums, prims, []);
  }
  return leaf(Kind.Test, slot, test);
}
