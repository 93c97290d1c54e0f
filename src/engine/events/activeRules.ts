import type { Rule } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Clock, Timer } from '../../shared/clock.js';
import type { EventBus } from '../bus/eventBus.js';
import { RuleIndex } from './matcher/index.js';
import { conditionOf, eventSpecKind, type EventTriggerSpec, type ThrottleSpec } from '../rules/spec/index.js';
import { createStreamProcessor, type Firing, type StreamProcessor } from '../stream/index.js';
import type { RuleStore } from '../store/ruleStore.js';
import type { TriggerEvaluator } from '../rules/evaluate.js';

export interface ActiveRule {
  rule: Rule;
  throttle: ThrottleSpec | null;
}

interface StreamRule extends ActiveRule {
  processor: StreamProcessor;
}

export interface StreamFiring extends ActiveRule {
  firings: Firing[];
}

export interface RuleSetSnapshot {
  /** Plain-condition rules the event meets (found through the index, which verifies each candidate's condition). */
  matching(event: Record<string, unknown>): ActiveRule[];
  /** Stream rules the event makes fire, with their firings. */
  streamFirings(event: Record<string, unknown>): StreamFiring[];
}

export interface RuleSetOptions {
  rules: RuleStore;
  evaluator: TriggerEvaluator;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  /** Most groups / keys / pending timers kept per stream rule. */
  maxStreamGroups: number;
  /** Timer-driven firings (window closes, session gaps, absence deadlines). */
  onTimerFirings(fired: StreamFiring): void;
}

const throttleOf = (rule: Rule) => (rule.triggerSpec as { throttle?: ThrottleSpec }).throttle ?? null;

/**
 * The active EVENT rules as publishEvent needs them: plain conditions in an index, stream forms
 * with their in-memory state. Loaded once; after that each rule change updates only that rule,
 * here at once for the instance that wrote it and through the bus on the others.
 */
export class ActiveRuleSet implements RuleSetSnapshot {
  private readonly index = new RuleIndex<ActiveRule>();
  private readonly streams = new Map<string, StreamRule>();
  private loaded: Promise<void> | null = null;
  private readonly unsubscribe: () => void;
  private timer: Timer | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(private readonly options: RuleSetOptions) {
    this.unsubscribe = options.bus.subscribe('rule', ({ id }) => void this.reload(id));
  }

  /** A rule was written on this instance: apply it now (null: deleted). */
  apply(id: string, rule: Rule | null) {
    this.options.evaluator.forget(id);
    const previous = this.streams.get(id);
    if (!rule?.active || rule.triggerType !== 'EVENT') {
      this.index.remove(id);
      this.streams.delete(id);
      return;
    }
    const spec = rule.triggerSpec as EventTriggerSpec;
    try {
      if (eventSpecKind(spec) === 'condition') {
        this.streams.delete(id);
        // Matches come back in creation order.
        this.index.upsert({
          id,
          condition: conditionOf(spec),
          value: { rule, throttle: throttleOf(rule) },
          order: rule.createdAt.getTime(),
        });
      } else {
        this.index.remove(id);
        // Unchanged stream rules keep their state; a changed one starts afresh.
        if (previous && previous.rule.updatedAt.getTime() === rule.updatedAt.getTime()) return;
        const processor = createStreamProcessor(spec as never, { maxGroups: this.options.maxStreamGroups });
        this.streams.set(id, { rule, throttle: throttleOf(rule), processor });
        this.schedule();
      }
    } catch (error) {
      this.options.logger.error({ err: error, ruleId: id }, 'an active rule could not be compiled; it is left out');
    }
  }

  /** A rule changed (on any instance; the bus also echoes this one's own changes): read it again. */
  private async reload(id: string) {
    try {
      this.apply(id, await this.options.rules.get(id));
    } catch (error) {
      this.options.logger.warn({ err: error, ruleId: id }, 'could not reload a changed rule');
    }
  }

  private async loadAll() {
    for (const rule of await this.options.rules.activeEventRules()) this.apply(rule.id, rule);
  }

  async current(): Promise<RuleSetSnapshot> {
    this.loaded ??= this.loadAll();
    await this.loaded;
    return this;
  }

  matching(event: Record<string, unknown>): ActiveRule[] {
    return this.index.match(event);
  }

  streamFirings(event: Record<string, unknown>): StreamFiring[] {
    if (this.streams.size === 0) return [];
    const now = this.options.clock.now().getTime();
    const fired: StreamFiring[] = [];
    for (const stream of this.streams.values()) {
      const firings = stream.processor.onEvent(event, now);
      if (firings.length > 0) fired.push({ rule: stream.rule, throttle: stream.throttle, firings });
    }
    this.schedule();
    return fired;
  }

  /** Arms one timer for the earliest stream deadline (window closes by wall clock, gaps, absence). */
  private schedule() {
    if (this.closed) return;
    let next = Number.POSITIVE_INFINITY;
    for (const stream of this.streams.values()) next = Math.min(next, stream.processor.nextDeadline() ?? Number.POSITIVE_INFINITY);
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = next;
    if (!Number.isFinite(next)) return;
    const delay = Math.max(0, next - this.options.clock.now().getTime());
    this.timer = this.options.clock.setTimer(() => this.tick(), delay);
  }

  /** Lets time pass for every stream rule; also called by tests that move the clock. */
  tick() {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.options.clock.now().getTime();
    for (const stream of this.streams.values()) {
      const firings = stream.processor.onTime(now);
      if (firings.length > 0) this.options.onTimerFirings({ rule: stream.rule, throttle: stream.throttle, firings });
    }
    this.schedule();
  }

  close() {
    this.closed = true;
    this.timer?.cancel();
    this.unsubscribe();
  }
}
