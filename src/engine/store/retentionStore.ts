import type { Sql } from './sqlClient.js';

/** What one batch of the retention job deleted. */
export interface DeletedCascades {
  cascades: number;
  executions: number;
  apiExecutions: number;
}

// One statement per batch: the oldest finished cascades whose root started before the cutoff,
// with every execution, log line, cascade event and API run of theirs. SKIP LOCKED lets
// instances running the job at once take different cascades instead of waiting on each other.
const DELETE_CASCADES = `
WITH roots AS (
  SELECT r.id FROM executions r
  WHERE r.parent_id IS NULL AND r.started_at < ?::timestamptz AND r.status NOT IN ('RUNNING', 'QUEUED', 'RETRYING')
    AND NOT EXISTS (SELECT 1 FROM executions c WHERE c.cascade_id = r.id AND c.status IN ('RUNNING', 'QUEUED', 'RETRYING'))
  ORDER BY r.started_at
  LIMIT ?
  FOR UPDATE SKIP LOCKED
), ex AS (
  DELETE FROM executions e WHERE e.cascade_id IN (SELECT id FROM roots) RETURNING e.id
), lg AS (
  DELETE FROM action_logs l WHERE l.execution_id IN (SELECT id FROM ex) RETURNING 1
), ev AS (
  DELETE FROM cascade_event_runs c WHERE c.cascade_id IN (SELECT id FROM roots) RETURNING jsonb_array_length(c.events) AS n
), ap AS (
  DELETE FROM api_executions a WHERE a.execution_id IN (SELECT id FROM ex) RETURNING a.id
), aplg AS (
  DELETE FROM action_logs l WHERE l.execution_id IN (SELECT id FROM ap) RETURNING 1
)
SELECT (SELECT count(*) FROM roots)::int AS cascades, (SELECT count(*) FROM ex)::int AS executions,
       (SELECT count(*) FROM ap)::int AS api_executions, (SELECT count(*) FROM lg)::int + (SELECT count(*) FROM aplg)::int AS logs,
       (SELECT coalesce(sum(n), 0) FROM ev)::int AS events`;

// API runs of executeApi (no execution of their own), with their log lines (keyed by the run's id).
const DELETE_API_RUNS = `
WITH old AS (
  SELECT a.id FROM api_executions a
  WHERE a.execution_id IS NULL AND a.started_at < ?::timestamptz AND a.status NOT IN ('RUNNING', 'QUEUED')
  ORDER BY a.started_at
  LIMIT ?
  FOR UPDATE SKIP LOCKED
), lg AS (
  DELETE FROM action_logs l WHERE l.execution_id IN (SELECT id FROM old) RETURNING 1
), d AS (
  DELETE FROM api_executions a WHERE a.id IN (SELECT id FROM old) RETURNING 1
)
SELECT (SELECT count(*) FROM d)::int AS n`;

// Audit entries are kept as long as executions (SPEC.md, 'Access').
const DELETE_AUDIT_ENTRIES = `
WITH old AS (
  SELECT id FROM audit_entries WHERE at < ?::timestamptz ORDER BY at LIMIT ? FOR UPDATE SKIP LOCKED
), d AS (
  DELETE FROM audit_entries a WHERE a.id IN (SELECT id FROM old) RETURNING 1
)
SELECT (SELECT count(*) FROM d)::int AS n`;

// Idempotency keys past their time to live (SPEC.md, 'Idempotency'): a repeated call no longer
// finds them, so they are only space.
const DELETE_EXPIRED_IDEMPOTENCY_KEYS = `
WITH old AS (
  SELECT operation, principal, key FROM idempotency_keys WHERE expires_at < ?::timestamptz LIMIT ? FOR UPDATE SKIP LOCKED
), d AS (
  DELETE FROM idempotency_keys k USING old
  WHERE k.operation = old.operation AND k.principal = old.principal AND k.key = old.key AND k.expires_at < ?::timestamptz RETURNING 1
)
SELECT (SELECT count(*) FROM d)::int AS n`;

/**
 * The deletes of old execution history (see RetentionJob): each is one short statement of at
 * most `batch` cascades (or direct API runs), committed alone.
 */
export class RetentionStore {
  constructor(private readonly sql: Sql) {}

  /** Finished cascades whose root started before `cutoff` (ISO), oldest first, with everything of theirs. */
  async deleteOldCascades(cutoff: string, batch: number): Promise<DeletedCascades> {
    const [row] = await this.sql.query<{ cascades: number; executions: number; api_executions: number }>(DELETE_CASCADES, [cutoff, batch]);
    return { cascades: row?.cascades ?? 0, executions: row?.executions ?? 0, apiExecutions: row?.api_executions ?? 0 };
  }

  /** Finished direct API runs (of executeApi) started before `cutoff` (ISO), with their log lines; answers how many. */
  async deleteOldApiRuns(cutoff: string, batch: number): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>(DELETE_API_RUNS, [cutoff, batch]);
    return row?.n ?? 0;
  }

  /** Audit entries written before `cutoff` (ISO), oldest first; answers how many. */
  async deleteOldAuditEntries(cutoff: string, batch: number): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>(DELETE_AUDIT_ENTRIES, [cutoff, batch]);
    return row?.n ?? 0;
  }

  /** Idempotency keys that expired before `now` (ISO); answers how many. */
  async deleteExpiredIdempotencyKeys(now: string, batch: number): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>(DELETE_EXPIRED_IDEMPOTENCY_KEYS, [now, batch, now]);
    return row?.n ?? 0;
  }
}
