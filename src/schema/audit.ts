import { auditDetail } from '../access/auditDetail.js';
import type { GraphQLContext } from './context.js';

/**
 * Writes the audit entry of a configuration change that is stored (SPEC.md, 'Access'): the
 * viewer's name, the mutation, its target and its arguments as auditDetail keeps them.
 */
export async function audit<T>(
  context: GraphQLContext,
  action: string,
  change: { result: T; targetId: (result: T) => string | null; detail: Record<string, unknown> },
): Promise<T> {
  await context.services.audit.record({
    actor: context.viewer.name,
    action,
    targetId: change.targetId(change.result),
    detail: auditDetail(change.detail),
  });
  return change.result;
}
