/**
 * Condition tree types (EVENT conditions, SPEC.md "EVENT conditions").
 * Inputs are assumed already validated and normalised by the spec module
 * (`logic` upper-case, `=` normalised to `==`); the compiler still tolerates
 * `=` and lower-case logic defensively.
 */
// One grammar: the spec module owns the condition types; the compiler works on them.
import type { Condition, GroupCondition, Logic, Operator } from '../spec/types.js';
export { OPERATORS } from '../spec/types.js';
export type { Condition, GroupCondition, LeafCondition, Logic, Operator } from '../spec/types.js';

export function isGroupCondition(condition: Condition): condition is GroupCondition {
  return Array.isArray((condition as Partial<GroupCondition>).conditions);
}

/** Reference written for a leaf (SPEC.md "References"). */
// Type aliases, not interfaces: a reference is also a plain Record<string, unknown> (references).
export type LeafReference = {
  field: string;
  actual: unknown;
  expected: unknown;
  operator: Operator;
  condition_evaluated: boolean;
  reason?: 'field missing';
};

/** Reference written for a group (SPEC.md "References"). */
export type GroupReference = {
  composite_logic: Logic;
  conditions_evaluated: Array<LeafReference | GroupReference>;
  final_result: boolean;
};

export interface ConditionOutcome {
  met: boolean;
  references: Record<string, unknown>;
}

/** Full evaluation, with references (used when a rule fires / is simulated). */
export type CompiledCondition = (payload: unknown) => ConditionOutcome;

/** Hot-path evaluation: only the boolean, no allocation. */
export type CompiledPredicate = (payload: unknown) => boolean;

/** Thrown at compile time for a condition the validator should have refused. */
export class ConditionCompileError extends Error {
  override readonly name = 'ConditionCompileError';
}
