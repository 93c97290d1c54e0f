/**
 * The error of a run (execution or API run) whose final write the database refused: its row is
 * written FAILED with it, without what could not be stored.
 */
export const STORE_FAILED = { code: 'STORE_FAILED', message: 'the result of this run could not be stored' } as const;

/**
 * What of a failed statement may be logged: PostgreSQL's error code (SQLSTATE) and the kind of
 * error. A driver error carries more in its other fields (the refused value in `where` or
 * `detail`, sometimes the statement or its parameters), so it is never logged whole.
 */
export function storeErrorFields(error: unknown): { pgCode: string | null; errorKind: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    pgCode: typeof code === 'string' ? code : null,
    errorKind: error instanceof Error ? error.constructor.name : typeof error,
  };
}

/** Waits between tries of a STORE_FAILED write: doubling from 250 ms, at most 30 s. */
export const storeRetryDelayMs = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 30_000);

/**
 * Makes a STORE_FAILED write until the database takes it (an outage or a dropped connection
 * passes), so that the run does not stay RUNNING, its rule locked, while this process lives.
 * `refused` is told of each failed try. The timer does not hold the process up: when it stops
 * first, the heartbeat sweep of another instance (or the next start) finishes the row.
 */
export async function writeUntilTaken<T>(write: () => Promise<T>, refused: (error: unknown, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      refused(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, storeRetryDelayMs(attempt)).unref());
    }
  }
}
