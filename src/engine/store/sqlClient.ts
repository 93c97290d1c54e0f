/** The one way the engine talks SQL: positional `?` parameters, rows back. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs `work` in one transaction on one connection; nothing else may be awaited inside. */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
}

/** PostgreSQL timestamps come back as text from the driver; this reads every form it sends. */
export function parseTimestamp(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  const text = String(value)
    .replace(' ', 'T')
    .replace(/([+-]\d\d)$/, '$1:00');
  return new Date(text);
}

export const parseOptionalTimestamp = (value: unknown): Date | null => (value == null ? null : parseTimestamp(value));
