import { randomUUID } from 'node:crypto';
import type { Execution, Rule } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import { jsonShapeRefusal } from '../../shared/jsonShape.js';
import type { RunSystem, StartedRun } from '../runs/runSystem.js';
import type { ActiveRuleSet, RuleSetSnapshot, StreamFiring } from './activeRules.js';
import type { RuleStatsCounter } from '../rules/stats.js';
import type { Throttle } from './throttle.js';
import type { EngineObserver } from '../observer.js';
import { spanned } from '../../observability/spans.js';

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

export const isEventObject = (event: unknown): event is Record<string, unknown> => typeof event === 'object' && event !== null && !Array.isArray(event);

export const NOT_AN_OBJECT = 'an event must be a JSON object';

/** Why an event cannot be published (not an object, nested too deep, a number not finite), or null. */
export function eventRefusal(event: unknown): string | null {
  if (!isEventObject(event)) return NOT_AN_OBJECT;
  return jsonShapeRefusal('event', event)?.message ?? null;
}

/** One run an event started, with its rule (to say which rules ran when others could not). */
interface EventStart {
  rule: Pick<Rule, 'id' | 'name'>;
  run: Promise<StartedRun>;
}

/** An accepted event of a batch while its runs start. */
interface BatchEvent {
  index: number;
  matched: number;
  starts: EventStart[];
  /** What stopped the event before all its matches were started (the matching itself threw). */
  failure: unknown;
}

/** The most events one publishEvents call or POST /events request may carry. */
export const MAX_EVENTS_PER_CALL = 10_000;

/**
 * Feeds events to every active EVENT rule. Per rule the order is: condition, then throttle
 * (held: no row), then the rule's concurrency. Answers once each match's root row is written,
 * without waiting for actions.
 */
export class EventPublisher {
  constructor(
    private readonly runs: RunSystem,
    private readonly rules: ActiveRuleSet,
    private readonly throttle: Throttle,
    private readonly stats: RuleStatsCounter,
    private readonly logger: Logger,
    private readonly observer: EngineObserver,
  ) {}

  async publish(event: Record<string, unknown>, source: string | null): Promise<PublishResult> {
    const starts: EventStart[] = [];
    let dispatched: { eventId: string; matched: number };
    try {
      dispatched = this.dispatch(await this.rules.current(), event, source, starts);
    } catch (error) {
      // Runs begun before the throw are settled first, so none ends unobserved.
      await Promise.allSettled(starts.map((s) => s.run));
      this.observer.eventsPublished('REFUSED', 1);
      throw error;
    }
    const { eventId, matched } = dispatched;
    let runs: StartedRun[];
    try {
      runs = await Promise.all(starts.map((s) => s.run));
    } catch (error) {
      this.observer.eventsPublished('REFUSED', 1);
      throw error;
    }
    this.observer.eventsPublished(matched > 0 ? 'MATCHED' : 'UNMATCHED', 1);
    return { eventId, matched, executions: runs.map((r) => r.started) };
  }

  /**
   * Each event as publish() would handle it. One that is not an object or not of an acceptable
   * JSON shape is refused alone; one whose runs could not all be started (the database refused a
   * row, the matching threw) is refused too, saying which of its rules ran, and the others go on:
   * the answer accounts for every event, never an error after some of them ran.
   */
  async publishMany(items: { index: number; event: unknown }[], source: string | null, refused: BatchResult['refused'] = []): Promise<BatchResult> {
    const snapshot = await this.rules.current();
    const accepted: BatchEvent[] = [];
    for (const { index, event } of items) {
      const refusal = eventRefusal(event);
      if (refusal) {
        refused.push({ index, reason: refusal });
        continue;
      }
      const batchEvent: BatchEvent = { index, matched: 0, starts: [], failure: null };
      try {
        batchEvent.matched = this.dispatch(snapshot, event as Record<string, unknown>, source, batchEvent.starts).matched;
      } catch (error) {
        batchEvent.failure = error;
      }
      accepted.push(batchEvent);
    }
    const outcomes = await Promise.all(accepted.map((e) => Promise.allSettled(e.starts.map((s) => s.run))));
    let matched = 0;
    let count = 0;
    let unmatched = 0;
    let failed = 0;
    let firstError: unknown = null;
    accepted.forEach((event, i) => {
      const notStarted = event.starts.filter((_, j) => outcomes[i]![j]!.status === 'rejected');
      if (event.failure === null && notStarted.length === 0) {
        count++;
        matched += event.matched;
        if (event.matched === 0) unmatched++;
        return;
      }
      failed++;
      firstError ??= event.failure ?? (outcomes[i]!.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason;
      const started = event.starts.filter((s) => !notStarted.includes(s));
      refused.push({ index: event.index, reason: failureReason(event.failure !== null, notStarted, started) });
    });
    if (failed > 0) this.logger.error({ err: firstError, events: failed }, 'events of a batch could not be handled; they are refused in the answer');
    if (count > unmatched) this.observer.eventsPublished('MATCHED', count - unmatched);
    if (unmatched > 0) this.observer.eventsPublished('UNMATCHED', unmatched);
    if (refused.length > 0) this.observer.eventsPublished('REFUSED', refused.length);
    return { accepted: count, matched, refused: refused.sort((a, b) => a.index - b.index) };
  }

  /**
   * Matches the event and starts its runs, each added to `starts` as soon as it is begun. With
   * tracing on, each event starts a trace of its own (`cepheus.event`, linked to the request's
   * span), and its runs' spans go under it.
   */
  private dispatch(
    snapshot: RuleSetSnapshot,
    event: Record<string, unknown>,
    source: string | null,
    starts: EventStart[],
  ): { eventId: string; matched: number } {
    const eventId = randomUUID();
    const matched = spanned(
      'cepheus.event',
      { root: true, link: true, attributes: { 'cepheus.event.id': eventId, ...(source === null ? {} : { 'cepheus.event.source': source }) } },
      () => this.startMatches(snapshot, event, { event: { eventId, source } }, starts),
      (count) => ({ 'cepheus.event.matched': count }),
    );
    return { eventId, matched };
  }

  private startMatches(snapshot: RuleSetSnapshot, event: Record<string, unknown>, references: Record<string, unknown>, starts: EventStart[]): number {
    let matched = 0;
    for (const { rule, throttle } of snapshot.matching(event)) {
      this.stats.add(rule.id, 'matched');
      this.observer.ruleMatched();
      const token = throttle ? this.throttle.acquire(rule.id, throttle, event) : null;
      if (throttle && !token) {
        this.stats.add(rule.id, 'held');
        continue;
      }
      matched++;
      starts.push({ rule, run: this.start({ rule, payload: event, executedBy: 'event', references, queueable: true }, token) });
    }
    for (const fired of snapshot.streamFirings(event)) {
      // A stream rule counts once per event, however many of its windows the event closed; firings
      // that only time caused (a window the event's clock closed) count in Rule.stats alone.
      let byEvent = false;
      this.startFirings(fired, references, (run, cause) => {
        starts.push({ rule: fired.rule, run });
        byEvent ||= cause === 'event';
      });
      if (byEvent) matched++;
    }
    return matched;
  }

  /**
   * Firings of a stream rule, each through the throttle (keyed by its group or key) to a run,
   * handed to `started` as soon as it is begun (so a throw later in the loop loses none).
   */
  private startFirings(fired: StreamFiring, references: Record<string, unknown>, started: (run: Promise<StartedRun>, cause: 'event' | 'time') => void): void {
    for (const firing of fired.firings) {
      this.stats.add(fired.rule.id, 'matched');
      this.observer.ruleMatched();
      const token = fired.throttle ? this.throttle.acquire(fired.rule.id, fired.throttle, firing.throttleKeySource) : null;
      if (fired.throttle && !token) {
        this.stats.add(fired.rule.id, 'held');
        continue;
      }
      const evaluation = { met: true, trigger: firing.references };
      started(this.start({ rule: fired.rule, payload: firing.payload, executedBy: 'event', references, queueable: true, evaluation }, token), firing.cause);
    }
  }

  /** Firings no event caused (window closes by the clock, session gaps, absence deadlines). */
  async publishTimerFirings(fired: StreamFiring): Promise<void> {
    const runs: Promise<StartedRun>[] = [];
    // A trace of its own, not the one of the event whose handling set the timer.
    try {
      spanned(
        'cepheus.stream_timer',
        { root: true, attributes: { 'cepheus.rule.id': fired.rule.id } },
        () => this.startFirings(fired, {}, (run) => runs.push(run)),
        () => ({ 'cepheus.runs': runs.length }),
      );
    } catch (error) {
      this.logger.error({ err: error, ruleId: fired.rule.id }, 'firings of a stream rule could not all be started');
    }
    await Promise.allSettled(runs);
  }

  /** Starts a run; a throttle cooldown reserved for it is given back when the run did not start. */
  private async start(request: Parameters<RunSystem['trigger']>[0], token: ReturnType<Throttle['acquire']>): Promise<StartedRun> {
    try {
      const run = await this.runs.trigger(request);
      if (token && run.started.status === 'SKIPPED') this.throttle.release(token);
      return run;
    } catch (error) {
      if (token) this.throttle.release(token);
      throw error;
    }
  }
}

const ruleNames = (starts: EventStart[]) => [...new Map(starts.map((s) => [s.rule.id, `"${s.rule.name}" (${s.rule.id})`])).values()].join(', ');

/** The reason of an event refused by an internal failure: what did not start, and what did. */
function failureReason(matchingFailed: boolean, notStarted: EventStart[], started: EventStart[]): string {
  const what = matchingFailed ? 'the event could not be matched against every rule' : `the runs of ${ruleNames(notStarted)} could not be started`;
  const ran = started.length ? `; runs of ${ruleNames(started)} did start` : '; nothing of it ran';
  return `internal error: ${what}${ran}`;
}
