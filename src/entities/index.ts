import { ActionLogSchema } from './ActionLog.js';
import { ApiDefinitionSchema } from './ApiDefinition.js';
import { ApiExecutionSchema } from './ApiExecution.js';
import { CascadeEventRunSchema } from './CascadeEvent.js';
import { ExecutionSchema } from './Execution.js';
import { RuleSchema } from './Rule.js';

export * from './ActionLog.js';
export * from './ApiDefinition.js';
export * from './ApiExecution.js';
export * from './CascadeEvent.js';
export * from './Execution.js';
export * from './Rule.js';

export const entities = [RuleSchema, ApiDefinitionSchema, ExecutionSchema, ApiExecutionSchema, ActionLogSchema, CascadeEventRunSchema];
