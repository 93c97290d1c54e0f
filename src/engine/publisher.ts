import { randomUUID } from 'node:crypto';
import type { Execution } from '../entities/index.js';
import type { Engine, StartedRun } from './engine.js';
import type { ActiveRuleSet, RuleSetSnapshot, StreamFiring } from './ruleSet.js';
import type { RuleStatsCounter } from './stats.js';
import type { Throttle } from './throttle.js';

export interface PublishResult {
  eventId: string;
  /** Active EVENT rules whose condition the event met (held ones not counted). */
  matched: number;
  /** Root executions started by the event (RUNNING, QUEUED or SKIPPED). */
  executions: Execution[];
}

export interface BatchResult {
  accepted: number;
  matched: number;
  refused: { index: number; reason: string }[];
}

export const isEventObject = (event: unknown): event is Record<string, unknown> =>
  typeof event === 'object' && event !== null && !Array.isArray(event);

export const NOT_AN_OBJECT = 'an event must be a JSON object';

/** The most events one publishEvents call or POST /events request may carry. */
export const MAX_EVENTS_PER_CALL = 10_000;

/**
 * Feeds events to every active EVENT rule. Per rule the order is: condition, then throttle
 * (held: no row), then the rule's concurrency. Answers once each match's root row is written,
 * without waiting for actions.
 */
export class EventPublisher {
  constructor(
    private readonly engine: Engine,
    private readonly rules: ActiveRuleSet,
    private readonly throttle: Throttle,
    private readonly stats: RuleStatsCounter,
  ) {}

  async publish(event: Record<string, unknown>, source: string | null): Promise<PublishResult> {
    const { eventId, matched, starts } = this.dispatch(await this.rules.current(), event, source);
    const runs = await Promise.all(starts);
    return { eventId, matched, executions: runs.map((r) => r.started) };
  }

  /** Each event as publish() would handle it; one that is not an object is refused alone. */
  async publishMany(items: { index: number; event: unknown }[], source: string | null, refused: BatchResult['refused'] = []): Promise<BatchResult> {
    let matched = 0;
    let accepted = 0;
    const starts: Promise<StartedRun>[] = [];
    const snapshot = await this.rules.current();
    for (const { index, event } of items) {
      if (!isEventObject(event)) {
        refused.push({ index, reason: NOT_AN_OBJECT });
        continue;
      }
      accepted++;
      const dispatched = this.dispatch(snapshot, event, source);
      matched += dispatched.matched;
      starts.push(...dispatched.starts);
    }
    await Promise.all(starts);
    return { accepted, matched, refused: refused.sort((a, b) => a.index - b.index) };
  }

  private dispatch(snapshot: RuleSetSnapshot, event: Record<string, unknown>, source: string | null): { eventId: string; matched: number; starts: Promise<StartedRun>[] } {
    const eventId = randomUUID();
    const references = { event: { eventId, source } };
    const starts: Promise<StartedRun>[] = [];
    let matched = 0;
    for (const { rule, throttle } of snapshot.matching(event)) {
      this.stats.add(rule.id, 'matched');
      const token = throttle ? this.throttle.acquire(rule.id, throttle, event) : null;
      if (throttle && !token) {
        this.stats.add(rule.id, 'held');
        continue;
      }
      matched++;
      starts.push(this.start({ rule, payload: event, executedBy: 'event', references, queueable: true }, token));
    }
    for (const fired of snapshot.streamFirings(event)) {
      // A stream rule counts once per event, however many of its windows the event closed; firings
      // that only time caused (a window the event's clock closed) count in Rule.stats alone.
      const started = this.startFirings(fired, references);
      if (started.some((s) => s.cause === 'event')) matched++;
      starts.push(...started.map((s) => s.run));
    }
    return { eventId, matched, starts };
  }

  /** Firings of a stream rule, each through the throttle (keyed by its group or key) to a run. */
  private startFirings(fired: StreamFiring, references: Record<string, unknown>): { run: Promise<StartedRun>; cause: 'event' | 'time' }[] {
    const starts: { run: Promise<StartedRun>; cause: 'event' | 'time' }[] = [];
    for (const firing of fired.firings) {
      this.stats.add(fired.rule.id, 'matched');
      const token = fired.throttle ? this.throttle.acquire(fired.rule.id, fired.throttle, firing.throttleKeySource) : null;
      if (fired.throttle && !token) {
        this.stats.add(fired.rule.id, 'held');
        continue;
      }
      const evaluation = { met: true, trigger: firing.references };
      starts.push({ run: this.start({ rule: fired.rule, payload: firing.payload, executedBy: 'event', references, queueable: true, evaluation }, token), cause: firing.cause });
    }
    return starts;
  }

  /** Firings no event caused (window closes by the clock, session gaps, absence deadlines). */
  async publishTimerFirings(fired: StreamFiring): Promise<void> {
    await Promise.allSettled(this.startFirings(fired, {}).map((s) => s.run));
  }

  /** Starts a run; a throttle cooldown reserved for it is given back when the run did not start. */
  private async start(request: Parameters<Engine['trigger']>[0], token: ReturnType<Throttle['acquire']>): Promise<StartedRun> {
    try {
      const run = await this.engine.trigger(request);
      if (token && run.started.status === 'SKIPPED') this.throttle.release(token);
      return run;
    } catch (error) {
      if (token) this.throttle.release(token);
      throw error;
    }
  }
}
