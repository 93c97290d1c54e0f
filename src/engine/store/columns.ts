/**
 * Rows sent to PostgreSQL as bound parameters rather than as a JSON document (which cost the
 * database more to parse than the rows cost to insert): one row as one parameter per column, any
 * number of rows as one array per column, read back with `unnest`.
 */

type Row = Record<string, unknown>;

/** Column name to PostgreSQL type, in the order the arrays are sent. */
export type ColumnTypes = Readonly<Record<string, string>>;

/** The columns named, with their types, in the order given. */
export function pickTypes(types: ColumnTypes, columns: readonly string[]): ColumnTypes {
  return Object.fromEntries(columns.map((c) => [c, types[c]!]));
}

/** A quoted column list (`"a", "b"`): some column names, such as references, are reserved words. */
export const columnList = (types: ColumnTypes) =>
  Object.keys(types)
    .map((c) => `"${c}"`)
    .join(', ');

/** `unnest(?::t1[], ?::t2[], …) AS alias("c1", "c2", …)`: the rows whose arrays `columnArrays` makes. */
export const unnestRows = (types: ColumnTypes, alias: string) =>
  `unnest(${Object.values(types)
    .map((t) => `?::${t}[]`)
    .join(', ')}) AS ${alias}(${columnList(types)})`;

/** `(?::t1, ?::t2, …)`: one row, its values sent as `rowValues` makes them. */
export const valuesRow = (types: ColumnTypes) =>
  `(${Object.values(types)
    .map((t) => `?::${t}`)
    .join(', ')})`;

/** `"c1" = ?::t1, …`: an UPDATE's SET list for one row, its values sent as `rowValues` makes them. */
export const setValues = (types: ColumnTypes) =>
  Object.entries(types)
    .map(([c, t]) => `"${c}" = ?::${t}`)
    .join(', ');

const toParam = (value: unknown, type: string) => (value == null ? null : type === 'jsonb' ? JSON.stringify(value) : value);

/** One row's values, in the order of `types` (JSON as text, as in `columnArrays`). */
export const rowValues = (row: Row, types: ColumnTypes): unknown[] => Object.entries(types).map(([column, type]) => toParam(row[column], type));

/**
 * One array per column of `types`, in its order. JSON columns travel as JSON text (a JSON string
 * or number would otherwise reach PostgreSQL as bare text); null stays SQL NULL.
 */
export function columnArrays(rows: readonly Row[], types: ColumnTypes): unknown[][] {
  return Object.entries(types).map(([column, type]) => rows.map((row) => toParam(row[column], type)));
}
