import { expectComparisonOperator, validateCondition } from './condition.js';
import type { ConditionBudget } from './limits.js';
import type { AbsenceSpec, AggregateDef, AggregateFn, SequenceSpec, WindowDef, WindowSpec, WindowType } from './types.js';
import {
  checkKeys,
  expectEnum,
  expectFieldPath,
  expectFiniteNumber,
  expectObject,
  expectPositiveNumber,
  expectStringList,
  expected,
  fail,
  indexPath,
  keyPath,
  optional,
  required,
  type JsonObject,
} from './util.js';

const WINDOW_TYPES: readonly WindowType[] = ['tumbling', 'sliding', 'session'];
const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'avg', 'min', 'max', 'std', 'percentile'];

/** Keys that mark each stream form at the top level of an EVENT triggerSpec. */
export const WINDOW_KEYS = ['filter', 'window', 'aggregate', 'groupBy', 'op', 'value', 'timeField', 'allowedLatenessSeconds'] as const;
export const SEQUENCE_KEYS = ['sequence', 'within', 'by', 'timeField'] as const;
export const ABSENCE_KEYS = ['absence', 'timeField'] as const;

function timeField(obj: JsonObject, path: string): { timeField?: string } {
  const v = optional(obj, 'timeField');
  return v === undefined ? {} : { timeField: expectFieldPath(v, keyPath(path, 'timeField')) };
}

function groupKeys(obj: JsonObject, key: string, path: string): string[] {
  const v = optional(obj, key);
  if (v === undefined) return [];
  return expectStringList(v, keyPath(path, key), 'a list of field paths');
}

function validateWindowDef(value: unknown, path: string): WindowDef {
  const obj = expectObject(value, path, 'a window {type, sizeSeconds} or {type: "session", gapSeconds}');
  checkKeys(obj, path, ['type', 'sizeSeconds', 'gapSeconds']);
  const type = expectEnum(required(obj, 'type', path, WINDOW_TYPES.join(', ')), keyPath(path, 'type'), WINDOW_TYPES);
  const size = optional(obj, 'sizeSeconds');
  const gap = optional(obj, 'gapSeconds');
  if (type === 'session') {
    if (size !== undefined) fail(keyPath(path, 'sizeSeconds'), 'a session window has no sizeSeconds; use gapSeconds');
    const gapSeconds = expectPositiveNumber(required(obj, 'gapSeconds', path, 'a number of seconds greater than 0'), keyPath(path, 'gapSeconds'));
    return { type, gapSeconds };
  }
  if (gap !== undefined) fail(keyPath(path, 'gapSeconds'), `a ${type} window has no gapSeconds; use sizeSeconds`);
  const sizeSeconds = expectPositiveNumber(required(obj, 'sizeSeconds', path, 'a number of seconds greater than 0'), keyPath(path, 'sizeSeconds'));
  return { type, sizeSeconds };
}

function validateAggregate(value: unknown, path: string): AggregateDef {
  const obj = expectObject(value, path, 'an aggregate {fn, field}');
  checkKeys(obj, path, ['fn', 'field', 'percentile']);
  const fn = expectEnum(required(obj, 'fn', path, AGGREGATE_FNS.join(', ')), keyPath(path, 'fn'), AGGREGATE_FNS);
  const out: AggregateDef = { fn };
  const field = optional(obj, 'field');
  if (field === undefined) {
    if (fn !== 'count') fail(keyPath(path, 'field'), `required: aggregate ${fn} needs the field to aggregate`);
  } else {
    out.field = expectFieldPath(field, keyPath(path, 'field'));
  }
  const percentile = optional(obj, 'percentile');
  if (fn === 'percentile') {
    const p = expectFiniteNumber(required(obj, 'percentile', path, 'a number from 0 to 100'), keyPath(path, 'percentile'), 'a number from 0 to 100');
    if (p < 0 || p > 100) expected(keyPath(path, 'percentile'), 'a number from 0 to 100', p);
    out.percentile = p;
  } else if (percentile !== undefined) {
    fail(keyPath(path, 'percentile'), `percentile applies only to fn percentile, not ${fn}`);
  }
  return out;
}

export function validateWindowSpec(obj: JsonObject, path: string, budget: ConditionBudget): WindowSpec {
  const filterValue = optional(obj, 'filter');
  const filter = filterValue === undefined ? undefined : validateCondition(filterValue, keyPath(path, 'filter'), budget);
  const window = validateWindowDef(required(obj, 'window', path, 'a window {type, sizeSeconds | gapSeconds}'), keyPath(path, 'window'));
  const aggregate = validateAggregate(required(obj, 'aggregate', path, 'an aggregate {fn, field}'), keyPath(path, 'aggregate'));
  const groupBy = groupKeys(obj, 'groupBy', path);
  const op = expectComparisonOperator(required(obj, 'op', path, 'a comparison operator (> < >= <= == !=)'), keyPath(path, 'op'));
  const value = expectFiniteNumber(required(obj, 'value', path, 'the number to compare the aggregate with'), keyPath(path, 'value'));
  const lateness = optional(obj, 'allowedLatenessSeconds');
  let allowedLatenessSeconds = 0;
  if (lateness !== undefined) {
    allowedLatenessSeconds = expectFiniteNumber(lateness, keyPath(path, 'allowedLatenessSeconds'), 'a number of seconds, 0 or more');
    if (allowedLatenessSeconds < 0) expected(keyPath(path, 'allowedLatenessSeconds'), 'a number of seconds, 0 or more', lateness);
  }
  return {
    ...(filter === undefined ? {} : { filter }),
    window,
    aggregate,
    groupBy,
    op,
    value,
    ...timeField(obj, path),
    allowedLatenessSeconds,
  };
}

export function validateSequenceSpec(obj: JsonObject, path: string, budget: ConditionBudget): SequenceSpec {
  const listPath = keyPath(path, 'sequence');
  const list = obj.sequence;
  if (!Array.isArray(list)) expected(listPath, 'a list of at least 2 conditions', list);
  if (list.length < 2) fail(listPath, `a sequence needs at least 2 steps, got ${list.length}`);
  const sequence = list.map((c, i) => validateCondition(c, indexPath(listPath, i), budget));
  const within = expectPositiveNumber(required(obj, 'within', path, 'a number of seconds greater than 0'), keyPath(path, 'within'));
  return { sequence, within, by: groupKeys(obj, 'by', path), ...timeField(obj, path) };
}

export function validateAbsenceSpec(obj: JsonObject, path: string, budget: ConditionBudget): AbsenceSpec {
  const absPath = keyPath(path, 'absence');
  const abs = expectObject(obj.absence, absPath, 'an absence {after, expect, within, by}');
  checkKeys(abs, absPath, ['after', 'expect', 'within', 'by']);
  const after = validateCondition(required(abs, 'after', absPath, 'a condition'), keyPath(absPath, 'after'), budget);
  const expect = validateCondition(required(abs, 'expect', absPath, 'a condition'), keyPath(absPath, 'expect'), budget);
  const within = expectPositiveNumber(required(abs, 'within', absPath, 'a number of seconds greater than 0'), keyPath(absPath, 'within'));
  return { absence: { after, expect, within, by: groupKeys(abs, 'by', absPath) }, ...timeField(obj, path) };
}
