import type { Rule } from '../../entities/index.js';
import type { Clock } from '../../shared/clock.js';
import { isUuid } from '../../shared/ids.js';
import type { EventBus } from '../bus/eventBus.js';
import type { RuleReader } from '../resources.js';
import type { RuleStore } from '../store/ruleStore.js';

/** Entries are read again after this long even without a change notice (a notice lost with a dropped connection). */
const MAX_AGE_MS = 30_000;
const MAX_ENTRIES = 10_000;

/**
 * Rules as triggerRule and trigger_rule actions read them, kept in memory: a change made here is
 * dropped at once (forget), one made on another instance when its bus notice arrives.
 */
export class RuleCache implements RuleReader {
  private readonly entries = new Map<string, { at: number; rule: Promise<Rule | null> }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: RuleStore,
    bus: EventBus,
    private readonly clock: Clock,
  ) {
    this.unsubscribe = bus.subscribe('rule', ({ id }) => this.forget(id));
  }

  getRule(id: string): Promise<Rule | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    const now = this.clock.now().getTime();
    const cached = this.entries.get(id);
    if (cached && now - cached.at < MAX_AGE_MS) return cached.rule;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const rule = this.store.get(id);
    const entry = { at: now, rule };
    this.entries.set(id, entry);
    // Unknown ids and failed reads are not kept.
    void rule.then(
      (found) => !found && this.entries.get(id) === entry && this.entries.delete(id),
      () => this.entries.get(id) === entry && this.entries.delete(id),
    );
    return rule;
  }

  forget(id: string) {
    this.entries.delete(id);
  }

  close() {
    this.unsubscribe();
  }
}
