import type { Rule } from '../../entities/index.js';
import { toRule } from './rows.js';
import { parseOptionalTimestamp, parseTimestamp, type Sql } from './sqlClient.js';

/** What the scheduler reads of a rule's lease with the rule. */
export interface LeaseState {
  timing: string;
  ruleUpdatedAt: Date;
  dueAt: Date;
  owner: string | null;
  leaseUntil: Date | null;
}

/** A lease taken: the due run it is for, whether it was taken over from another owner, and the METRIC armed state. */
export interface ClaimedLease {
  dueAt: Date;
  takenOver: boolean;
  metricArmed: boolean;
}

/** How a lease is freed: the next due run, the armed state, and the due run fired (null when none was). */
export interface Release {
  due: Date;
  armed: boolean;
  firedDue: Date | null;
  now: Date;
}

// The active SCHEDULE / METRIC rules and their lease, if any: one cheap query per tick. It also
// drops the leases of rules that were switched off, deleted or changed to EVENT (switched on
// again, they start over); those rules are not in the answer.
const LOAD = `
  WITH cleanup AS (
    DELETE FROM schedule_leases l
    WHERE NOT EXISTS (SELECT 1 FROM rules r WHERE r.id = l.rule_id AND r.active AND r.trigger_type IN ('SCHEDULE', 'METRIC'))
  )
  SELECT r.*, l.timing AS lease_timing, l.rule_updated_at AS lease_rule_updated_at, l.due_at AS lease_due_at,
         l.owner AS lease_owner, l.lease_until AS lease_until
  FROM rules r LEFT JOIN schedule_leases l ON l.rule_id = r.id
  WHERE r.active AND r.trigger_type IN ('SCHEDULE', 'METRIC')`;

// A lease seen for the first time, or whose timing changed: a newer rule version wins, an
// instance with a stale copy of the rule cannot set the old timing back.
const UPSERT = `
  INSERT INTO schedule_leases (rule_id, kind, timing, rule_updated_at, due_at, updated_at)
  VALUES (?, ?, ?, ?::timestamptz, ?::timestamptz, ?::timestamptz)
  ON CONFLICT (rule_id) DO UPDATE SET
    kind = EXCLUDED.kind, timing = EXCLUDED.timing, rule_updated_at = EXCLUDED.rule_updated_at, due_at = EXCLUDED.due_at,
    owner = NULL, lease_until = NULL, taken_over = false, metric_armed = true, updated_at = EXCLUDED.updated_at
  WHERE schedule_leases.timing <> EXCLUDED.timing AND schedule_leases.rule_updated_at < EXCLUDED.rule_updated_at
  RETURNING due_at`;

// The claim: one conditional UPDATE. Under concurrent claims PostgreSQL re-checks the WHERE on
// the row the winner committed, so exactly one instance gets the row back. taken_over records
// (from the old row) whether an expired lease of another owner was taken.
const CLAIM = `
  UPDATE schedule_leases SET taken_over = (owner IS NOT NULL), owner = ?, lease_until = ?::timestamptz, updated_at = ?::timestamptz
  WHERE rule_id = ? AND timing = ? AND due_at <= ?::timestamptz AND (owner IS NULL OR lease_until < ?::timestamptz)
  RETURNING due_at, taken_over, metric_armed`;

const RELEASE = `
  UPDATE schedule_leases SET owner = NULL, lease_until = NULL, taken_over = false, due_at = ?::timestamptz, metric_armed = ?,
    last_fired_due = coalesce(?::timestamptz, last_fired_due), last_fired_at = coalesce(?::timestamptz, last_fired_at), updated_at = ?::timestamptz
  WHERE rule_id = ? AND owner = ? AND timing = ?`;

// After taking over an expired lease: did the previous owner write the row of this due run?
const FIRED_ALREADY = `
  SELECT status FROM executions
  WHERE rule_id = ? AND started_at >= ?::timestamptz AND executed_by = ? AND "references"->?->>'dueAt' = ?
  LIMIT 1`;

/** The `schedule_leases` rows the scheduler claims due runs with (see Scheduler). */
export class ScheduleStore {
  constructor(private readonly sql: Sql) {}

  /** The active SCHEDULE and METRIC rules, each with its lease when it has one; drops the leases of other rules. */
  async loadTimedRules(): Promise<{ rule: Rule; lease: LeaseState | null }[]> {
    const rows = await this.sql.query(LOAD);
    return rows.map((row) => {
      const dueAt = parseOptionalTimestamp(row.lease_due_at);
      const lease: LeaseState | null =
        dueAt === null
          ? null
          : {
              timing: String(row.lease_timing),
              ruleUpdatedAt: parseTimestamp(row.lease_rule_updated_at),
              dueAt,
              owner: (row.lease_owner as string | null) ?? null,
              leaseUntil: parseOptionalTimestamp(row.lease_until),
            };
      return { rule: toRule(row), lease };
    });
  }

  /** Writes the lease of a rule seen for the first time or whose timing changed; answers its due run, or null when a newer version holds it. */
  async startLease(rule: Rule, timing: string, firstDue: Date, now: Date): Promise<Date | null> {
    const [row] = await this.sql.query<{ due_at: unknown }>(UPSERT, [
      rule.id,
      rule.triggerType,
      timing,
      rule.updatedAt.toISOString(),
      firstDue.toISOString(),
      now.toISOString(),
    ]);
    return row ? parseTimestamp(row.due_at) : null;
  }

  /** Takes the lease when its run is due and it is free (or expired), until `until`; null when another instance has it. */
  async claim(ruleId: string, timing: string, owner: string, now: Date, until: Date): Promise<ClaimedLease | null> {
    const [row] = await this.sql.query<{ due_at: unknown; taken_over: boolean; metric_armed: boolean }>(CLAIM, [
      owner,
      until.toISOString(),
      now.toISOString(),
      ruleId,
      timing,
      now.toISOString(),
      now.toISOString(),
    ]);
    return row ? { dueAt: parseTimestamp(row.due_at), takenOver: row.taken_over, metricArmed: row.metric_armed } : null;
  }

  /** The status of the row of a timed run (named in `references[key].dueAt`) started since `since`, or null when there is none. */
  async statusOfTimedRun(ruleId: string, since: Date, executedBy: string, key: string, due: Date): Promise<string | null> {
    const [row] = await this.sql.query<{ status: string }>(FIRED_ALREADY, [ruleId, since.toISOString(), executedBy, key, due.toISOString()]);
    return row ? row.status : null;
  }

  /** Frees a lease this owner holds, moving it to its next due run. */
  async release(ruleId: string, timing: string, owner: string, release: Release): Promise<void> {
    await this.sql.query(RELEASE, [
      release.due.toISOString(),
      release.armed,
      release.firedDue?.toISOString() ?? null,
      release.firedDue ? release.now.toISOString() : null,
      release.now.toISOString(),
      ruleId,
      owner,
      timing,
    ]);
  }
}
