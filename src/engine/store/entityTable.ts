/**
 * The hand-written SQL of the store names columns, and maps rows to objects, as the entities
 * (src/entities) define them: each table is defined once, there, and MikroORM's schema diff
 * checks the migrations against it (test/db/schema-matches-entities.test.ts). Everything here is
 * computed once per table, at module load.
 */

import { UnderscoreNamingStrategy, type EntityProperty, type EntitySchema } from '@mikro-orm/core';
import type { ColumnTypes } from './columns.js';
import { parseOptionalTimestamp, parseTimestamp } from './sqlClient.js';

// biome-ignore lint/suspicious/noExplicitAny: a row as the driver returns it; the mappers give it its type
type Row = Record<string, any>;

/** The PostgreSQL type bound parameters are cast to, per entity property type. */
const CAST_TYPES: Readonly<Record<string, string>> = {
  uuid: 'uuid',
  text: 'text',
  boolean: 'boolean',
  integer: 'integer',
  bigint: 'bigint',
  json: 'jsonb',
  Date: 'timestamptz',
};

interface Column {
  property: string;
  name: string;
  castType: string;
  /** JavaScript expression: the entity's value, from `v`, the value a query returned. */
  read: (v: string) => string;
  /** JavaScript expression: the value a write sends, from `v`, the entity's value. */
  write: (v: string) => string;
}

export interface EntityTable<T> {
  tableName: string;
  /** Column name to the PostgreSQL type its parameters are cast to, in the entity's (= the table's) order. */
  columns: ColumnTypes;
  /** A row a query returned (`SELECT *`, `RETURNING *`), as the entity. */
  toEntity(row: Row): T;
  /** The entity as a row, its columns named as in the table (what `rowValues` and JSON documents send). */
  toRow(entity: T): Row;
}

const naming = new UnderscoreNamingStrategy();

/** What the compiled mappers call, by these names. */
const helpers = { parseTimestamp, parseOptionalTimestamp };

/**
 * How one column is read: timestamps parsed, bigints (text from PostgreSQL; counts stay well
 * below 2^53) as numbers, a missing value as null or, for a JSON column with a JSON default, as a
 * fresh copy of that default.
 */
function reader(type: string, nullable: boolean, defaultRaw: string | undefined): Column['read'] {
  if (type === 'Date') return nullable ? (v) => `parseOptionalTimestamp(${v})` : (v) => `parseTimestamp(${v})`;
  if (type === 'bigint') return (v) => `(${v} == null ? ${v} : Number(${v}))`;
  if (type === 'json' && !nullable && defaultRaw?.startsWith("'")) {
    const defaultJson = JSON.stringify(defaultRaw.slice(1, -1));
    return (v) => `(${v} ?? JSON.parse(${defaultJson}))`;
  }
  return nullable ? (v) => `(${v} ?? null)` : (v) => v;
}

function writer(type: string, nullable: boolean): Column['write'] {
  if (type === 'Date') return nullable ? (v) => `(${v}?.toISOString() ?? null)` : (v) => `${v}.toISOString()`;
  return nullable || type === 'json' ? (v) => `(${v} ?? null)` : (v) => v;
}

/**
 * A function building one object literal from another, as if written by hand: on the hot path a
 * row is mapped at every run's start and finish, and a loop over the columns measured slower
 * than the hand-written mappers these replace (compiled, they cost the same). Names and
 * expressions come from the entity definitions only.
 */
function compileMapper(columns: readonly Column[], from: 'name' | 'property', to: 'name' | 'property', convert: 'read' | 'write'): (source: Row) => Row {
  const fields = columns.map((c) => `${JSON.stringify(c[to])}: ${c[convert](`source[${JSON.stringify(c[from])}]`)}`);
  const names = Object.keys(helpers);
  return new Function(...names, `return (source) => ({ ${fields.join(', ')} });`)(...names.map((n) => helpers[n as keyof typeof helpers]));
}

/** The table of an entity: its columns, their cast types and the row mappers, read from its schema. */
export function entityTable<T>(schema: EntitySchema<T>): EntityTable<T> {
  const properties: [string, EntityProperty<T>][] = Object.entries(schema.meta.properties);
  const columns = properties.map(([property, options]): Column => {
    const type = String(options.type);
    const castType = CAST_TYPES[type];
    if (!castType) throw new Error(`${schema.meta.className}.${property}: no SQL cast for property type ${type}`);
    const nullable = options.nullable ?? false;
    return {
      property,
      name: options.fieldNames?.[0] ?? naming.propertyToColumnName(property),
      castType,
      read: reader(type, nullable, options.defaultRaw),
      write: writer(type, nullable),
    };
  });
  const toEntity = compileMapper(columns, 'name', 'property', 'read');
  const toRow = compileMapper(columns, 'property', 'name', 'write');
  return {
    tableName: schema.meta.tableName ?? schema.meta.collection,
    columns: Object.fromEntries(columns.map((c) => [c.name, c.castType])),
    toEntity: (row) => toEntity(row) as T,
    toRow: (entity) => toRow(entity as Row),
  };
}
