import type { ActionLog, CascadeEvent, Execution, ExecutionStatusValue } from '../../entities/index.js';
import { pickColumns, setColumnsFrom, uuidArray } from './columns.js';
import { WriteBatcher } from './batcher.js';
import { EXECUTION_FINISH_COLUMNS, EXECUTION_FINISH_ROW, eventRuns, fromExecution, fromLog, toExecution } from './rows.js';
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

/** The cascades of the executions `?` (an id array) as their attempts' writes see them. */
const CASCADE_CONTEXTS = `
SELECT h.id,
  (SELECT coalesce(max(last_seq), 0) FROM cascade_event_runs WHERE cascade_id = h.cascade_id)::int AS last_seq,
  EXISTS (SELECT 1 FROM executions o WHERE o.cascade_id = h.cascade_id AND o.id <> h.id AND o.finished_at IS NULL) AS others_pending,
  EXISTS (SELECT 1 FROM executions o WHERE o.cascade_id = h.cascade_id AND o.id <> h.id AND o.status = 'FAILED') AS others_failed,
  r.id AS root_id, r.rule_id AS root_rule_id, r.rule_name AS root_rule_name, r.status AS root_status
FROM executions h JOIN executions r ON r.id = h.cascade_id
WHERE h.id = ANY(?::uuid[])`;

interface ContextRow {
  id: string;
  last_seq: number;
  others_pending: boolean;
  others_failed: boolean;
  root_id: string;
  root_rule_id: string;
  root_rule_name: string | null;
  root_status: ExecutionStatusValue;
}

const contextOf = (row: ContextRow): CascadeContext => ({
  lastSeq: Number(row.last_seq),
  othersPending: row.others_pending === true,
  othersFailed: row.others_failed === true,
  root: { id: row.root_id, ruleId: row.root_rule_id, ruleName: row.root_rule_name ?? null, status: row.root_status },
});

/** One attempt's write: the row as it was held, and how to build its step from its cascade. */
interface AttemptWrite {
  held: Execution;
  build(cascade: CascadeContext): AttemptStep;
}

/** What a batch's rows send besides their new columns: how each was held, which the write checks. */
const HELD_AS = 'g(id uuid, status text, owner uuid, attempts int)';

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
   * status, owner and number of attempts. Answers the step written, or null. Attempts that end
   * while others are being written share one transaction.
   */
  writeAttempt(held: Execution, build: (cascade: CascadeContext) => AttemptStep): Promise<AttemptStep | null> {
    return this.attempts.submit({ held, build });
  }

  private readonly attempts = new WriteBatcher<AttemptWrite, AttemptStep | null>((writes) => this.writeBatch(writes), 2, 200);

  private async writeBatch(writes: AttemptWrite[]): Promise<(AttemptStep | null)[]> {
    // Two attempts of one cascade (never made by the engine, whose cascades have one webhook
    // going at a time) would each count the other as going: they go in transactions one after
    // the other.
    const seen = new Set<string>();
    const firsts = writes.filter((w) => !seen.has(w.held.cascadeId) && seen.add(w.held.cascadeId));
    if (firsts.length < writes.length) {
      const rest = writes.filter((w) => !firsts.includes(w));
      const results = new Map<AttemptWrite, AttemptStep | null>();
      for (const part of [firsts, rest]) {
        const steps = await this.writeBatch(part);
        part.forEach((w, i) => {
          results.set(w, steps[i] ?? null);
        });
      }
      return writes.map((w) => results.get(w) ?? null);
    }
    return this.sql.transaction(async (tx) => {
      const ids = uuidArray(writes.map((w) => w.held.id));
      // Roots locked in one order, so that batches sharing cascades cannot deadlock.
      await tx.query('SELECT 1 FROM executions WHERE id = ANY(?::uuid[]) ORDER BY id FOR UPDATE', [uuidArray([...seen].sort())]);
      const contexts = new Map((await tx.query<ContextRow>(CASCADE_CONTEXTS, [ids])).map((row) => [row.id, contextOf(row)]));
      const steps = writes.map((w) => {
        const context = contexts.get(w.held.id);
        return context ? w.build(context) : null;
      });
      const built = steps.flatMap((step, i) => (step ? [{ step, held: writes[i]!.held }] : []));
      if (built.length === 0) return steps;
      const updated = await tx.query<{ id: string }>(
        `UPDATE executions e SET ${setColumnsFrom(EXECUTION_FINISH_COLUMNS, 'r')}
         FROM jsonb_populate_recordset(null::executions, ?::jsonb) r, jsonb_to_recordset(?::jsonb) AS ${HELD_AS}
         WHERE e.id = r.id AND g.id = r.id AND e.id = ANY(?::uuid[])
           AND e.status = g.status AND e.attempt_owner = g.owner AND coalesce(jsonb_array_length(e.attempts), 0) = g.attempts
         RETURNING e.id`,
        [
          storableJsonText(built.map(({ step }) => pickColumns(fromExecution(step.execution), EXECUTION_FINISH_ROW))),
          JSON.stringify(built.map(({ held }) => ({ id: held.id, status: held.status, owner: held.attemptOwner, attempts: held.attempts?.length ?? 0 }))),
          ids,
        ],
      );
      const written = new Set(updated.map((row) => row.id));
      const kept = steps.map((step) => (step && written.has(step.execution.id) ? step : null));
      const events = kept.flatMap((step) => step?.events ?? []);
      const logs = kept.flatMap((step) => step?.logs ?? []);
      if (events.length > 0) {
        await tx.query('INSERT INTO cascade_event_runs SELECT * FROM jsonb_populate_recordset(null::cascade_event_runs, ?::jsonb)', [
          storableJsonText(eventRuns(events)),
        ]);
      }
      if (logs.length > 0) {
        await tx.query('INSERT INTO action_logs SELECT * FROM jsonb_populate_recordset(null::action_logs, ?::jsonb)', [storableJsonText(logs.map(fromLog))]);
      }
      return kept;
    });
  }
}
