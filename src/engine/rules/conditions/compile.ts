/**
 * Compiles condition trees into plain closures (no eval / new Function).
 *
 * - `compilePredicate`: hot path, boolean only. Paths are split and values /
 *   regexes / `in` sets precomputed at compile time; evaluation allocates
 *   nothing, has no try/catch and short-circuits groups.
 * - `compileCondition`: same truth value, plus SPEC "References". Every child of
 *   a group is evaluated (no short-circuit) so the references are complete.
 *
 * Field lookup: dotted path (see path.ts); for compatibility a plain name (no
 * dot) missing at the top level is also looked up under `payload.metrics`.
 * A payload that is null/undefined/not an object (arrays are objects) has
 * every field missing. A missing field makes every leaf false except
 * `not_exists` (true); its reference carries `actual: null` and
 * `reason: "field missing"`.
 *
 * Groups: AND = all true, OR = any true, NOT = none true; an empty group is
 * true whatever its logic.
 */
import { buildValueTest, normalizeOperator, type ValueTest } from './compare.js';
import { compilePath, MISSING, readCompiled, type CompiledPath } from './path.js';
import {
  ConditionCompileError,
  isGroupCondition,
  type CompiledCondition,
  type CompiledPredicate,
  type Condition,
  type ConditionOutcome,
  type GroupReference,
  type LeafCondition,
  type LeafReference,
  type Logic,
  type Operator,
} from './types.js';

const METRICS = 'metrics';

/** Reads a condition field: MISSING or the value. */
type FieldReader = (payload: unknown) => unknown;

/**
 * Reads a condition field: the dotted path `main`, then, for a plain name (`fallback` given),
 * `metrics.<name>` when the name is missing at the top level. MISSING when neither is found.
 */
export function readField(payload: unknown, main: CompiledPath, fallback: CompiledPath | null): unknown {
  if (payload === null || typeof payload !== 'object') return MISSING;
  const v = readCompiled(payload, main);
  return v === MISSING && fallback !== null ? readCompiled(payload, fallback) : v;
}

/** The paths readField walks for a condition field: [main, fallback or null]. */
export function compileFieldPaths(field: string): [main: CompiledPath, fallback: CompiledPath | null] {
  // `metrics.<name>` with a literal name: a plain name holds no dot.
  return [compilePath(field), field.includes('.') ? null : compilePath(`${METRICS}.${field}`)];
}

export function compileFieldReader(field: string): FieldReader {
  const [main, fallback] = compileFieldPaths(field);
  return (payload) => readField(payload, main, fallback);
}

export function normalizeLogic(logic: unknown): Logic {
  if (logic === undefined || logic === null) return 'AND';
  const l = typeof logic === 'string' ? logic.toUpperCase() : logic;
  if (l === 'AND' || l === 'OR' || l === 'NOT') return l;
  throw new ConditionCompileError(`Unknown logic: ${String(logic)}`);
}

export function checkLeaf(condition: LeafCondition): void {
  if (typeof condition.field !== 'string') {
    throw new ConditionCompileError('Condition field must be a string');
  }
}

// ---------------------------------------------------------------------------
// Predicate (hot path)

export function compilePredicate(condition: Condition): CompiledPredicate {
  if (isGroupCondition(condition)) return compileGroupPredicate(condition.conditions, normalizeLogic(condition.logic));
  return compileLeafPredicate(condition);
}

function compileLeafPredicate(condition: LeafCondition): CompiledPredicate {
  checkLeaf(condition);
  const op = normalizeOperator(condition.op);
  const read = compileFieldReader(condition.field);
  if (op === 'exists') return (p) => read(p) !== MISSING;
  if (op === 'not_exists') return (p) => read(p) === MISSING;
  const test: ValueTest = buildValueTest(op, condition.value);
  return (p) => {
    const v = read(p);
    return v !== MISSING && test(v);
  };
}

function compileGroupPredicate(children: Condition[], logic: Logic): CompiledPredicate {
  const preds = children.map((c) => compilePredicate(c));
  const n = preds.length;
  if (n === 0) return () => true;
  if (n === 1) {
    const a = preds[0] as CompiledPredicate;
    return logic === 'NOT' ? (p) => !a(p) : a;
  }
  if (n === 2) {
    const a = preds[0] as CompiledPredicate;
    const b = preds[1] as CompiledPredicate;
    if (logic === 'AND') return (p) => a(p) && b(p);
    if (logic === 'OR') return (p) => a(p) || b(p);
    return (p) => !a(p) && !b(p);
  }
  if (logic === 'AND') {
    return (p) => {
      for (let i = 0; i < n; i++) if (!(preds[i] as CompiledPredicate)(p)) return false;
      return true;
    };
  }
  if (logic === 'OR') {
    return (p) => {
      for (let i = 0; i < n; i++) if ((preds[i] as CompiledPredicate)(p)) return true;
      return false;
    };
  }
  return (p) => {
    for (let i = 0; i < n; i++) if ((preds[i] as CompiledPredicate)(p)) return false;
    return true;
  };
}

// ---------------------------------------------------------------------------
// Full evaluation with references

type RefEvaluator = (payload: unknown) => LeafReference | GroupReference;

export function compileCondition(condition: Condition): CompiledCondition {
  const evaluate = compileReferences(condition);
  return (payload): ConditionOutcome => {
    const ref = evaluate(payload);
    const met = 'final_result' in ref ? ref.final_result : ref.condition_evaluated;
    return { met, references: ref };
  };
}

function compileReferences(condition: Condition): RefEvaluator {
  if (isGroupCondition(condition)) {
    const logic = normalizeLogic(condition.logic);
    const children = condition.conditions.map((c) => compileReferences(c));
    return (payload) => {
      const evaluated: Array<LeafReference | GroupReference> = [];
      let trueCount = 0;
      for (const child of children) {
        const ref = child(payload);
        evaluated.push(ref);
        if ('final_result' in ref ? ref.final_result : ref.condition_evaluated) trueCount++;
      }
      const n = children.length;
      const result = n === 0 ? true : logic === 'AND' ? trueCount === n : logic === 'OR' ? trueCount > 0 : trueCount === 0;
      return { composite_logic: logic, conditions_evaluated: evaluated, final_result: result };
    };
  }
  checkLeaf(condition);
  const field = condition.field;
  const op = normalizeOperator(condition.op);
  const expected = condition.value === undefined ? null : condition.value;
  const read = compileFieldReader(field);
  const test: ValueTest = buildValueTest(op, condition.value);
  return (payload) => {
    const v = read(payload);
    if (v === MISSING) return missingReference(field, op, expected);
    return { field, actual: v, expected, operator: op, condition_evaluated: test(v) };
  };
}

function missingReference(field: string, op: Operator, expected: unknown): LeafReference {
  return {
    field,
    actual: null,
    expected,
    operator: op,
    condition_evaluated: op === 'not_exists',
    reason: 'field missing',
  };
}

/**
 * Leaf-form outcome for a value read elsewhere (METRIC over `valuePath`):
 * `found=false` gives the "field missing" reference.
 */
export function evaluateValue(field: string, op: Operator, expected: unknown, found: boolean, actual: unknown): ConditionOutcome {
  const nop = normalizeOperator(op);
  const exp = expected === undefined ? null : expected;
  const ref: LeafReference =
    found && actual !== undefined
      ? { field, actual, expected: exp, operator: nop, condition_evaluated: buildValueTest(nop, expected)(actual) }
      : missingReference(field, nop, exp);
  return { met: ref.condition_evaluated, references: ref };
}
