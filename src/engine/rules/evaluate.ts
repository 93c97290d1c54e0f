import type { Rule } from '../../entities/index.js';
import { compileCondition, CompiledRuleCache, evaluateValue, readPath, type CompiledCondition } from './conditions/index.js';
import { conditionOf, eventSpecKind } from './spec/index.js';
import type { EventTriggerSpec, MetricTriggerSpec, ScheduleTriggerSpec, SequenceSpec, WindowSpec, AbsenceSpec, Condition } from './spec/index.js';

export interface TriggerEvaluation {
  met: boolean;
  /** `references.trigger` of the execution. */
  trigger: Record<string, unknown>;
}

interface CompiledTrigger {
  evaluate(payload: unknown): TriggerEvaluation;
}

function compileEvent(spec: EventTriggerSpec): CompiledTrigger {
  const kind = eventSpecKind(spec);
  if (kind === 'condition') {
    const condition = conditionOf(spec);
    const evaluate = compileCondition(condition);
    return { evaluate: (payload) => outcome(evaluate, payload) };
  }
  // Stream forms: triggerRule and simulateRule test the filter or first step only (SPEC.md).
  const [key, condition]: [string, Condition | undefined] =
    kind === 'window'
      ? ['window', (spec as WindowSpec).filter]
      : kind === 'sequence'
        ? ['sequence', (spec as SequenceSpec).sequence[0]]
        : ['absence', (spec as AbsenceSpec).absence.after];
  const test: CompiledCondition | null = condition ? compileCondition(condition) : null;
  return {
    evaluate(payload) {
      if (!test) return { met: true, trigger: { [key]: { filter: null, condition_evaluated: true } } };
      const result = test(payload);
      return { met: result.met, trigger: { [key]: { tested: kind === 'window' ? 'filter' : 'first step', ...result.references } } };
    },
  };
}

function outcome(evaluate: CompiledCondition, payload: unknown): TriggerEvaluation {
  const result = evaluate(payload);
  return { met: result.met, trigger: result.references };
}

function compileMetric(spec: MetricTriggerSpec): CompiledTrigger {
  return {
    evaluate(payload) {
      const { found, value } = readPath(payload, spec.valuePath);
      const result = evaluateValue(spec.valuePath, spec.op, spec.threshold, found, value);
      return { met: result.met, trigger: result.references };
    },
  };
}

function compileSchedule(spec: ScheduleTriggerSpec): CompiledTrigger {
  const schedule = 'cron' in spec ? { cron: spec.cron, timezone: spec.timezone } : { intervalSeconds: spec.intervalSeconds };
  return { evaluate: () => ({ met: true, trigger: { schedule } }) };
}

function compileTrigger(rule: Rule): CompiledTrigger {
  switch (rule.triggerType) {
    case 'EVENT':
      return compileEvent(rule.triggerSpec as EventTriggerSpec);
    case 'METRIC':
      return compileMetric(rule.triggerSpec as MetricTriggerSpec);
    case 'SCHEDULE':
      return compileSchedule(rule.triggerSpec as ScheduleTriggerSpec);
  }
}

/** Compiles each rule's trigger once per (rule id, updatedAt) and evaluates payloads against it. */
export class TriggerEvaluator {
  private readonly cache = new CompiledRuleCache<CompiledTrigger>();

  private compiled(rule: Rule): CompiledTrigger {
    return this.cache.get(rule.id, rule.updatedAt, () => compileTrigger(rule));
  }

  evaluate(rule: Rule, payload: unknown): TriggerEvaluation {
    return this.compiled(rule).evaluate(payload);
  }

  forget(ruleId: string) {
    this.cache.delete(ruleId);
  }
}
