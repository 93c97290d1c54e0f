import { EntitySchema } from '@mikro-orm/core';
import type { ActionTypeValue } from './Rule.js';

export type ExecutionStatusValue = 'RUNNING' | 'QUEUED' | 'RETRYING' | 'SUCCESS' | 'FAILED' | 'SKIPPED' | 'NOT_MATCHED';

/** One webhook attempt (SPEC.md, 'Delivery'). */
export interface DeliveryAttempt {
  /** From 1. */
  number: number;
  /** ISO 8601: the attempts travel as one JSON column. */
  at: string;
  durationMs: number;
  /** Null when no answer came. */
  httpStatus: number | null;
  /** Null when the attempt succeeded. */
  errorCode: string | null;
  message: string | null;
}

/**
 * What a webhook execution needs to send its next attempt from any instance, kept on its row
 * while an attempt may follow (never shown): the action spec it runs, templates unrendered so
 * that secrets are read afresh, and the payload it renders with where the row shows another.
 */
export interface DeliveryPlan {
  spec: object;
  payload?: unknown;
}

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
  /** Webhook executions: every attempt, first first. */
  attempts: DeliveryAttempt[] | null;
  /** Set while RETRYING: when the next attempt is due. */
  nextAttemptAt: Date | null;
  /** The execution this one redelivers. */
  redeliveryOf: string | null;
  /** The `webhook-id` it sends when it is not its own id (a redelivery sends its original's). */
  webhookId: string | null;
  /** Set while another attempt may follow (a webhook with a retry policy). */
  delivery: DeliveryPlan | null;
  /** The instance sending its current attempt (RETRYING rows); null between attempts. */
  attemptOwner: string | null;
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
    attempts: { type: 'json', nullable: true },
    nextAttemptAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    redeliveryOf: { type: 'uuid', nullable: true },
    webhookId: { type: 'uuid', nullable: true },
    delivery: { type: 'json', nullable: true },
    attemptOwner: { type: 'uuid', nullable: true },
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
    // Due webhook attempts, oldest first.
    { name: 'executions_retrying_index', expression: `create index executions_retrying_index on executions (next_attempt_at) where status = 'RETRYING'` },
    {
      name: 'executions_attempt_owner_index',
      expression: 'create index executions_attempt_owner_index on executions (attempt_owner) where attempt_owner is not null',
    },
    {
      name: 'executions_redelivery_of_index',
      expression: 'create index executions_redelivery_of_index on executions (redelivery_of) where redelivery_of is not null',
    },
  ],
  // One run per rule at a time: the lock is a row, so it holds across instances and on PGlite alike.
  uniques: [
    { name: 'executions_lock_key_unique', expression: 'create unique index executions_lock_key_unique on executions (lock_key) where lock_key is not null' },
  ],
});
