import { compilePattern, PatternError } from '../conditions/regex.js';
import type { ConditionBudget } from './limits.js';
import {
  COMPARISON_OPERATORS,
  OPERATORS,
  type ComparisonOperator,
  type Condition,
  type GroupCondition,
  type LeafCondition,
  type Logic,
  type Operator,
} from './types.js';
import { checkKeys, describe, expected, expectFieldPath, expectObject, fail, indexPath, keyPath, type JsonObject } from './util.js';

/** Longest `matches` pattern accepted. */
export const MAX_REGEX_LENGTH = 256;
/** Deepest nesting of condition groups accepted (keeps evaluation off the stack limit). */
export const MAX_CONDITION_DEPTH = 64;

const LOGICS: readonly Logic[] = ['AND', 'OR', 'NOT'];
const OPERATOR_LIST = `${OPERATORS.join(', ')} (= is read as ==)`;

/** `=` -> `==`; word operators are matched case-insensitively. Undefined when unknown. */
export function normaliseOperator(op: string): Operator | undefined {
  if (op === '=') return '==';
  const lower = op.toLowerCase();
  return (OPERATORS as readonly string[]).includes(lower) ? (lower as Operator) : undefined;
}

export function expectOperator(value: unknown, path: string): Operator {
  if (typeof value !== 'string') expected(path, `an operator, one of ${OPERATOR_LIST}`, value);
  const op = normaliseOperator(value);
  if (op === undefined) fail(path, `unknown operator ${JSON.stringify(value)}; expected one of ${OPERATOR_LIST}`);
  return op;
}

export function expectComparisonOperator(value: unknown, path: string): ComparisonOperator {
  const list = `${COMPARISON_OPERATORS.join(', ')} (= is read as ==)`;
  if (typeof value !== 'string') expected(path, `a comparison operator, one of ${list}`, value);
  const op = normaliseOperator(value);
  if (op === undefined || !(COMPARISON_OPERATORS as readonly string[]).includes(op)) {
    fail(path, `unknown comparison operator ${JSON.stringify(value)}; expected one of ${list}`);
  }
  return op as ComparisonOperator;
}

function isScalarOrderable(v: unknown): boolean {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
}

/**
 * Refuses a `matches` pattern that is too long, is not valid JavaScript, or needs what a
 * linear-time engine cannot run (backreferences, lookahead, lookbehind).
 */
export function checkRegex(pattern: unknown, path: string): string {
  if (typeof pattern !== 'string') expected(path, 'a regular expression as a string', pattern);
  if (pattern.length > MAX_REGEX_LENGTH) {
    fail(path, `regular expression is ${pattern.length} characters long; at most ${MAX_REGEX_LENGTH} are allowed`);
  }
  try {
    compilePattern(pattern);
  } catch (err) {
    if (!(err instanceof PatternError)) throw err;
    if (err.kind === 'syntax') fail(path, `invalid regular expression: ${err.detail}`);
    fail(path, `regular expression refused: ${err.detail}`);
  }
  return pattern;
}

function checkValue(op: Operator, obj: JsonObject, path: string): { value?: unknown } {
  const valuePath = keyPath(path, 'value');
  const present = Object.hasOwn(obj, 'value') && obj.value !== undefined;
  const value = obj.value;
  switch (op) {
    case 'exists':
    case 'not_exists':
      if (present && value !== null) fail(valuePath, `operator ${op} takes no value; remove "value"`);
      return {};
    case '==':
    case '!=':
    case 'contains':
    case 'not_contains':
      if (!present) fail(valuePath, `required: operator ${op} needs a value`);
      return { value };
    case '>':
    case '<':
    case '>=':
    case '<=':
      if (!present) fail(valuePath, `required: operator ${op} needs a number or string`);
      if (!isScalarOrderable(value)) expected(valuePath, `a number or string for operator ${op}`, value);
      return { value };
    case 'in':
    case 'not_in':
      if (!present) fail(valuePath, `required: operator ${op} needs a list`);
      if (!Array.isArray(value)) expected(valuePath, `a list for operator ${op}`, value);
      return { value };
    case 'starts_with':
    case 'ends_with':
      if (!present) fail(valuePath, `required: operator ${op} needs a string`);
      if (typeof value !== 'string') expected(valuePath, `a string for operator ${op}`, value);
      return { value };
    case 'between': {
      const what = 'a list [low, high] of two numbers or strings for operator between';
      if (!present) fail(valuePath, `required: expected ${what}`);
      if (!Array.isArray(value) || value.length !== 2) expected(valuePath, what, value);
      const [low, high] = value as [unknown, unknown];
      if (!isScalarOrderable(low)) expected(indexPath(valuePath, 0), 'a number or string', low);
      if (!isScalarOrderable(high)) expected(indexPath(valuePath, 1), 'a number or string', high);
      if (typeof low === 'number' && typeof high === 'number' && low > high) {
        fail(valuePath, `low (${low}) is greater than high (${high})`);
      }
      return { value };
    }
    case 'matches':
      if (!present) fail(valuePath, 'required: operator matches needs a regular expression as a string');
      return { value: checkRegex(value, valuePath) };
  }
}

function validateLeaf(obj: JsonObject, path: string, extraKeys: readonly string[]): LeafCondition {
  checkKeys(obj, path, ['field', 'op', 'value', ...extraKeys]);
  if (obj.field === undefined || obj.field === null) fail(keyPath(path, 'field'), 'required: expected a dotted path into the event');
  const field = expectFieldPath(obj.field, keyPath(path, 'field'));
  if (obj.op === undefined || obj.op === null) fail(keyPath(path, 'op'), `required: expected one of ${OPERATOR_LIST}`);
  const op = expectOperator(obj.op, keyPath(path, 'op'));
  return { field, op, ...checkValue(op, obj, path) };
}

function validateGroup(obj: JsonObject, path: string, budget: ConditionBudget, depth: number, extraKeys: readonly string[]): GroupCondition {
  checkKeys(obj, path, ['conditions', 'logic', ...extraKeys]);
  let logic: Logic = 'AND';
  if (obj.logic !== undefined && obj.logic !== null) {
    const given = obj.logic;
    const found = typeof given === 'string' ? LOGICS.find((l) => l === given.toUpperCase()) : undefined;
    if (found === undefined) expected(keyPath(path, 'logic'), 'AND, OR or NOT (any case)', given);
    logic = found;
  }
  const listPath = keyPath(path, 'conditions');
  if (!Array.isArray(obj.conditions)) expected(listPath, 'a list of conditions', obj.conditions);
  if (depth >= MAX_CONDITION_DEPTH) fail(listPath, `groups are nested too deeply (at most ${MAX_CONDITION_DEPTH} levels)`);
  const conditions = obj.conditions.map((c, i) => validateCondition(c, indexPath(listPath, i), budget, depth + 1));
  return { conditions, logic };
}

/**
 * A leaf `{field, op, value}` or a group `{conditions, logic}`, normalised. Each condition is
 * counted against the trigger spec's `budget`. `extraKeys` are keys the caller handles
 * (throttle, concurrency beside a top-level condition): allowed, left out of the result.
 */
export function validateCondition(value: unknown, path: string, budget: ConditionBudget, depth = 0, extraKeys: readonly string[] = []): Condition {
  const what = 'a condition: a leaf {field, op, value} or a group {conditions, logic}';
  const obj = expectObject(value, path, what);
  budget.take(path);
  const isGroupish = 'conditions' in obj;
  const isLeafish = 'field' in obj || 'op' in obj || 'value' in obj;
  if (isGroupish && isLeafish) {
    fail(path, 'a condition is either a leaf (field, op, value) or a group (conditions, logic), not both');
  }
  if (isGroupish) return validateGroup(obj, path, budget, depth, extraKeys);
  if (isLeafish) return validateLeaf(obj, path, extraKeys);
  if ('logic' in obj) fail(keyPath(path, 'conditions'), 'required: a group needs a list of conditions');
  const keys = Object.keys(obj).filter((k) => !extraKeys.includes(k));
  if (keys.length > 0) {
    const key = keys[0] as string;
    fail(keyPath(path, key), `unknown key "${key}"; expected ${what}`);
  }
  return fail(path, `expected ${what}, got ${describe(obj)} with no condition keys`);
}
