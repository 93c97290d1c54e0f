import { EntitySchema } from '@mikro-orm/core';
import type { ActionTypeValue } from './Rule.js';

export type ExecutionStatusValue = 'RUNNING' | 'QUEUED' | 'SUCCESS' | 'FAILED' | 'SKIPPED' | 'NOT_MATCHED';

/** One run of one rule. `ruleId` has no foreign key: history outlives the rule. */
export interface Execution {
  id: string;
  ruleId: string;
  ruleName: string | null;
  status: ExecutionStatusValue;
  conditionMet: boolean;
  executedBy: string;
  payload: unknown;
  actionType: ActionTypeValue | null;
  result: unknown;
  references: Record<string, unknown>;
  errorCode: string | null;
  errorMessage: string | null;
  skipReason: string | null;
  durationMs: number | null;
  startedAt: Date;
  finishedAt: Date | null;
  cascadeId: string;
  parentId: string | null;
  depth: number;
  /** The rule id while this run holds the rule's one-at-a-time lock; unique among non-null values. */
  lockKey: string | null;
  /** The service instance running it, so a stale instance's rows can be swept. */
  instanceId: string | null;
}

export const ExecutionSchema = new EntitySchema<Execution>({
  name: 'Execution',
  tableName: 'executions',
  properties: {
    id: { type: 'uuid', primary: true },
    ruleId: { type: 'uuid' },
    ruleName: { type: 'text', nullable: true },
    status: { type: 'text' },
    conditionMet: { type: 'boolean' },
    executedBy: { type: 'text' },
    payload: { type: 'json', nullable: true },
    actionType: { type: 'text', nullable: true },
    result: { type: 'json', nullable: true },
    references: { type: 'json', defaultRaw: `'{}'` },
    errorCode: { type: 'text', nullable: true },
    errorMessage: { type: 'text', nullable: true },
    skipReason: { type: 'text', nullable: true },
    durationMs: { type: 'integer', nullable: true },
    startedAt: { type: 'Date', columnType: 'timestamptz(3)' },
    finishedAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    cascadeId: { type: 'uuid' },
    parentId: { type: 'uuid', nullable: true },
    depth: { type: 'integer', default: 0 },
    lockKey: { type: 'uuid', nullable: true },
    instanceId: { type: 'uuid', nullable: true },
  },
  // Written as SQL: the ORM's index options have no descending columns nor partial indexes.
  indexes: [
    { name: 'executions_started_at_id_index', expression: 'create index executions_started_at_id_index on executions (started_at desc, id desc)' },
    { name: 'executions_rule_started_index', expression: 'create index executions_rule_started_index on executions (rule_id, started_at desc, id desc)' },
    { name: 'executions_cascade_index', properties: ['cascadeId', 'startedAt', 'id'] },
    { name: 'executions_parent_index', expression: 'create index executions_parent_index on executions (parent_id) where parent_id is not null' },
    {
      name: 'executions_unfinished_index',
      expression: `create index executions_unfinished_index on executions (instance_id, status) where status in ('RUNNING', 'QUEUED')`,
    },
    // The queue of QUEUED runs, read per rule in start order.
    { name: 'executions_queued_index', expression: `create index executions_queued_index on executions (rule_id, started_at, id) where status = 'QUEUED'` },
  ],
  // One run per rule at a time: the lock is a row, so it holds across instances and on PGlite alike.
  uniques: [
    { name: 'executions_lock_key_unique', expression: 'create unique index executions_lock_key_unique on executions (lock_key) where lock_key is not null' },
  ],
});
