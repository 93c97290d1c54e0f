import { randomUUID } from 'node:crypto';
import type { Execution } from '../entities/index.js';
import type { Engine } from './engine.js';
import type { ActiveRuleSet } from './ruleSet.js';

export interface PublishResult {
  eventId: string;
  /** Active EVENT rules whose condition the event met. */
  matched: number;
  /** Root executions started by the event (RUNNING or SKIPPED). */
  executions: Execution[];
}

export const isEventObject = (event: unknown): event is Record<string, unknown> =>
  typeof event === 'object' && event !== null && !Array.isArray(event);

/** Feeds one event to every active EVENT rule; answers once each match's root row is written. */
export class EventPublisher {
  constructor(
    private readonly engine: Engine,
    private readonly rules: ActiveRuleSet,
  ) {}

  async publish(event: Record<string, unknown>, source: string | null): Promise<PublishResult> {
    const eventId = randomUUID();
    const active = await this.rules.current();
    const references = { event: { eventId, source } };
    const starts: Promise<{ started: Execution }>[] = [];
    for (const { rule, predicate } of active) {
      if (predicate(event)) starts.push(this.engine.trigger({ rule, payload: event, executedBy: 'event', references }));
    }
    const runs = await Promise.all(starts);
    return { eventId, matched: runs.length, executions: runs.map((r) => r.started) };
  }
}
