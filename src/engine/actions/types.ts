import type { Redactor } from '../secrets/redactor.js';
import type { DeliveryAttempt, Execution, LogLevelValue } from '../../entities/index.js';
import type { ActionSpec } from '../rules/spec/index.js';

/** What a trigger_rule action gets back from the engine when it starts a child. */
export type ChildOutcome = { ok: true; execution: Execution } | { ok: false; code: 'RULE_NOT_FOUND' | 'RULE_INACTIVE'; message: string };

export interface ActionContext {
  rule: { id: string; name: string };
  execution: { id: string; depth: number; cascadeId: string };
  /** `webhook-id` of a webhook request: the id of the execution that first sent it (the same on redeliveries). */
  webhookId: string;
  /** The trigger payload. */
  payload: unknown;
  /** A log line of this execution (stored and streamed on actionLogs); API scripts name their run. */
  log(level: LogLevelValue, message: string, data?: unknown, apiExecutionId?: string | null): void;
  /**
   * Runs another rule as a child of this execution and waits for it to finish. The child's final
   * row is written with this execution's own final write, so an action returns as soon as it has
   * what it needs from the child.
   */
  runChild(ruleId: string, payload: unknown): Promise<ChildOutcome>;
  /** Hides, in what the run stores, the secrets it read and its spec's literal credentials. */
  redactor: Redactor;
  /** Which attempt of the execution's action this is, from 1 (webhooks retry; SPEC.md, 'Delivery'). */
  attempt: number;
}

export interface ActionOutcome {
  status: 'SUCCESS' | 'FAILED';
  result: unknown;
  /** `references.action`. */
  references: Record<string, unknown>;
  error?: { code: string; message: string };
  /** Webhooks: the attempt this run made, and when the next one is due if another follows. */
  delivery?: { attempt: DeliveryAttempt; retryAt: Date | null };
}

/** One action type. `spec` is the rule's action spec with its templates already filled in. */
export interface Action<S extends ActionSpec = ActionSpec> {
  readonly type: S['type'];
  run(spec: S, ctx: ActionContext): Promise<ActionOutcome>;
}
