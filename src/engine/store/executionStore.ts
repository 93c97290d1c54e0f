import type { ActionLog, CascadeEvent, DeliveryPlan, Execution, ExecutionStatusValue } from '../../entities/index.js';
import { columnList, pickColumns, pickTypes, rowValues, setColumnsFrom, setValues, uuidArray, valuesRow, type ColumnTypes } from './columns.js';
import {
  ACTION_LOG_COLUMNS,
  EVENT_RUN_COLUMNS,
  EXECUTION_COLUMNS,
  EXECUTION_FINISH_COLUMNS,
  EXECUTION_FINISH_ROW,
  INSERT_EVENT_RUN,
  eventRuns,
  fromExecution,
  fromLog,
  toEvent,
  toExecution,
  toLog,
  type EventRunRow,
} from './rows.js';
import { WriteBatcher } from './batcher.js';
import type { Sql } from './sqlClient.js';
import { storableJsonText } from '../../shared/storable.js';

/** Cascade events and log lines written in the same statement as an execution row. */
export interface Attachments {
  events: CascadeEvent[];
  logs: ActionLog[];
  /** NOTIFY payloads sent on commit when the row was written (see EventBus.encodeForWrite). */
  notify?: string[];
}

/** The channel this store's writes NOTIFY on; a bus riding on the database listens there. */
export const NOTIFY_CHANNEL = 'cepheus_bus';

/** Log lines written with their NOTIFYs (parameters: the lines as JSON, the payloads); names lg and nt. */
export const APPEND_LOGS = `
  lg AS (INSERT INTO action_logs SELECT * FROM jsonb_populate_recordset(null::action_logs, ?::jsonb) RETURNING 1),
  nt AS (SELECT pg_notify('${NOTIFY_CHANNEL}', x) FROM unnest(?::text[]) AS x)`;

/**
 * How a batch's event runs or log lines travel: none (0), one bound parameter per field of each
 * (a count: a step of one row with a few of them), or one JSON document (a batch of rows, or
 * many lines).
 */
type Carriage = number | 'json';

/** The most log lines a step of one row sends as bound parameters. */
const MAX_BOUND_LOGS = 8;
/** The most event runs a step of one row sends as bound parameters (a step's events are one run). */
const MAX_BOUND_RUNS = 1;

const carriage = (count: number, oneRow: boolean, max: number): Carriage => (count === 0 ? 0 : oneRow && count <= max ? count : 'json');

/**
 * What a batch of steps carries besides its rows. Its statement holds only those parts: an empty
 * part would still cost its plan nodes at every execution.
 */
interface Shape {
  events: Carriage;
  logs: Carriage;
  notify: boolean;
}

/** An event run's own fields, bound or sent in this order (its cascade, rule, rule name and depth are its row's). */
const RUN_FIELDS = pickTypes(EVENT_RUN_COLUMNS, ['seq', 'last_seq', 'events']);
/** A log line's own fields, bound in this order (its execution, cascade and rule are its row's). */
const LOG_FIELDS = pickTypes(ACTION_LOG_COLUMNS, ['seq', 'api_execution_id', 'at', 'level', 'message', 'data']);

/** `(VALUES (?::t1, …), …) AS x("c1", …)`: `count` rows of bound `fields`. */
const boundRows = (fields: ColumnTypes, count: number) => `(VALUES ${Array(count).fill(valuesRow(fields)).join(', ')}) AS x(${columnList(fields)})`;

// The rows of a step's event runs and log lines. Bound ones belong to the statement's one row
// (`g`: the row written, or none); those of a JSON document name their row and are joined to it.
const eventRows = (guard: string, runs: Carriage) =>
  runs === 'json'
    ? `SELECT g.cascade_id, (x->>1)::int, (x->>2)::int, g.id, g.rule_id, g.rule_name, g.depth, x->3
    FROM jsonb_array_elements(?::jsonb) AS x JOIN ${guard} g ON g.id = (x->>0)::uuid`
    : `SELECT g.cascade_id, x.seq, x.last_seq, g.id, g.rule_id, g.rule_name, g.depth, x.events
    FROM ${boundRows(RUN_FIELDS, runs)} CROSS JOIN ${guard} g`;

const logRows = (guard: string, logs: Carriage) =>
  logs === 'json'
    ? `SELECT l.execution_id, l.seq, l.cascade_id, l.rule_id, l.api_execution_id, l.at, l.level, l.message, l.data
    FROM jsonb_populate_recordset(null::action_logs, ?::jsonb) l WHERE l.execution_id IN (SELECT id FROM ${guard})`
    : `SELECT g.id, x.seq, g.cascade_id, g.rule_id, x.api_execution_id, x.at, x.level, x.message, x.data
    FROM ${boundRows(LOG_FIELDS, logs)} CROSS JOIN ${guard} g`;

// A step's events, log lines and NOTIFYs are written only with the row they belong to (`guard`:
// the rows the statement wrote).
const attach = (guard: string, shape: Shape) =>
  [
    shape.notify &&
      `nt AS (
    SELECT pg_notify('${NOTIFY_CHANNEL}', n.payload) FROM unnest(?::text[], ?::uuid[]) AS n(payload, id) WHERE n.id IN (SELECT id FROM ${guard})
  )`,
    shape.events !== 0 &&
      `ev AS (
    ${INSERT_EVENT_RUN}
    ${eventRows(guard, shape.events)}
  )`,
    shape.logs !== 0 &&
      `lg AS (
    INSERT INTO action_logs (${columnList(ACTION_LOG_COLUMNS)})
    ${logRows(guard, shape.logs)}
  )`,
  ]
    .filter(Boolean)
    .map((part) => `,\n  ${part}`)
    .join('');

const FINISHED_COLUMNS = pickTypes(EXECUTION_COLUMNS, EXECUTION_FINISH_COLUMNS);
const RETURNED = 'id, cascade_id, rule_id, rule_name, depth';

// The rows a step statement writes, named `ins` or `upd`. A batch's rows commit with their
// events, log lines and NOTIFYs, or (lock taken, row already finished) none of them do. One row
// is sent as one parameter per column (see columns.ts); several, as a JSON document.
// Rows being finished are named by id (`e.id = ?`, or `= ANY(?)` besides the join for a batch),
// so that the cached plan probes the primary key, not a scan kept from when the table was small
// (see docs/decisions.md, "Writing executions"). A RETRYING row's later attempts are written by
// the delivery store, under its claim. "Not finished" is `finished_at IS NULL`, the
// same as RUNNING or QUEUED (every row written passes fromExecution, which says so), which no
// index covers, so the planner is not drawn to the partial index of unfinished rows either.
const WRITES = {
  startOne: `ins AS (
  INSERT INTO executions (${columnList(EXECUTION_COLUMNS)}) VALUES ${valuesRow(EXECUTION_COLUMNS)}
  ON CONFLICT (lock_key) WHERE lock_key IS NOT NULL DO NOTHING
  RETURNING ${RETURNED}
)`,
  startMany: `ins AS (
  INSERT INTO executions SELECT * FROM jsonb_populate_recordset(null::executions, ?::jsonb)
  ON CONFLICT (lock_key) WHERE lock_key IS NOT NULL DO NOTHING
  RETURNING ${RETURNED}
)`,
  finishOne: `upd AS (
  UPDATE executions e SET ${setValues(FINISHED_COLUMNS)}
  WHERE e.id = ?::uuid AND e.finished_at IS NULL AND e.status <> 'RETRYING'
  RETURNING ${RETURNED}
)`,
  finishMany: `upd AS (
  UPDATE executions e SET ${setColumnsFrom(EXECUTION_FINISH_COLUMNS, 'r')}
  FROM jsonb_populate_recordset(null::executions, ?::jsonb) r
  WHERE e.id = r.id AND e.id = ANY(?::uuid[]) AND e.finished_at IS NULL AND e.status <> 'RETRYING'
  RETURNING e.id, e.cascade_id, e.rule_id, e.rule_name, e.depth
)`,
};

type StepKind = keyof typeof WRITES;

const statements = new Map<string, string>();

/** The step statement for `kind` and `shape`, built once. */
function stepStatement(kind: StepKind, shape: Shape): string {
  const key = `${kind}:${shape.events}:${shape.logs}:${+shape.notify}`;
  let text = statements.get(key);
  if (!text) {
    const guard = kind.startsWith('start') ? 'ins' : 'upd';
    text = `WITH ${WRITES[kind]}${attach(guard, shape)}\nSELECT id${shape.notify ? ', (SELECT count(*) FROM nt)::int AS notified' : ''} FROM ${guard}`;
    statements.set(key, text);
  }
  return text;
}

export interface Step {
  execution: Execution;
  attached: Attachments;
}

/** A JSON document parameter; text PostgreSQL cannot store is replaced (see shared/storable.ts). */
const json = storableJsonText;

/** An event run in a JSON document: the execution it belongs to, then its own fields. */
const runTuple = (run: EventRunRow) => [run.execution_id, run.seq, run.last_seq, run.events];

export interface ExecutionFilter {
  ruleId?: string | null;
  cascadeId?: string | null;
  status?: ExecutionStatusValue | null;
}

export interface ExecutionPageQuery extends ExecutionFilter {
  limit: number;
  after: { at: Date; id: string } | null;
}

/** The parameters of a step statement's write, in the order of its text. */
function writeParams(kind: StepKind, steps: Step[]): unknown[] {
  const rows = steps.map((s) => fromExecution(s.execution));
  switch (kind) {
    case 'startOne':
      return rowValues(rows[0]!, EXECUTION_COLUMNS);
    case 'startMany':
      return [json(rows)];
    case 'finishOne':
      return [...rowValues(rows[0]!, FINISHED_COLUMNS), steps[0]!.execution.id];
    case 'finishMany':
      return [json(rows.map((row) => pickColumns(row, EXECUTION_FINISH_ROW))), uuidArray(steps.map((s) => s.execution.id))];
  }
}

/** Writes a batch of steps in one statement; answers, per step, whether its row was written. */
async function writeSteps(sql: Sql, kind: 'start' | 'finish', steps: Step[]): Promise<boolean[]> {
  const notify: string[] = [];
  const notifyIds: string[] = [];
  const events: CascadeEvent[] = [];
  const logs: ActionLog[] = [];
  for (const { execution, attached } of steps) {
    for (const payload of attached.notify ?? []) {
      notify.push(payload);
      notifyIds.push(execution.id);
    }
    events.push(...attached.events);
    logs.push(...attached.logs);
  }
  const oneRow = steps.length === 1;
  const write: StepKind = `${kind}${oneRow ? 'One' : 'Many'}`;
  const params = writeParams(write, steps);
  const runs = eventRuns(events);
  const shape: Shape = {
    events: carriage(runs.length, oneRow, MAX_BOUND_RUNS),
    logs: carriage(logs.length, oneRow, MAX_BOUND_LOGS),
    notify: notify.length > 0,
  };
  if (shape.notify) params.push(notify, notifyIds);
  if (shape.events === 'json') params.push(json(runs.map(runTuple)));
  else for (const run of runs) params.push(...rowValues(run, RUN_FIELDS));
  if (shape.logs === 'json') params.push(json(logs.map(fromLog)));
  else for (const l of logs) params.push(...rowValues(fromLog(l), LOG_FIELDS));
  const statement = stepStatement(write, shape);
  const written = new Set((await sql.query<{ id: string }>(statement, params)).map((r) => r.id));
  return steps.map((s) => written.has(s.execution.id));
}

/** The execution filters and the columns they compare. */
const FILTER_COLUMNS = [
  ['ruleId', 'rule_id'],
  ['cascadeId', 'cascade_id'],
  ['status', 'status'],
] as const satisfies readonly (readonly [keyof ExecutionFilter, string])[];

export class ExecutionStore {
  // Starts go one statement at a time (two batches taking the same locks in another order could
  // deadlock); finishes touch only their own rows and may overlap.
  private readonly starts = new WriteBatcher<Step, boolean>((steps) => writeSteps(this.sql, 'start', steps), 1);
  private readonly finishes = new WriteBatcher<Step, boolean>((steps) => writeSteps(this.sql, 'finish', steps), 2);

  constructor(private readonly sql: Sql) {}

  /**
   * Inserts the row with its events and logs. When the row carries a lock key that another row
   * holds, nothing is written and the answer is false.
   */
  tryInsert(execution: Execution, attached: Attachments): Promise<boolean> {
    return this.starts.submit({ execution, attached });
  }

  /**
   * Writes the final state of rows still RUNNING or QUEUED, together in one statement; per row,
   * false when it was already finished (swept).
   */
  finishAll(steps: Step[]): Promise<boolean[]> {
    return this.finishes.submitAll(steps);
  }

  /**
   * A QUEUED row, written only while the rule has fewer than `maxQueued` waiting. The rule's row
   * is locked for the two statements, so instances queueing the same rule count one after another.
   */
  async insertQueued(execution: Execution, maxQueued: number): Promise<boolean> {
    return this.sql.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM rules WHERE id = ? FOR UPDATE', [execution.ruleId]);
      const rows = await tx.query(
        `INSERT INTO executions SELECT * FROM jsonb_populate_record(null::executions, ?::jsonb)
         WHERE (SELECT count(*) FROM executions WHERE rule_id = ? AND status = 'QUEUED') < ?
         RETURNING id`,
        [json(fromExecution(execution)), execution.ruleId, maxQueued],
      );
      return rows.length > 0;
    });
  }

  /**
   * Turns the rule's oldest QUEUED row into its RUNNING holder, or answers null when there is
   * none or the lock is held (the unique index refuses a second holder).
   */
  async promoteQueued(ruleId: string, instanceId: string, now: Date, delivery: DeliveryPlan | null = null): Promise<Execution | null> {
    const plan = delivery === null ? null : json(delivery);
    try {
      const [row] = await this.sql.query(
        `UPDATE executions SET status = 'RUNNING', lock_key = rule_id, instance_id = ?, started_at = ?::timestamptz,
           delivery = CASE WHEN condition_met THEN ?::jsonb END,
           attempt_owner = CASE WHEN condition_met AND ?::jsonb IS NOT NULL THEN ?::uuid END
         WHERE id = (SELECT id FROM executions WHERE rule_id = ? AND status = 'QUEUED' ORDER BY started_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND NOT EXISTS (SELECT 1 FROM executions WHERE lock_key = ?)
         RETURNING *`,
        [instanceId, now.toISOString(), plan, plan, instanceId, ruleId, ruleId],
      );
      return row ? toExecution(row) : null;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') return null;
      throw error;
    }
  }

  /** Executions waiting, across every instance: RETRYING (for their next attempt) and QUEUED. Each count reads its own partial index. */
  async countWaiting(): Promise<{ retrying: number; queued: number }> {
    const [row] = await this.sql.query<{ retrying: string | number; queued: string | number }>(
      `SELECT (SELECT count(*) FROM executions WHERE status = 'RETRYING') AS retrying, (SELECT count(*) FROM executions WHERE status = 'QUEUED') AS queued`,
    );
    return { retrying: Number(row?.retrying ?? 0), queued: Number(row?.queued ?? 0) };
  }

  /** Rules that have runs waiting in their queue. */
  async rulesWithQueue(): Promise<string[]> {
    const rows = await this.sql.query<{ rule_id: string }>(`SELECT DISTINCT rule_id FROM executions WHERE status = 'QUEUED'`);
    return rows.map((r) => r.rule_id);
  }

  async appendEvents(events: CascadeEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.sql.query('INSERT INTO cascade_event_runs SELECT * FROM jsonb_populate_recordset(null::cascade_event_runs, ?::jsonb)', [
      json(eventRuns(events)),
    ]);
  }

  /** Log lines written while a run goes on (the final ones ride on the run's last write). */
  async appendLogs(logs: ActionLog[], notify: string[] = []): Promise<void> {
    await this.sql.query(
      `WITH ${APPEND_LOGS}
       SELECT (SELECT count(*) FROM lg)::int AS n, (SELECT count(*) FROM nt)::int AS notified`,
      [json(logs.map(fromLog)), notify],
    );
  }

  /** Log lines written by one API run (direct or from a rule), in order. */
  async logsOfApiExecutions(apiExecutionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    const result = new Map<string, ActionLog[]>(apiExecutionIds.map((id) => [id, []]));
    if (apiExecutionIds.length === 0) return result;
    const rows = await this.sql.query('SELECT * FROM action_logs WHERE api_execution_id = ANY(?::uuid[]) ORDER BY at, seq', [uuidArray(apiExecutionIds)]);
    for (const row of rows) result.get(row.api_execution_id as string)?.push(toLog(row));
    return result;
  }

  async get(id: string): Promise<Execution | null> {
    const [row] = await this.sql.query('SELECT * FROM executions WHERE id = ?', [id]);
    return row ? toExecution(row) : null;
  }

  private filterSql(filter: ExecutionFilter): { where: string[]; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [key, column] of FILTER_COLUMNS) {
      const value = filter[key];
      if (!value) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    return { where, params };
  }

  /** Newest first (startedAt desc, id desc), `limit + 1` rows so the caller knows of a next page. */
  async page(query: ExecutionPageQuery): Promise<{ rows: Execution[]; total: number }> {
    const { where, params } = this.filterSql(query);
    const countSql = `SELECT count(*)::int AS n FROM executions${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    const pageWhere = [...where];
    const pageParams = [...params];
    if (query.after) {
      pageWhere.push('(started_at, id) < (?::timestamptz, ?::uuid)');
      pageParams.push(query.after.at.toISOString(), query.after.id);
    }
    const rowsSql = `SELECT * FROM executions${pageWhere.length ? ` WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`;
    const [count] = await this.sql.query<{ n: number }>(countSql, params);
    const rows = query.limit === 0 ? [] : await this.sql.query(rowsSql, [...pageParams, query.limit + 1]);
    return { rows: rows.map(toExecution), total: count?.n ?? 0 };
  }

  /** Children of each parent, oldest first. */
  async childrenOf(parentIds: readonly string[]): Promise<Map<string, Execution[]>> {
    const result = new Map<string, Execution[]>(parentIds.map((id) => [id, []]));
    if (parentIds.length === 0) return result;
    const rows = await this.sql.query('SELECT * FROM executions WHERE parent_id = ANY(?::uuid[]) ORDER BY started_at, id', [uuidArray(parentIds)]);
    for (const row of rows) result.get(row.parent_id as string)?.push(toExecution(row));
    return result;
  }

  /** Executions of a cascade, oldest first. */
  async ofCascade(cascadeId: string): Promise<Execution[]> {
    const rows = await this.sql.query('SELECT * FROM executions WHERE cascade_id = ? ORDER BY started_at, depth, id', [cascadeId]);
    return rows.map(toExecution);
  }

  async logsOf(executionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    const result = new Map<string, ActionLog[]>(executionIds.map((id) => [id, []]));
    if (executionIds.length === 0) return result;
    const rows = await this.sql.query('SELECT * FROM action_logs WHERE execution_id = ANY(?::uuid[]) ORDER BY execution_id, seq', [uuidArray(executionIds)]);
    for (const row of rows) result.get(row.execution_id as string)?.push(toLog(row));
    return result;
  }

  /** One log line (a bus message that travelled as a reference). */
  async logAt(executionId: string, seq: number): Promise<ActionLog | null> {
    const [row] = await this.sql.query('SELECT * FROM action_logs WHERE execution_id = ? AND seq = ?', [executionId, seq]);
    return row ? toLog(row) : null;
  }

  /** One cascade event (a bus message that travelled as a reference). */
  async eventAt(cascadeId: string, seq: number): Promise<CascadeEvent | null> {
    const [row] = await this.sql.query('SELECT * FROM cascade_events WHERE cascade_id = ? AND seq = ?', [cascadeId, seq]);
    return row ? toEvent(row) : null;
  }

  async eventsOf(cascadeId: string, afterSeq = 0): Promise<CascadeEvent[]> {
    const rows = await this.sql.query('SELECT * FROM cascade_events WHERE cascade_id = ? AND seq > ? ORDER BY seq', [cascadeId, afterSeq]);
    return rows.map(toEvent);
  }

  async cascadeExists(cascadeId: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 FROM executions WHERE id = ? AND cascade_id = id', [cascadeId]);
    return rows.length > 0;
  }
}
