/**
 * One row sent to PostgreSQL as one bound parameter per column, rather than as a JSON document
 * read back with `jsonb_populate_record(set)`: for one row, parsing the document cost the database
 * more than the row's own insert. Batches of rows still travel as one JSON document (see
 * docs/decisions.md, "Writing executions").
 */

import { storableJsonText, storableText } from '../../shared/storable.js';

type Row = Record<string, unknown>;

/** Column name to PostgreSQL type, in the order the values are sent. */
export type ColumnTypes = Readonly<Record<string, string>>;

/** A PostgreSQL array literal of uuids (already validated ids; no quoting needed). */
export const uuidArray = (ids: readonly string[]) => `{${ids.join(',')}}`;

/** The columns named, with their types, in the order given. */
export function pickTypes(types: ColumnTypes, columns: readonly string[]): ColumnTypes {
  return Object.fromEntries(columns.map((c) => [c, types[c]!]));
}

/** A quoted column list (`"a", "b"`): some column names, such as references, are reserved words. */
export const columnList = (types: ColumnTypes) =>
  Object.keys(types)
    .map((c) => `"${c}"`)
    .join(', ');

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

/** `"c1" = alias."c1", …`: an UPDATE's SET list read from the rows named `alias`. */
export const setColumnsFrom = (columns: readonly string[], alias: string) => columns.map((c) => `"${c}" = ${alias}."${c}"`).join(', ');

/** Each column of a type map, and whether it is JSON; read once per map (they are module constants). */
const columnsOf = new WeakMap<ColumnTypes, { column: string; json: boolean }[]>();

/**
 * One row's values, in the order of `types`. JSON columns travel as JSON text (a JSON string or
 * number would otherwise reach PostgreSQL as bare text); null stays SQL NULL. Text that
 * PostgreSQL cannot store is replaced (see shared/storable.ts), whatever let it through.
 */
export function rowValues(row: Row, types: ColumnTypes): unknown[] {
  let columns = columnsOf.get(types);
  if (!columns) {
    columns = Object.entries(types).map(([column, type]) => ({ column, json: type === 'jsonb' }));
    columnsOf.set(types, columns);
  }
  const values: unknown[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const { column, json } = columns[i]!;
    const value = row[column];
    values[i] = value == null ? null : json ? storableJsonText(value) : typeof value === 'string' ? storableText(value) : value;
  }
  return values;
}

/** A row narrowed to `columns` (what a final write sends of a batch's rows, as JSON). */
export function pickColumns(row: Row, columns: readonly string[]): Row {
  const picked: Row = {};
  for (const column of columns) picked[column] = row[column];
  return picked;
}
