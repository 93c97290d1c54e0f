export { SpecError } from './errors.js';
export * from './types.js';
export { validateTriggerSpec, validateConcurrency, validateThrottle, eventSpecKind, conditionOf, checkCron, checkTimezone } from './trigger.js';
export { validateActionSpec } from './action.js';
export {
  validateRuntimePolicy,
  validateHttpSpec,
  validateParamSchema,
  compileParamSchema,
  paramSchemaAjv,
  DEFAULT_RUNTIME_POLICY,
} from './api.js';
export {
  validateCondition,
  isGroup,
  isLeaf,
  normaliseOperator,
  checkRegex,
  MAX_REGEX_LENGTH,
  MAX_CONDITION_DEPTH,
} from './condition.js';
