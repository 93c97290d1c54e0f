import type { TriggerRuleActionSpec } from '../rules/spec/index.js';
import type { Action, ActionContext, ActionOutcome } from './types.js';

/** Runs the target rule as a child (depth + 1, same cascade) and reports the child's outcome. */
export class TriggerRuleAction implements Action<TriggerRuleActionSpec> {
  readonly type = 'trigger_rule';

  async run(spec: TriggerRuleActionSpec, ctx: ActionContext): Promise<ActionOutcome> {
    const references: Record<string, unknown> = { action_type: 'trigger_rule', target_rule_id: spec.rule_id, trigger_status: null };
    const payload = 'payload' in spec && spec.payload !== undefined ? spec.payload : ctx.payload;
    const outcome = await ctx.runChild(spec.rule_id, payload);
    if (!outcome.ok) {
      ctx.log('ERROR', `cannot trigger rule ${spec.rule_id}: ${outcome.message}`, { targetRuleId: spec.rule_id, code: outcome.code });
      return { status: 'FAILED', result: null, references, error: { code: outcome.code, message: outcome.message } };
    }
    const child = outcome.execution;
    references.trigger_status = child.status;
    ctx.log('INFO', `triggered rule ${child.ruleName ?? child.ruleId} (${child.ruleId}): execution ${child.id} ${child.status}`, {
      targetRuleId: child.ruleId,
      childExecutionId: child.id,
      status: child.status,
    });
    return {
      status: 'SUCCESS',
      result: { trigger_result: { executionId: child.id, status: child.status, conditionMet: child.conditionMet, durationMs: child.durationMs } },
      references,
    };
  }
}
