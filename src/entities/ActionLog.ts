import { EntitySchema } from '@mikro-orm/core';

export type LogLevelValue = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** A log line of an execution (or of a direct API run, then executionId = apiExecutionId). */
export interface ActionLog {
  executionId: string;
  seq: number;
  cascadeId: string | null;
  ruleId: string | null;
  apiExecutionId: string | null;
  at: Date;
  level: LogLevelValue;
  message: string;
  data: unknown;
}

export const ActionLogSchema = new EntitySchema<ActionLog>({
  name: 'ActionLog',
  tableName: 'action_logs',
  properties: {
    executionId: { type: 'uuid', primary: true },
    seq: { type: 'integer', primary: true },
    cascadeId: { type: 'uuid', nullable: true },
    ruleId: { type: 'uuid', nullable: true },
    apiExecutionId: { type: 'uuid', nullable: true },
    at: { type: 'Date', columnType: 'timestamptz(3)' },
    level: { type: 'text' },
    message: { type: 'text' },
    data: { type: 'json', nullable: true },
  },
  indexes: [
    {
      name: 'action_logs_api_execution_index',
      expression: 'create index action_logs_api_execution_index on action_logs (api_execution_id, seq) where api_execution_id is not null',
    },
  ],
});
