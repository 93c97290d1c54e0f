import type { Rule } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Clock, Timer } from '../../shared/clock.js';
import type { RunSystem } from '../runs/runSystem.js';
import type { OutboundHttpClient } from '../outbound/client.js';
import { METRIC_POLL_FAILED, pollMetric } from './metricPoll.js';
import { firstDue, missedAfter, nextDue, timingKey } from './scheduleTiming.js';
import type { ScheduleTriggerSpec } from '../rules/spec/index.js';
import { toRule } from '../store/rows.js';
import { parseOptionalTimestamp, parseTimestamp, type Sql } from '../store/sqlClient.js';

export interface SchedulerOptions {
  sql: Sql;
  engine: RunSystem;
  http: OutboundHttpClient;
  clock: Clock;
  logger: Logger;
  instanceId: string;
  /** How often rules are reloaded and due runs claimed. */
  tickMs: number;
  /** Deadline of one METRIC poll (also at most the rule's pollIntervalSeconds). */
  metricPollTimeoutMs: number;
}

/** How long a claimed SCHEDULE run is held before another instance may take it over. */
const SCHEDULE_LEASE_MS = 30_000;
/** Margin past the poll deadline for a claimed METRIC poll. */
const METRIC_LEASE_MARGIN_MS = 30_000;
/** Clock skew allowed between instances when looking for the row of a taken-over due run. */
const TAKEOVER_LOOKBACK_MS = 10 * 60_000;

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

/** How each timed trigger type names its runs: executedBy, and its key in `references`. */
const TIMED = {
  SCHEDULE: { executedBy: 'scheduler', key: 'schedule' },
  METRIC: { executedBy: 'metric-poll', key: 'poll' },
} as const;

interface Claim {
  rule: Rule;
  timing: string;
  due: Date;
  takenOver: boolean;
  armed: boolean;
}

/**
 * Fires SCHEDULE rules and polls METRIC rules, on every instance, each due run exactly once
 * across the instances sharing the database.
 *
 * Each active rule has a lease row (`schedule_leases`): its next due run, and who holds it until
 * when. Every tick an instance reloads the active SCHEDULE/METRIC rules, and for each due run
 * tries one conditional UPDATE that takes the lease only when it is due and free (or its holder
 * let it expire); the instance that gets the row fires, then moves the due time past now and
 * frees the lease. A run missed while every instance was down is due at start and fires once;
 * the runs missed after it are folded into it. An instance that dies holding a lease lets it
 * expire; the next holder first looks for the row of that due run, so it is not fired twice.
 * Time is the injected clock on every instance (keep instance clocks in sync, as for any
 * scheduler). It is not an advisory lock, so it behaves the same on PGlite.
 */
export class Scheduler {
  private timer: Timer | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;
  private readonly jobs = new Map<string, Promise<void>>();
  private readonly badRules = new Set<string>();

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  private async loop() {
    await this.tick();
    if (this.stopped) return;
    this.timer = this.options.clock.setTimer(() => void this.loop(), this.options.tickMs);
  }

  /** One pass: reload the rules, start over the leases that changed, claim and start due runs. */
  tick(): Promise<void> {
    this.ticking ??= this.pass()
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'scheduler tick failed'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async pass(): Promise<void> {
    const { sql, clock, instanceId } = this.options;
    const rows = await sql.query(LOAD);
    for (const row of rows) {
      if (this.stopped) return;
      const rule = toRule(row);
      if (this.jobs.has(rule.id)) continue;
      let timing: string;
      try {
        timing = timingKey(rule);
      } catch (error) {
        if (!this.badRules.has(rule.id)) this.options.logger.error({ err: error, ruleId: rule.id }, 'a SCHEDULE/METRIC rule has a spec the scheduler cannot read; it is left out');
        this.badRules.add(rule.id);
        continue;
      }
      const now = clock.now();
      let due = parseOptionalTimestamp(row.lease_due_at);
      const leaseVersion = parseOptionalTimestamp(row.lease_rule_updated_at);
      if (due === null || (row.lease_timing !== timing && leaseVersion !== null && leaseVersion.getTime() < rule.updatedAt.getTime())) {
        const [fresh] = await sql.query<{ due_at: unknown }>(UPSERT, [rule.id, rule.triggerType, timing, rule.updatedAt.toISOString(), firstDue(rule, now).toISOString(), now.toISOString()]);
        if (!fresh) continue;
        due = parseTimestamp(fresh.due_at);
      } else if (row.lease_timing !== timing) {
        continue; // our copy of the rule is older than the lease's: the next tick reloads it
      } else if (row.lease_owner != null && parseTimestamp(row.lease_until).getTime() >= now.getTime()) {
        continue; // held by an instance working on it
      }
      if (due.getTime() > now.getTime()) continue;
      const leaseMs = rule.triggerType === 'METRIC' ? this.options.metricPollTimeoutMs + METRIC_LEASE_MARGIN_MS : SCHEDULE_LEASE_MS;
      const [claimed] = await sql.query<{ due_at: unknown; taken_over: boolean; metric_armed: boolean }>(CLAIM, [
        instanceId,
        new Date(now.getTime() + leaseMs).toISOString(),
        now.toISOString(),
        rule.id,
        timing,
        now.toISOString(),
        now.toISOString(),
      ]);
      if (!claimed) continue;
      const claim: Claim = { rule, timing, due: parseTimestamp(claimed.due_at), takenOver: claimed.taken_over, armed: claimed.metric_armed };
      const job = this.run(claim)
        .catch((error: unknown) => this.options.logger.error({ err: error, ruleId: rule.id }, 'a scheduled run failed; its lease expires and the run is retried'))
        .finally(() => this.jobs.delete(rule.id));
      this.jobs.set(rule.id, job);
    }
  }

  private async run(claim: Claim): Promise<void> {
    const { executedBy, key } = TIMED[claim.rule.triggerType === 'METRIC' ? 'METRIC' : 'SCHEDULE'];
    if (claim.takenOver) {
      const [row] = await this.options.sql.query<{ status: string }>(FIRED_ALREADY, [
        claim.rule.id,
        new Date(claim.due.getTime() - TAKEOVER_LOOKBACK_MS).toISOString(),
        executedBy,
        key,
        claim.due.toISOString(),
      ]);
      if (row) {
        // The previous holder wrote the row of this due run, then stopped before freeing the lease.
        const armed = claim.rule.triggerType === 'METRIC' && row.status === 'FAILED' ? claim.armed : false;
        await this.release(claim, { armed, fired: true });
        return;
      }
    }
    if (claim.rule.triggerType === 'METRIC') await this.poll(claim);
    else await this.fire(claim);
  }

  private async fire(claim: Claim): Promise<void> {
    const { engine, clock } = this.options;
    const spec = claim.rule.triggerSpec as ScheduleTriggerSpec;
    const schedule = { dueAt: claim.due.toISOString(), missedRunsFolded: missedAfter(claim.rule, claim.due, clock.now()) };
    await engine.trigger({ rule: claim.rule, payload: spec.payload ?? null, executedBy: TIMED.SCHEDULE.executedBy, references: { [TIMED.SCHEDULE.key]: schedule }, queueable: true });
    await this.release(claim, { armed: claim.armed, fired: true });
  }

  /**
   * METRIC, edge-triggered: fires when the value meets the threshold and the rule is armed, then
   * disarms; a poll whose value does not meet re-arms. The armed state lives in the lease row, so
   * every instance shares it. A failed poll writes a FAILED row and leaves the armed state as is.
   */
  private async poll(claim: Claim): Promise<void> {
    const { engine, http, clock, metricPollTimeoutMs } = this.options;
    const { rule } = claim;
    const spec = rule.triggerSpec as { endpoint: string; method: string };
    const startedAt = clock.now();
    const outcome = await pollMetric(rule, http, metricPollTimeoutMs);
    // Shutting down: write nothing; the lease expires and another instance (or the next start) polls again.
    if (this.stopped) return;
    const poll = { dueAt: claim.due.toISOString(), endpoint: spec.endpoint, method: spec.method, status: outcome.status };
    if (!outcome.ok) {
      await engine.recordFailed({ rule, payload: null, executedBy: TIMED.METRIC.executedBy, references: { [TIMED.METRIC.key]: poll } }, { code: METRIC_POLL_FAILED, message: outcome.message }, startedAt);
      await this.release(claim, { armed: claim.armed, fired: false });
      return;
    }
    if (!outcome.met) return this.release(claim, { armed: true, fired: false });
    if (!claim.armed) return this.release(claim, { armed: false, fired: false });
    await engine.trigger({ rule, payload: outcome.body, executedBy: TIMED.METRIC.executedBy, references: { [TIMED.METRIC.key]: { ...poll, value: outcome.value } }, queueable: true });
    await this.release(claim, { armed: false, fired: true });
  }

  private async release(claim: Claim, state: { armed: boolean; fired: boolean }): Promise<void> {
    const { sql, clock, instanceId } = this.options;
    const now = clock.now();
    await sql.query(RELEASE, [
      nextDue(claim.rule, claim.due, now).toISOString(),
      state.armed,
      state.fired ? claim.due.toISOString() : null,
      state.fired ? now.toISOString() : null,
      now.toISOString(),
      claim.rule.id,
      instanceId,
      claim.timing,
    ]);
  }

  /** Stops claiming; waits (at most graceMs) for the runs this instance claimed. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    const pending = Promise.allSettled([this.ticking, ...this.jobs.values()]);
    await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }
}
