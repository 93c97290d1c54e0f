import { EntitySchema } from '@mikro-orm/core';
import type { ExecutionStatusValue } from './Execution.js';

export type CascadeEventKindValue =
  | 'RULE_STARTED'
  | 'CONDITION_EVALUATED'
  | 'ACTION_STARTED'
  | 'ACTION_FINISHED'
  | 'RULE_SKIPPED'
  | 'RULE_FINISHED'
  | 'CASCADE_FINISHED';

/** One step of a cascade; (cascadeId, seq) is unique and seq has no gaps. */
export interface CascadeEvent {
  cascadeId: string;
  seq: number;
  at: Date;
  kind: CascadeEventKindValue;
  executionId: string;
  ruleId: string;
  ruleName: string | null;
  depth: number;
  status: ExecutionStatusValue | null;
  message: string | null;
}

export const CascadeEventSchema = new EntitySchema<CascadeEvent>({
  name: 'CascadeEvent',
  tableName: 'cascade_events',
  properties: {
    cascadeId: { type: 'uuid', primary: true },
    seq: { type: 'integer', primary: true },
    at: { type: 'Date', columnType: 'timestamptz(3)' },
    kind: { type: 'text' },
    executionId: { type: 'uuid' },
    ruleId: { type: 'uuid' },
    ruleName: { type: 'text', nullable: true },
    depth: { type: 'integer' },
    status: { type: 'text', nullable: true },
    message: { type: 'text', nullable: true },
  },
});
