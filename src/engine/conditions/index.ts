export type {
  Operator,
  Logic,
  LeafCondition,
  GroupCondition,
  Condition,
  LeafReference,
  GroupReference,
  ConditionOutcome,
  CompiledCondition,
  CompiledPredicate,
} from './types.js';
export { OPERATORS, isGroupCondition, ConditionCompileError } from './types.js';
export {
  compileCondition,
  compilePredicate,
  compileFieldReader,
  compileFieldPaths,
  readField,
  normalizeLogic,
  checkLeaf,
  evaluateValue,
} from './compile.js';
export { compareValues, valuesEqual, compareOrder, toFiniteNumber, jsonEqual, normalizeOperator, buildValueTest, buildMemberSets } from './compare.js';
export { readPath, compilePath, readCompiled, MISSING, type CompiledPath } from './path.js';
export { CompiledRuleCache } from './cache.js';
