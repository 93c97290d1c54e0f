import { EntitySchema } from '@mikro-orm/core';
import type { ExecutionStatusValue } from './Execution.js';

/** One run of one API definition, direct (executeApi) or from a rule's api_script action. */
export interface ApiExecution {
  id: string;
  apiId: string;
  status: ExecutionStatusValue;
  params: unknown;
  input: unknown;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  durationMs: number | null;
  executedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  /** The rule execution that ran it, when run by an api_script action. */
  executionId: string | null;
  ruleId: string | null;
  cascadeId: string | null;
}

export const ApiExecutionSchema = new EntitySchema<ApiExecution>({
  name: 'ApiExecution',
  tableName: 'api_executions',
  properties: {
    id: { type: 'uuid', primary: true },
    apiId: { type: 'uuid' },
    status: { type: 'text' },
    params: { type: 'json', nullable: true },
    input: { type: 'json', nullable: true },
    output: { type: 'json', nullable: true },
    errorCode: { type: 'text', nullable: true },
    errorMessage: { type: 'text', nullable: true },
    durationMs: { type: 'integer', nullable: true },
    executedBy: { type: 'text' },
    startedAt: { type: 'Date', columnType: 'timestamptz(3)' },
    finishedAt: { type: 'Date', columnType: 'timestamptz(3)', nullable: true },
    executionId: { type: 'uuid', nullable: true },
    ruleId: { type: 'uuid', nullable: true },
    cascadeId: { type: 'uuid', nullable: true },
  },
  // Written as SQL: the ORM's index options have no descending columns nor partial indexes.
  indexes: [
    {
      name: 'api_executions_api_started_index',
      expression: 'create index api_executions_api_started_index on api_executions (api_id, started_at desc, id desc)',
    },
    {
      name: 'api_executions_execution_index',
      expression: 'create index api_executions_execution_index on api_executions (execution_id) where execution_id is not null',
    },
    // What retention reads direct API runs (of executeApi) by.
    { name: 'api_executions_started_index', expression: 'create index api_executions_started_index on api_executions (started_at) where execution_id is null' },
  ],
});
