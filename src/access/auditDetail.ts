import { redactCredentials } from '../shared/credentials.js';

/**
 * What an audit entry keeps of a mutation's arguments: everything but literal credentials in
 * specs (SPEC.md, 'Secrets'). Secret values and key secrets never reach it: the resolvers of
 * setSecret and createApiKey hand over their other arguments only.
 */
export function auditDetail(args: Record<string, unknown>): unknown {
  return redactCredentials(args);
}
