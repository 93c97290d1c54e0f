import type { ActionLog, CascadeEvent, Execution, ExecutionStatusValue } from '../../entities/index.js';
import { pickTypes, rowValues, setValues, uuidArray } from './columns.js';
import { EXECUTION_COLUMNS, EXECUTION_FINISH_COLUMNS, eventRuns, fromExecution, fromLog, toExecution } from './rows.js';
import type { Sql } from './sqlClient.js';
import { storableJsonText } from '../../shared/storable.js';

/**
 * A webhook execution whose next attempt this instance now holds (claimed when due, or found
 * cut off by a stopped instance).
 */
export interface HeldAttempt {
  execution: Execution;
  /** The last seq of its own log lines. */
  lastLogSeq: number;
}

/** What an attempt's write needs to know of its cascade, read under the cascade's lock. */
export interface CascadeContext {
  /** The last seq of its events. */
  lastSeq: number;
  /** Another execution of it is not final yet (then that one writes CASCADE_FINISHED). */
  othersPending: boolean;
  /** Another execution of it ended FAILED. */
  othersFailed: boolean;
  /** Its root, which CASCADE_FINISHED names. */
  root: { id: string; ruleId: string; ruleName: string | null; status: ExecutionStatusValue };
}

/** One execution's row with its events and log lines, as an attempt writes them. */
export interface AttemptStep {
  execution: Execution;
  events: CascadeEvent[];
  logs: ActionLog[];
}

/** Which attempts in flight were cut off by a stopped process. */
export type InFlightScope = { staleAfterMs: number } | { otherThan: string } | { of: string };

/** A held row (`h`) and the seq of its last log line. */
const HELD = `SELECT h.*, (SELECT coalesce(max(seq), 0) FROM action_logs WHERE execution_id = h.id)::int AS held_last_log_seq`;

const held = (row: Record<string, unknown>): HeldAttempt => ({ execution: toExecution(row), lastLogSeq: Number(row.held_last_log_seq) });

/** The cascade of execution `?` as its attempt's write sees it. */
const CASCADE_CONTEXT = `
SELECT
  (SELECT coalesce(max(last_seq), 0) FROM cascade_event_runs WHERE cascade_id = h.cascade_id)::int AS last_seq,
  EXISTS (SELECT 1 FROM executions o WHERE o.cascade_id = h.cascade_id AND o.id <> h.id AND o.finished_at IS NULL) AS others_pending,
  EXISTS (SELECT 1 FROM executions o WHERE o.cascade_id = h.cascade_id AND o.id <> h.id AND o.status = 'FAILED') AS others_failed,
  r.id AS root_id, r.rule_id AS root_rule_id, r.rule_name AS root_rule_name, r.status AS root_status
FROM executions h JOIN executions r ON r.id = h.cascade_id
WHERE h.id = ?`;

const ATTEMPT_COLUMNS = pickTypes(EXECUTION_COLUMNS, EXECUTION_FINISH_COLUMNS);

/** The owners of attempts cut off, per scope (one parameter). */
const IN_FLIGHT_OWNER: Record<'staleAfterMs' | 'otherThan' | 'of', string> = {
  staleAfterMs: `NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = e.attempt_owner AND i.heartbeat_at >= now() - (? * interval '1 millisecond'))`,
  otherThan: 'e.attempt_owner <> ?::uuid',
  of: 'e.attempt_owner = ?::uuid',
};

/**
 * Due webhook attempts, kept on their execution rows (SPEC.md, 'Delivery'): claimed by one
 * instance at a time (`attempt_owner`), written back under that claim with their events and log
 * lines in one transaction.
 */
export class DeliveryStore {
  constructor(private readonly sql: Sql) {}

  /**
   * Claims up to `limit` RETRYING executions whose next attempt is due at `now`, oldest due
   * first. Rows another instance is claiming are skipped, not waited for.
   */
  async claimDue(now: Date, owner: string, limit: number): Promise<HeldAttempt[]> {
    const rows = await this.sql.query(
      `WITH due AS (
         SELECT id FROM executions
         WHERE status = 'RETRYING' AND next_attempt_at <= ?::timestamptz AND attempt_owner IS NULL
         ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED
       ), h AS (
         UPDATE executions e SET attempt_owner = ?::uuid FROM due WHERE e.id = due.id AND e.attempt_owner IS NULL RETURNING e.*
       )
       ${HELD} FROM h`,
      [now.toISOString(), limit, owner],
    );
    return rows.map(held);
  }

  /** When the next unclaimed attempt is due, or null when none waits. */
  async nextDue(): Promise<Date | null> {
    const [row] = await this.sql.query<{ at: string | Date | null }>(
      `SELECT min(next_attempt_at) AS at FROM executions WHERE status = 'RETRYING' AND attempt_owner IS NULL`,
    );
    return row?.at ? new Date(row.at) : null;
  }

  /** Attempts in flight (a first attempt RUNNING, or a later one claimed) whose owner is in `scope`. */
  async inFlight(scope: InFlightScope): Promise<HeldAttempt[]> {
    const [key, value] = Object.entries(scope)[0] as ['staleAfterMs' | 'otherThan' | 'of', unknown];
    const rows = await this.sql.query(
      `${HELD}
       FROM (SELECT e.* FROM executions e
             WHERE e.status IN ('RUNNING', 'RETRYING') AND e.attempt_owner IS NOT NULL AND ${IN_FLIGHT_OWNER[key]}) h`,
      [value],
    );
    return rows.map(held);
  }

  /** FAILED webhook executions of a rule started at or after `since` that no execution redelivers yet (a SKIPPED redelivery sent nothing), oldest first. */
  async failedNotRedelivered(ruleId: string, since: Date, limit: number): Promise<Execution[]> {
    const rows = await this.sql.query(
      `SELECT * FROM executions e
       WHERE e.rule_id = ? AND e.status = 'FAILED' AND e.action_type = 'WEBHOOK' AND e.started_at >= ?::timestamptz
         AND NOT EXISTS (SELECT 1 FROM executions d WHERE d.redelivery_of = e.id AND d.status <> 'SKIPPED')
       ORDER BY e.started_at, e.id LIMIT ?`,
      [ruleId, since.toISOString(), limit],
    );
    return rows.map(toExecution);
  }

  /** Gives claims back unsent (the worker is stopping): they are due again for any instance. */
  async release(ids: readonly string[], owner: string): Promise<void> {
    if (ids.length === 0) return;
    await this.sql.query(`UPDATE executions SET attempt_owner = NULL WHERE id = ANY(?::uuid[]) AND status = 'RETRYING' AND attempt_owner = ?::uuid`, [
      uuidArray(ids),
      owner,
    ]);
  }

  /**
   * Writes what an attempt led to (the row RETRYING again or final, its events and log lines),
   * built by `build` from its cascade as it is under the cascade's lock (the root row's, which
   * the sweep of interrupted runs takes too), when the row is still as it was held: the same
   * status, owner and number of attempts. Answers the step written, or null.
   */
  writeAttempt(held: Execution, build: (cascade: CascadeContext) => AttemptStep): Promise<AttemptStep | null> {
    return this.sql.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM executions WHERE id = ? FOR UPDATE', [held.cascadeId]);
      const [context] = await tx.query<{
        last_seq: number;
        others_pending: boolean;
        others_failed: boolean;
        root_id: string;
        root_rule_id: string;
        root_rule_name: string | null;
        root_status: ExecutionStatusValue;
      }>(CASCADE_CONTEXT, [held.id]);
      if (!context) return null;
      const step = build({
        lastSeq: Number(context.last_seq),
        othersPending: context.others_pending === true,
        othersFailed: context.others_failed === true,
        root: { id: context.root_id, ruleId: context.root_rule_id, ruleName: context.root_rule_name ?? null, status: context.root_status },
      });
      const updated = await tx.query(
        `UPDATE executions SET ${setValues(ATTEMPT_COLUMNS)}
         WHERE id = ?::uuid AND status = ? AND attempt_owner = ?::uuid AND coalesce(jsonb_array_length(attempts), 0) = ?
         RETURNING id`,
        [...rowValues(fromExecution(step.execution), ATTEMPT_COLUMNS), held.id, held.status, held.attemptOwner, held.attempts?.length ?? 0],
      );
      if (updated.length === 0) return null;
      if (step.events.length > 0) {
        await tx.query('INSERT INTO cascade_event_runs SELECT * FROM jsonb_populate_recordset(null::cascade_event_runs, ?::jsonb)', [
          storableJsonText(eventRuns(step.events)),
        ]);
      }
      if (step.logs.length > 0) {
        await tx.query('INSERT INTO action_logs SELECT * FROM jsonb_populate_recordset(null::action_logs, ?::jsonb)', [
          storableJsonText(step.logs.map(fromLog)),
        ]);
      }
      return step;
    });
  }
}
