import type { Rule } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Clock, Timer } from '../../shared/clock.js';
import type { RunSystem } from '../runs/runSystem.js';
import type { OutboundHttpClient } from '../outbound/client.js';
import { METRIC_POLL_FAILED, pollMetric } from './metricPoll.js';
import { firstDue, missedAfter, nextDue, timingKey } from './scheduleTiming.js';
import type { ScheduleTriggerSpec } from '../rules/spec/index.js';
import type { ScheduleStore } from '../store/scheduleStore.js';
import type { SecretReader } from '../secrets/vault.js';
import { redactCredentials } from '../../shared/credentials.js';
import { traced } from '../../observability/spans.js';

export interface SchedulerOptions {
  store: ScheduleStore;
  runs: RunSystem;
  http: OutboundHttpClient;
  secrets: SecretReader;
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
    const { store, clock, instanceId } = this.options;
    for (const { rule, lease } of await store.loadTimedRules()) {
      if (this.stopped) return;
      if (this.jobs.has(rule.id)) continue;
      let timing: string;
      try {
        timing = timingKey(rule);
      } catch (error) {
        if (!this.badRules.has(rule.id))
          this.options.logger.error({ err: error, ruleId: rule.id }, 'a SCHEDULE/METRIC rule has a spec the scheduler cannot read; it is left out');
        this.badRules.add(rule.id);
        continue;
      }
      const now = clock.now();
      let due = lease?.dueAt ?? null;
      const leaseVersion = lease?.ruleUpdatedAt ?? null;
      if (due === null || (lease?.timing !== timing && leaseVersion !== null && leaseVersion.getTime() < rule.updatedAt.getTime())) {
        const fresh = await store.startLease(rule, timing, firstDue(rule, now), now);
        if (!fresh) continue;
        due = fresh;
      } else if (lease?.timing !== timing) {
        continue; // our copy of the rule is older than the lease's: the next tick reloads it
      } else if (lease.owner !== null && lease.leaseUntil !== null && lease.leaseUntil.getTime() >= now.getTime()) {
        continue; // held by an instance working on it
      }
      if (due.getTime() > now.getTime()) continue;
      const leaseMs = rule.triggerType === 'METRIC' ? this.options.metricPollTimeoutMs + METRIC_LEASE_MARGIN_MS : SCHEDULE_LEASE_MS;
      const claimed = await store.claim(rule.id, timing, instanceId, now, new Date(now.getTime() + leaseMs));
      if (!claimed) continue;
      const claim: Claim = { rule, timing, due: claimed.dueAt, takenOver: claimed.takenOver, armed: claimed.metricArmed };
      // Each fire (a METRIC poll, and the run it may start) is a trace of its own.
      const attributes = { 'cepheus.rule.id': rule.id, 'cepheus.trigger.type': rule.triggerType, 'cepheus.schedule.due_at': claim.due.toISOString() };
      const job = traced('cepheus.schedule', { root: true, attributes }, () => this.run(claim))
        .catch((error: unknown) =>
          this.options.logger.error({ err: error, ruleId: rule.id }, 'a scheduled run failed; its lease expires and the run is retried'),
        )
        .finally(() => this.jobs.delete(rule.id));
      this.jobs.set(rule.id, job);
    }
  }

  private async run(claim: Claim): Promise<void> {
    const { executedBy, key } = TIMED[claim.rule.triggerType === 'METRIC' ? 'METRIC' : 'SCHEDULE'];
    if (claim.takenOver) {
      const status = await this.options.store.statusOfTimedRun(claim.rule.id, new Date(claim.due.getTime() - TAKEOVER_LOOKBACK_MS), executedBy, key, claim.due);
      if (status !== null) {
        // The previous holder wrote the row of this due run, then stopped before freeing the lease.
        const armed = claim.rule.triggerType === 'METRIC' && status === 'FAILED' ? claim.armed : false;
        await this.release(claim, { armed, fired: true });
        return;
      }
    }
    if (claim.rule.triggerType === 'METRIC') await this.poll(claim);
    else await this.fire(claim);
  }

  private async fire(claim: Claim): Promise<void> {
    const { runs, clock } = this.options;
    const spec = claim.rule.triggerSpec as ScheduleTriggerSpec;
    const schedule = { dueAt: claim.due.toISOString(), missedRunsFolded: missedAfter(claim.rule, claim.due, clock.now()) };
    await runs.trigger({
      rule: claim.rule,
      payload: spec.payload ?? null,
      executedBy: TIMED.SCHEDULE.executedBy,
      references: { [TIMED.SCHEDULE.key]: schedule },
      queueable: true,
    });
    await this.release(claim, { armed: claim.armed, fired: true });
  }

  /**
   * METRIC, edge-triggered: fires when the value meets the threshold and the rule is armed, then
   * disarms; a poll whose value does not meet re-arms. The armed state lives in the lease row, so
   * every instance shares it. A failed poll writes a FAILED row and leaves the armed state as is.
   */
  private async poll(claim: Claim): Promise<void> {
    const { runs, http, secrets, clock, metricPollTimeoutMs } = this.options;
    const { rule } = claim;
    const spec = rule.triggerSpec as { endpoint: string; method: string };
    const startedAt = clock.now();
    const outcome = await pollMetric(rule, http, metricPollTimeoutMs, secrets);
    // Shutting down: write nothing; the lease expires and another instance (or the next start) polls again.
    if (this.stopped) return;
    const poll = { dueAt: claim.due.toISOString(), endpoint: redactCredentials(spec.endpoint), method: spec.method, status: outcome.status };
    if (!outcome.ok) {
      await runs.recordFailed(
        { rule, payload: null, executedBy: TIMED.METRIC.executedBy, references: { [TIMED.METRIC.key]: poll } },
        { code: METRIC_POLL_FAILED, message: outcome.message },
        startedAt,
      );
      await this.release(claim, { armed: claim.armed, fired: false });
      return;
    }
    if (!outcome.met) return this.release(claim, { armed: true, fired: false });
    if (!claim.armed) return this.release(claim, { armed: false, fired: false });
    await runs.trigger({
      rule,
      payload: outcome.body,
      executedBy: TIMED.METRIC.executedBy,
      references: { [TIMED.METRIC.key]: { ...poll, value: outcome.value } },
      queueable: true,
    });
    await this.release(claim, { armed: false, fired: true });
  }

  private async release(claim: Claim, state: { armed: boolean; fired: boolean }): Promise<void> {
    const { store, clock, instanceId } = this.options;
    const now = clock.now();
    await store.release(claim.rule.id, claim.timing, instanceId, {
      due: nextDue(claim.rule, claim.due, now),
      armed: state.armed,
      firedDue: state.fired ? claim.due : null,
      now,
    });
  }

  /** Stops claiming; waits (at most graceMs) for the runs this instance claimed. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    const pending = Promise.allSettled([this.ticking, ...this.jobs.values()]);
    await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }
}
