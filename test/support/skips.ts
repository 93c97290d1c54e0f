import { describe, it } from 'vitest';

/**
 * Suites that need something this run may not have. vitest's reporter prints neither the titles
 * of skipped suites nor any reason, so the reason is written to the output when the file is
 * collected: a log shows what did not run and why.
 */

/** Why a suite needing real PostgreSQL cannot run, or undefined when it can. */
export const withoutPostgres = (): string | undefined =>
  process.env.DATABASE_URL ? undefined : 'DATABASE_URL is unset, so there is no PostgreSQL to test against';

function tell(title: string, reason: string) {
  process.stdout.write(`[cepheus tests] skipped "${title}": ${reason}\n`);
}

/** describe, skipped (and said so) when `skipReason` is given. */
export function describeUnless(skipReason: string | undefined, title: string, body: () => void): void {
  if (skipReason) tell(title, skipReason);
  describe.skipIf(skipReason !== undefined)(title, body);
}

/** it, skipped (and said so) when `skipReason` is given. */
export function itUnless(skipReason: string | undefined, title: string, body: () => Promise<void> | void, timeoutMs?: number): void {
  if (skipReason) tell(title, skipReason);
  it.skipIf(skipReason !== undefined)(title, body, timeoutMs);
}
