import { ApiKeySchema } from './ApiKey.js';
import { AuditEntrySchema } from './AuditEntry.js';
import { IdempotencyKeySchema } from './IdempotencyKey.js';
import { SecretSchema } from './Secret.js';
import { ActionLogSchema } from './ActionLog.js';
import { ApiDefinitionSchema } from './ApiDefinition.js';
import { ApiExecutionSchema } from './ApiExecution.js';
import { CascadeEventRunSchema } from './CascadeEvent.js';
import { ExecutionSchema } from './Execution.js';
import { InstanceSchema } from './Instance.js';
import { RuleSchema } from './Rule.js';
import { RuleStatsSchema } from './RuleStats.js';
import { ScheduleLeaseSchema } from './ScheduleLease.js';

export * from './ActionLog.js';
export * from './ApiKey.js';
export * from './AuditEntry.js';
export * from './IdempotencyKey.js';
export * from './Secret.js';
export * from './ApiDefinition.js';
export * from './ApiExecution.js';
export * from './CascadeEvent.js';
export * from './Execution.js';
export * from './Instance.js';
export * from './Rule.js';
export * from './RuleStats.js';
export * from './ScheduleLease.js';

/** Every table, each defined once here: the ORM, the schema check and the store's SQL read them. */
export const entities = [
  RuleSchema,
  ApiDefinitionSchema,
  ExecutionSchema,
  ApiExecutionSchema,
  ActionLogSchema,
  CascadeEventRunSchema,
  InstanceSchema,
  RuleStatsSchema,
  ScheduleLeaseSchema,
  ApiKeySchema,
  SecretSchema,
  AuditEntrySchema,
  IdempotencyKeySchema,
];
