import { checkIdempotencyKey, type IdempotentOperation, type IdempotentWork } from '../services/idempotency.js';
import type { GraphQLContext } from './context.js';

export const IDEMPOTENCY_KEY_DESCRIPTION = `1 to 200 characters. A repeat of this call by the same API key with the same
key (within IDEMPOTENCY_TTL_SECONDS) runs nothing and answers what the first
call produced; with other arguments it is BAD_USER_INPUT.`;

/**
 * A run-starting call: as it is without an idempotency key (not one more query); with one, at
 * most once per key (SPEC.md, 'Idempotency').
 */
/**
 * The keyed work of a call that starts one run: remembered by the run's id (under `field`) as soon
 * as the run is started, so a repeat answers the run as it is then, even while the first call
 * still waits for it.
 */
export function startsOneRun<T extends { id: string }>(
  field: string,
  start: (started: (run: T) => Promise<void>) => Promise<T>,
  existing: (id: string) => Promise<T>,
): IdempotentWork<T> {
  const stored = (run: T) => ({ [field]: run.id });
  return {
    run: (remember) => start((run) => remember(stored(run))),
    stored,
    replay: (value) => existing((value as Record<string, string>)[field]!),
  };
}

export function idempotently<T>(
  ctx: GraphQLContext,
  operation: IdempotentOperation,
  key: string | null | undefined,
  args: unknown,
  direct: () => Promise<T>,
  work: () => IdempotentWork<T>,
): Promise<T> {
  if (key == null) return direct();
  return ctx.services.idempotency.once({ operation, viewer: ctx.viewer, key: checkIdempotencyKey(key), args }, work());
}
