import { ApiDefinitionSchema, ApiExecutionSchema, type ActionLog, type ApiDefinition, type ApiExecution } from '../../entities/index.js';
import { APPEND_LOGS } from './executionStore.js';
import { columnList, pickTypes, rowValues, setValues, valuesRow } from './columns.js';
import { entityTable } from './entityTable.js';
import { fromLog } from './rows.js';
import { storableJsonText } from '../../shared/storable.js';
import type { Sql } from './sqlClient.js';

const API_EXECUTIONS = entityTable(ApiExecutionSchema);
const API_DEFINITIONS = entityTable(ApiDefinitionSchema);

/** The columns an API run's finishing update sets. */
const API_FINISH_COLUMNS = pickTypes(API_EXECUTIONS.columns, ['status', 'output', 'error_code', 'error_message', 'duration_ms', 'finished_at']);

/** ApiExecution rows: written RUNNING when a run starts, finished with its remaining log lines in one statement. */
export class ApiExecutionStore {
  constructor(private readonly sql: Sql) {}

  /** Whether any SCRIPT API is defined: the sandbox is then started with the service. */
  async anyScriptDefined(): Promise<boolean> {
    const rows = await this.sql.query("SELECT 1 FROM api_definitions WHERE kind = 'SCRIPT' LIMIT 1", []);
    return rows.length > 0;
  }

  async getDefinition(id: string): Promise<ApiDefinition | null> {
    const [row] = await this.sql.query('SELECT * FROM api_definitions WHERE id = ?', [id]);
    return row ? API_DEFINITIONS.toEntity(row) : null;
  }

  async get(id: string): Promise<ApiExecution | null> {
    const [row] = await this.sql.query('SELECT * FROM api_executions WHERE id = ?', [id]);
    return row ? API_EXECUTIONS.toEntity(row) : null;
  }

  async insert(execution: ApiExecution): Promise<void> {
    await this.sql.query(
      `INSERT INTO api_executions (${columnList(API_EXECUTIONS.columns)}) VALUES ${valuesRow(API_EXECUTIONS.columns)}`,
      rowValues(API_EXECUTIONS.toRow(execution), API_EXECUTIONS.columns),
    );
  }

  /** The row is found by its id, so the cached plan probes the primary key (see the step statements in executionStore.ts). */
  async finish(execution: ApiExecution, logs: ActionLog[], notify: string[] = []): Promise<void> {
    await this.sql.query(
      `WITH upd AS (
         UPDATE api_executions SET ${setValues(API_FINISH_COLUMNS)} WHERE id = ?::uuid RETURNING id
       ), ${APPEND_LOGS}
       SELECT (SELECT count(*) FROM upd)::int AS n, (SELECT count(*) FROM lg)::int AS logs, (SELECT count(*) FROM nt)::int AS notified`,
      [...rowValues(API_EXECUTIONS.toRow(execution), API_FINISH_COLUMNS), execution.id, storableJsonText(logs.map(fromLog)), notify],
    );
  }

  /** Newest first, `limit + 1` rows. */
  async page(apiId: string, limit: number, after: { at: Date; id: string } | null): Promise<{ rows: ApiExecution[]; total: number }> {
    const [count] = await this.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM api_executions WHERE api_id = ?', [apiId]);
    if (limit === 0) return { rows: [], total: count?.n ?? 0 };
    const rows = after
      ? await this.sql.query(
          'SELECT * FROM api_executions WHERE api_id = ? AND (started_at, id) < (?::timestamptz, ?::uuid) ORDER BY started_at DESC, id DESC LIMIT ?',
          [apiId, after.at.toISOString(), after.id, limit + 1],
        )
      : await this.sql.query('SELECT * FROM api_executions WHERE api_id = ? ORDER BY started_at DESC, id DESC LIMIT ?', [apiId, limit + 1]);
    return { rows: rows.map(API_EXECUTIONS.toEntity), total: count?.n ?? 0 };
  }
}
