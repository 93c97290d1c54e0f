import type { Logger } from '../../logger.js';
import { PeriodicJob } from './periodic.js';
import type { Clock } from '../../shared/clock.js';
import type { Sql } from '../store/sqlClient.js';

export interface RetentionOptions {
  sql: Sql;
  clock: Clock;
  logger: Logger;
  /** EXECUTION_RETENTION_DAYS; 0 disables retention. */
  days: number;
  /** How often the job runs (it also runs at start). */
  intervalMs: number;
  /** Cascades (or direct API runs) deleted per statement. */
  batch: number;
}

export interface RetentionResult {
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
  WHERE r.parent_id IS NULL AND r.started_at < ?::timestamptz AND r.status NOT IN ('RUNNING', 'QUEUED')
    AND NOT EXISTS (SELECT 1 FROM executions c WHERE c.cascade_id = r.id AND c.status IN ('RUNNING', 'QUEUED'))
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

const DAY_MS = 86_400_000;

/**
 * Deletes execution history older than EXECUTION_RETENTION_DAYS: at start, then every
 * EXECUTION_RETENTION_INTERVAL_MS. Work is cut into short statements of at most `batch`
 * cascades, each committed alone (no long transaction), with a pause between them so that
 * triggers (on PGlite, which has a single connection) interleave; nothing a running trigger
 * needs is ever locked (only finished cascades are taken, and only their own rows).
 */
export class RetentionJob extends PeriodicJob<RetentionResult> {
  constructor(private readonly options: RetentionOptions) {
    super('retention run', options.intervalMs, options.logger);
  }

  get enabled() {
    return this.options.days > 0;
  }

  override start(): void {
    if (this.enabled) super.start();
  }

  /**
   * One full pass (batches until nothing older than the cutoff is left). A batch in flight at
   * stop() finishes (each is one short statement).
   */
  protected async pass(): Promise<RetentionResult> {
    const { sql, clock, logger, days, batch } = this.options;
    const total: RetentionResult = { cascades: 0, executions: 0, apiExecutions: 0 };
    if (days <= 0) return total;
    const cutoff = new Date(clock.now().getTime() - days * DAY_MS).toISOString();
    for (;;) {
      const [row] = await sql.query<{ cascades: number; executions: number; api_executions: number }>(DELETE_CASCADES, [cutoff, batch]);
      total.cascades += row?.cascades ?? 0;
      total.executions += row?.executions ?? 0;
      total.apiExecutions += row?.api_executions ?? 0;
      if ((row?.cascades ?? 0) < batch || this.stopped) break;
      await pause();
    }
    for (;;) {
      const [row] = await sql.query<{ n: number }>(DELETE_API_RUNS, [cutoff, batch]);
      total.apiExecutions += row?.n ?? 0;
      if ((row?.n ?? 0) < batch || this.stopped) break;
      await pause();
    }
    if (total.cascades || total.apiExecutions) logger.info({ ...total, cutoff }, 'old execution history deleted');
    return total;
  }
}

/** Lets queued queries (triggers) run between two batches. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 10));
