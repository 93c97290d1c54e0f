export type { Operator, LeafCondition, Condition, CompiledCondition, CompiledPredicate } from './types.js';
export { OPERATORS, isGroupCondition } from './types.js';
export {
  compileCondition,
  compilePredicate,
  compileFieldPaths,
  readField,
  normalizeLogic,
  checkLeaf,
  evaluateValue,
} from './compile.js';
export { compareValues, toFiniteNumber, normalizeOperator, buildValueTest, buildMemberSets } from './compare.js';
export { readPath, compilePath, readCompiled, MISSING, type CompiledPath } from './path.js';
export { CompiledRuleCache } from './cache.js';
