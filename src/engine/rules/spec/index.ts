export { SpecError } from './errors.js';
export * from './types.js';
export { validateTriggerSpec, eventSpecKind, conditionOf } from './trigger.js';
export { validateActionSpec } from './action.js';
export { validateRuntimePolicy, validateHttpSpec, validateParamSchema, compileParamSchema } from './api.js';
export { badTextReason } from './text.js';
