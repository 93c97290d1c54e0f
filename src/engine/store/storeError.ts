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
