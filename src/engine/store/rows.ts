import type { ActionLog, CascadeEvent, Execution, Rule, StoredCascadeEvent } from '../../entities/index.js';
import type { ColumnTypes } from './columns.js';
import { parseOptionalTimestamp, parseTimestamp, type Sql } from './sqlClient.js';

type Row = Record<string, any>;

/** The columns of `executions` with their types, in table order. */
export const EXECUTION_COLUMNS: ColumnTypes = {
  id: 'uuid',
  rule_id: 'uuid',
  rule_name: 'text',
  status: 'text',
  condition_met: 'boolean',
  executed_by: 'text',
  payload: 'jsonb',
  action_type: 'text',
  result: 'jsonb',
  references: 'jsonb',
  error_code: 'text',
  error_message: 'text',
  skip_reason: 'text',
  duration_ms: 'integer',
  started_at: 'timestamptz',
  finished_at: 'timestamptz',
  cascade_id: 'uuid',
  parent_id: 'uuid',
  depth: 'integer',
  lock_key: 'uuid',
  instance_id: 'uuid',
};

export function toExecution(row: Row): Execution {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleName: row.rule_name ?? null,
    status: row.status,
    conditionMet: row.condition_met,
    executedBy: row.executed_by,
    payload: row.payload ?? null,
    actionType: row.action_type ?? null,
    result: row.result ?? null,
    references: row.references ?? {},
    errorCode: row.error_code ?? null,
    errorMessage: row.error_message ?? null,
    skipReason: row.skip_reason ?? null,
    durationMs: row.duration_ms ?? null,
    startedAt: parseTimestamp(row.started_at),
    finishedAt: parseOptionalTimestamp(row.finished_at),
    cascadeId: row.cascade_id,
    parentId: row.parent_id ?? null,
    depth: row.depth,
    lockKey: row.lock_key ?? null,
    instanceId: row.instance_id ?? null,
  };
}

/**
 * An execution has a finishedAt exactly when it is not RUNNING or QUEUED: the final write finds
 * unfinished rows by `finished_at IS NULL`, and readers by status. Every row the store writes
 * passes here (a CHECK constraint in the table cost every statement more; see
 * docs/decisions.md, "Writing executions").
 */
function checkFinished(e: Execution): void {
  const unfinished = e.status === 'RUNNING' || e.status === 'QUEUED';
  if (unfinished === (e.finishedAt == null)) return;
  throw new Error(`execution ${e.id} is ${e.status} with ${e.finishedAt ? 'a' : 'no'} finishedAt; it has one exactly when it is not RUNNING or QUEUED`);
}

export function fromExecution(e: Execution): Row {
  checkFinished(e);
  return {
    id: e.id,
    rule_id: e.ruleId,
    rule_name: e.ruleName,
    status: e.status,
    condition_met: e.conditionMet,
    executed_by: e.executedBy,
    payload: e.payload ?? null,
    action_type: e.actionType,
    result: e.result ?? null,
    references: e.references,
    error_code: e.errorCode,
    error_message: e.errorMessage,
    skip_reason: e.skipReason,
    duration_ms: e.durationMs,
    started_at: e.startedAt.toISOString(),
    finished_at: e.finishedAt?.toISOString() ?? null,
    cascade_id: e.cascadeId,
    parent_id: e.parentId,
    depth: e.depth,
    lock_key: e.lockKey,
    instance_id: e.instanceId,
  };
}

/**
 * The columns an execution's final write sets: what the end of a run changes. Its condition
 * result, action type and skip reason are written by its start and stay as they are (a run is
 * SKIPPED before it starts, in a row written final at once).
 */
export const EXECUTION_FINISH_COLUMNS = ['status', 'result', 'references', 'error_code', 'error_message', 'duration_ms', 'finished_at', 'lock_key'] as const;

export function toLog(row: Row): ActionLog {
  return {
    executionId: row.execution_id,
    seq: row.seq,
    cascadeId: row.cascade_id ?? null,
    ruleId: row.rule_id ?? null,
    apiExecutionId: row.api_execution_id ?? null,
    at: parseTimestamp(row.at),
    level: row.level,
    message: row.message,
    data: row.data ?? null,
  };
}

export function fromLog(l: ActionLog): Row {
  return {
    execution_id: l.executionId,
    seq: l.seq,
    cascade_id: l.cascadeId,
    rule_id: l.ruleId,
    api_execution_id: l.apiExecutionId,
    at: l.at.toISOString(),
    level: l.level,
    message: l.message,
    data: l.data ?? null,
  };
}

export function toEvent(row: Row): CascadeEvent {
  return {
    cascadeId: row.cascade_id,
    seq: row.seq,
    at: parseTimestamp(row.at),
    kind: row.kind,
    executionId: row.execution_id,
    ruleId: row.rule_id,
    ruleName: row.rule_name ?? null,
    depth: row.depth,
    status: row.status ?? null,
    message: row.message ?? null,
  };
}

/** A `cascade_event_runs` row, as its columns are named (a type, so that it is a Row). */
export type EventRunRow = {
  cascade_id: string;
  seq: number;
  last_seq: number;
  execution_id: string;
  rule_id: string;
  rule_name: string | null;
  depth: number;
  events: StoredCascadeEvent[];
};

/** The start of every insert into `cascade_event_runs`: its columns, in EventRunRow's order. */
export const INSERT_EVENT_RUN = 'INSERT INTO cascade_event_runs (cascade_id, seq, last_seq, execution_id, rule_id, rule_name, depth, events)';

/** An event as its run stores it (the rest of it is the run's). */
export const storedEvent = (e: Pick<CascadeEvent, 'at' | 'kind' | 'status' | 'message'>): StoredCascadeEvent => ({
  at: e.at.toISOString(),
  kind: e.kind,
  status: e.status,
  message: e.message,
});

/**
 * Events as they are stored: runs of consecutive seqs of one execution, in the order given (a
 * step's events are one run; see CascadeEventRun).
 */
export function eventRuns(events: readonly CascadeEvent[]): EventRunRow[] {
  const runs: EventRunRow[] = [];
  let run: EventRunRow | undefined;
  for (const e of events) {
    if (run && run.execution_id === e.executionId && run.cascade_id === e.cascadeId && run.last_seq + 1 === e.seq) {
      run.last_seq = e.seq;
      run.events.push(storedEvent(e));
      continue;
    }
    run = {
      cascade_id: e.cascadeId,
      seq: e.seq,
      last_seq: e.seq,
      execution_id: e.executionId,
      rule_id: e.ruleId,
      rule_name: e.ruleName,
      depth: e.depth,
      events: [storedEvent(e)],
    };
    runs.push(run);
  }
  return runs;
}

/** The events of a stored run (a row of `cascade_event_runs`), as the view `cascade_events` shows them. */
export function eventsOfRun(run: EventRunRow): CascadeEvent[] {
  return run.events.map((e, i) => toEvent({ ...run, ...e, seq: run.seq + i }));
}

export function toRule(row: Row): Rule {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? null,
    triggerType: row.trigger_type,
    triggerSpec: row.trigger_spec,
    actionSpec: row.action_spec,
    actionType: row.action_type,
    active: row.active,
    createdBy: row.created_by ?? null,
    createdAt: parseTimestamp(row.created_at),
    updatedAt: parseTimestamp(row.updated_at),
  };
}

/** The rule as stored now, or null when there is none. */
export async function readRule(sql: Sql, id: string): Promise<Rule | null> {
  const [row] = await sql.query('SELECT * FROM rules WHERE id = ?', [id]);
  return row ? toRule(row) : null;
}
