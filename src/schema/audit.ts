import { redactCredentials } from '../shared/credentials.js';
import type { GraphQLContext } from './context.js';

/**
 * Writes the audit entry of a configuration change that is stored (SPEC.md, 'Access'): the
 * viewer's name, the mutation, its target and its arguments without literal credentials (secret
 * values and key secrets never reach it: setSecret and createApiKey hand over their other arguments).
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
    detail: redactCredentials(change.detail),
  });
  return change.result;
}
