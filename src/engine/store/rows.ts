import {
  ActionLogSchema,
  CascadeEventRunSchema,
  ExecutionSchema,
  RuleSchema,
  type ActionLog,
  type CascadeEvent,
  type Execution,
  type Rule,
  type StoredCascadeEvent,
} from '../../entities/index.js';
import { columnList, type ColumnTypes } from './columns.js';
import { entityTable } from './entityTable.js';
import { parseTimestamp } from './sqlClient.js';

// biome-ignore lint/suspicious/noExplicitAny: a row as the driver returns it; the mappers give it its type
type Row = Record<string, any>;

const EXECUTIONS = entityTable(ExecutionSchema);

/** The columns of `executions` with their types, in table order. */
export const EXECUTION_COLUMNS: ColumnTypes = EXECUTIONS.columns;

export const toExecution = (row: Row): Execution => EXECUTIONS.toEntity(row);

/**
 * An execution has a finishedAt exactly when it is not RUNNING, QUEUED or RETRYING: the final write finds
 * unfinished rows by `finished_at IS NULL`, and readers by status. Every row the store writes
 * passes here (a CHECK constraint in the table cost every statement more; see
 * docs/decisions.md, "Writing executions").
 */
function checkFinished(e: Execution): void {
  const unfinished = e.status === 'RUNNING' || e.status === 'QUEUED' || e.status === 'RETRYING';
  if (unfinished === (e.finishedAt == null)) return;
  throw new Error(
    `execution ${e.id} is ${e.status} with ${e.finishedAt ? 'a' : 'no'} finishedAt; it has one exactly when it is not RUNNING, QUEUED or RETRYING`,
  );
}

export function fromExecution(e: Execution): Row {
  checkFinished(e);
  return EXECUTIONS.toRow(e);
}

/**
 * The columns an execution's final write sets: what the end of a run (or of one webhook attempt)
 * changes. Its condition result, action type and skip reason are written by its start and stay
 * as they are (a run is SKIPPED before it starts, in a row written final at once).
 */
export const EXECUTION_FINISH_COLUMNS = [
  'status',
  'result',
  'references',
  'error_code',
  'error_message',
  'duration_ms',
  'finished_at',
  'lock_key',
  'attempts',
  'next_attempt_at',
  'delivery',
  'attempt_owner',
] as const;

/** What a batch's final write sends of each row (as JSON): its id and the columns it sets. */
export const EXECUTION_FINISH_ROW = ['id', ...EXECUTION_FINISH_COLUMNS];

const ACTION_LOGS = entityTable(ActionLogSchema);

/** The columns of `action_logs` with their types, in table order. */
export const ACTION_LOG_COLUMNS: ColumnTypes = ACTION_LOGS.columns;

export const toLog = (row: Row): ActionLog => ACTION_LOGS.toEntity(row);

export const fromLog = (l: ActionLog): Row => ACTION_LOGS.toRow(l);

/** A row of the view `cascade_events` (defined by its migration; see CascadeEventRun). */
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

/** The columns of `cascade_event_runs` with their types, in table order (EventRunRow's). */
export const EVENT_RUN_COLUMNS: ColumnTypes = entityTable(CascadeEventRunSchema).columns;

/** The start of every insert into `cascade_event_runs`: its columns, in EventRunRow's order. */
export const INSERT_EVENT_RUN = `INSERT INTO cascade_event_runs (${columnList(EVENT_RUN_COLUMNS)})`;

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

const RULES = entityTable(RuleSchema);

export const toRule = (row: Row): Rule => RULES.toEntity(row);
