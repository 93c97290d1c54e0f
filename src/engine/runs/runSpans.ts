import type { Execution } from '../../entities/index.js';
import { endSpan, inSpan, startSpan, type Attributes, type Span } from '../../observability/spans.js';
import type { ActionOutcome } from '../actions/types.js';

/**
 * The spans of a run (when tracing is on; null and no-ops otherwise): `cepheus.run` for each
 * execution, under its parent's `cepheus.action` span for a trigger_rule child, else under the
 * active span (an event's, a scheduled fire's, a GraphQL operation's), with `cepheus.condition`
 * and `cepheus.action` below it.
 */

/** `parentAction` undefined: under the active span; `root`: a trace of its own (a queued run started later). */
export function startRunSpan(rule: { id: string; name: string }, executedBy: string, parentAction: Span | null | undefined, root = false): Span | null {
  return startSpan('cepheus.run', {
    parent: parentAction,
    root,
    attributes: { 'cepheus.rule.id': rule.id, 'cepheus.rule.name': rule.name, 'cepheus.executed_by': executedBy },
  });
}

/** Ends a run's span with its row as written: started (QUEUED, SKIPPED) or finished. */
export function endRunSpan(span: Span | null, row: Execution): void {
  if (!span) return;
  const attributes: Attributes = {
    'cepheus.execution.id': row.id,
    'cepheus.cascade.id': row.cascadeId,
    'cepheus.execution.depth': row.depth,
    'cepheus.execution.status': row.status,
    'cepheus.condition.met': row.conditionMet,
  };
  if (row.skipReason) attributes['cepheus.skip_reason'] = row.skipReason;
  if (row.errorCode) attributes['cepheus.error.code'] = row.errorCode;
  endSpan(span, attributes, row.status === 'FAILED' ? row.errorCode : null);
}

/** A run that ended without a row to tell (the database refused its start). */
export function failRunSpan(span: Span | null): void {
  endSpan(span, undefined, 'error');
}

export function startActionSpan(run: Span | null, actionType: unknown, attempt = 1): Span | null {
  if (!run) return null;
  return startSpan('cepheus.action', { parent: run, attributes: { 'cepheus.action.type': String(actionType), 'cepheus.attempt': attempt } });
}

/** A later webhook attempt of a RETRYING execution: an action span starting a trace of its own. */
export function startAttemptSpan(row: Execution, attempt: number): Span | null {
  return startSpan('cepheus.action', {
    root: true,
    attributes: {
      'cepheus.action.type': 'webhook',
      'cepheus.attempt': attempt,
      'cepheus.rule.id': row.ruleId,
      'cepheus.execution.id': row.id,
      'cepheus.cascade.id': row.cascadeId,
    },
  });
}

/** Runs an action with its span active, and ends the span with the outcome (failed when the action throws). */
export async function inActionSpan(span: Span | null, run: () => Promise<ActionOutcome>): Promise<ActionOutcome> {
  if (!span) return run();
  try {
    const outcome = await inSpan(span, run);
    endActionSpan(span, outcome);
    return outcome;
  } catch (error) {
    endSpan(span, undefined, error instanceof Error ? error.name : 'error');
    throw error;
  }
}

function endActionSpan(span: Span, outcome: ActionOutcome): void {
  const attributes: Attributes = { 'cepheus.action.status': outcome.status };
  if (outcome.error) attributes['cepheus.error.code'] = outcome.error.code;
  if (outcome.delivery?.retryAt) attributes['cepheus.retry_at'] = outcome.delivery.retryAt.toISOString();
  endSpan(span, attributes, outcome.error?.code ?? null);
}
