import { EntitySchema } from '@mikro-orm/core';
import type { ExecutionStatusValue } from './Execution.js';

export type CascadeEventKindValue =
  | 'RULE_STARTED'
  | 'CONDITION_EVALUATED'
  | 'ACTION_STARTED'
  | 'ACTION_FINISHED'
  | 'RULE_SKIPPED'
  | 'RULE_FINISHED'
  | 'CASCADE_FINISHED'
  | 'ACTION_RETRYING';

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

/** An event as stored inside its run: the rest of it is its run's (see CascadeEventRun). */
export interface StoredCascadeEvent {
  at: string;
  kind: CascadeEventKindValue;
  status: ExecutionStatusValue | null;
  message: string | null;
}

/**
 * How events are stored: one row per run of consecutive events of one execution (seq to
 * lastSeq). The view `cascade_events` shows them one row per event, as CascadeEvent.
 */
export interface CascadeEventRun {
  cascadeId: string;
  seq: number;
  lastSeq: number;
  executionId: string;
  ruleId: string;
  ruleName: string | null;
  depth: number;
  events: StoredCascadeEvent[];
}

export const CascadeEventRunSchema = new EntitySchema<CascadeEventRun>({
  name: 'CascadeEventRun',
  tableName: 'cascade_event_runs',
  properties: {
    cascadeId: { type: 'uuid', primary: true },
    seq: { type: 'integer', primary: true },
    lastSeq: { type: 'integer' },
    executionId: { type: 'uuid' },
    ruleId: { type: 'uuid' },
    ruleName: { type: 'text', nullable: true },
    depth: { type: 'integer' },
    events: { type: 'json', columnType: 'jsonb' },
  },
});
