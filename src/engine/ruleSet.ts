import type { Rule } from '../entities/index.js';
import type { Logger } from '../logger.js';
import type { CompiledPredicate } from './conditions/index.js';
import type { EventBus } from './bus/eventBus.js';
import { toRule } from './store/rows.js';
import type { Sql } from './store/sql.js';
import type { TriggerEvaluator } from './trigger/evaluate.js';

export interface ActiveRule {
  rule: Rule;
  predicate: CompiledPredicate;
}

/** Reloaded at least this often even without a notice, as a safety net. */
const MAX_AGE_MS = 30_000;

/**
 * The active EVENT rules with their compiled predicates, as publishEvent needs them. A rule
 * change noticed on the bus (from this or another instance) makes the next read reload.
 */
export class ActiveRuleSet {
  private loaded: { at: number; rules: ActiveRule[] } | null = null;
  private loading: Promise<ActiveRule[]> | null = null;
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sql: Sql,
    private readonly evaluator: TriggerEvaluator,
    bus: EventBus,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = bus.subscribe('rule', ({ id }) => this.changed(id));
  }

  /**
   * A rule was written. Called directly by the instance that wrote it (so its next publishEvent
   * sees the change without waiting for the bus) and from the bus for the others; idempotent.
   */
  changed(ruleId: string) {
    this.evaluator.forget(ruleId);
    this.invalidate();
  }

  invalidate() {
    this.generation++;
    this.loaded = null;
  }

  async current(): Promise<ActiveRule[]> {
    if (this.loaded && Date.now() - this.loaded.at < MAX_AGE_MS) return this.loaded.rules;
    this.loading ??= this.load().finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(): Promise<ActiveRule[]> {
    const generation = this.generation;
    const rows = await this.sql.query(`SELECT * FROM rules WHERE active AND trigger_type = 'EVENT' ORDER BY created_at, id`);
    const rules: ActiveRule[] = [];
    for (const row of rows) {
      const rule = toRule(row);
      try {
        const predicate = this.evaluator.predicate(rule);
        if (predicate) rules.push({ rule, predicate });
      } catch (error) {
        this.logger.error({ err: error, ruleId: rule.id }, 'an active rule could not be compiled; it is left out');
      }
    }
    // A change noticed while loading makes this load stale: keep it for this call only.
    if (generation === this.generation) this.loaded = { at: Date.now(), rules };
    return rules;
  }

  close() {
    this.unsubscribe();
  }
}
