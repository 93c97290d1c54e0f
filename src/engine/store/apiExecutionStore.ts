import type { ActionLog, ApiDefinition, ApiExecution } from '../../entities/index.js';
import { APPEND_LOGS } from './executionStore.js';
import { columnList, pickTypes, rowValues, setValues, valuesRow, type ColumnTypes } from './columns.js';
import { fromLog } from './rows.js';
import { storableJsonText } from '../../shared/storable.js';
import { parseOptionalTimestamp, parseTimestamp, type Sql } from './sqlClient.js';

type Row = Record<string, any>;

function toApiExecution(row: Row): ApiExecution {
  return {
    id: row.id,
    apiId: row.api_id,
    status: row.status,
    params: row.params ?? null,
    input: row.input ?? null,
    output: row.output ?? null,
    errorCode: row.error_code ?? null,
    errorMessage: row.error_message ?? null,
    durationMs: row.duration_ms ?? null,
    executedBy: row.executed_by,
    startedAt: parseTimestamp(row.started_at),
    finishedAt: parseOptionalTimestamp(row.finished_at),
    executionId: row.execution_id ?? null,
    ruleId: row.rule_id ?? null,
    cascadeId: row.cascade_id ?? null,
  };
}

function fromApiExecution(e: ApiExecution): Row {
  return {
    id: e.id,
    api_id: e.apiId,
    status: e.status,
    params: e.params ?? null,
    input: e.input ?? null,
    output: e.output ?? null,
    error_code: e.errorCode,
    error_message: e.errorMessage,
    duration_ms: e.durationMs,
    executed_by: e.executedBy,
    started_at: e.startedAt.toISOString(),
    finished_at: e.finishedAt?.toISOString() ?? null,
    execution_id: e.executionId,
    rule_id: e.ruleId,
    cascade_id: e.cascadeId,
  };
}

/** The columns of `api_executions` with their types, in table order. */
const API_EXECUTION_COLUMNS: ColumnTypes = {
  id: 'uuid',
  api_id: 'uuid',
  status: 'text',
  params: 'jsonb',
  input: 'jsonb',
  output: 'jsonb',
  error_code: 'text',
  error_message: 'text',
  duration_ms: 'integer',
  executed_by: 'text',
  started_at: 'timestamptz',
  finished_at: 'timestamptz',
  execution_id: 'uuid',
  rule_id: 'uuid',
  cascade_id: 'uuid',
};

/** The columns an API run's finishing update sets. */
const API_FINISH_COLUMNS = pickTypes(API_EXECUTION_COLUMNS, ['status', 'output', 'error_code', 'error_message', 'duration_ms', 'finished_at']);

function toApiDefinition(row: Row): ApiDefinition {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? null,
    kind: row.kind,
    source: row.source ?? null,
    httpSpec: row.http_spec ?? null,
    paramSchema: row.param_schema ?? null,
    timeoutMs: row.timeout_ms,
    memoryLimitMb: row.memory_limit_mb,
    allowNetwork: row.allow_network,
    allowedHosts: row.allowed_hosts ?? [],
    active: row.active,
    createdBy: row.created_by ?? null,
    createdAt: parseTimestamp(row.created_at),
    updatedAt: parseTimestamp(row.updated_at),
  };
}

/** ApiExecution rows: written RUNNING when a run starts, finished with its remaining log lines in one statement. */
export class ApiExecutionStore {
  constructor(private readonly sql: Sql) {}

  async getDefinition(id: string): Promise<ApiDefinition | null> {
    const [row] = await this.sql.query('SELECT * FROM api_definitions WHERE id = ?', [id]);
    return row ? toApiDefinition(row) : null;
  }

  async insert(execution: ApiExecution): Promise<void> {
    await this.sql.query(
      `INSERT INTO api_executions (${columnList(API_EXECUTION_COLUMNS)}) VALUES ${valuesRow(API_EXECUTION_COLUMNS)}`,
      rowValues(fromApiExecution(execution), API_EXECUTION_COLUMNS),
    );
  }

  /** The row is found by its id, so the cached plan probes the primary key (see the step statements in executionStore.ts). */
  async finish(execution: ApiExecution, logs: ActionLog[], notify: string[] = []): Promise<void> {
    await this.sql.query(
      `WITH upd AS (
         UPDATE api_executions SET ${setValues(API_FINISH_COLUMNS)} WHERE id = ?::uuid RETURNING id
       ), ${APPEND_LOGS}
       SELECT (SELECT count(*) FROM upd)::int AS n, (SELECT count(*) FROM lg)::int AS logs, (SELECT count(*) FROM nt)::int AS notified`,
      [...rowValues(fromApiExecution(execution), API_FINISH_COLUMNS), execution.id, storableJsonText(logs.map(fromLog)), notify],
    );
  }

  /** Newest first, `limit + 1` rows. */
  async page(apiId: string, limit: number, after: { at: Date; id: string } | null): Promise<{ rows: ApiExecution[]; total: number }> {
    const [count] = await this.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM api_executions WHERE api_id = ?', [apiId]);
    if (limit === 0) return { rows: [], total: count?.n ?? 0 };
    const rows = after
      ? await this.sql.query('SELECT * FROM api_executions WHERE api_id = ? AND (started_at, id) < (?::timestamptz, ?::uuid) ORDER BY started_at DESC, id DESC LIMIT ?', [
          apiId,
          after.at.toISOString(),
          after.id,
          limit + 1,
        ])
      : await this.sql.query('SELECT * FROM api_executions WHERE api_id = ? ORDER BY started_at DESC, id DESC LIMIT ?', [apiId, limit + 1]);
    return { rows: rows.map(toApiExecution), total: count?.n ?? 0 };
  }
}
