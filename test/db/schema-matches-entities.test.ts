import type { EntitySchema } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { entityTable } from '../../src/engine/store/entityTable.js';
import { entities } from '../../src/entities/index.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { backends, createTestDatabase, testEnv, type TestDatabase } from '../support/harness.js';

/**
 * The entities (src/entities) are the one definition of each table: the store's column lists and
 * row mappers are derived from them. A fresh database migrated with the committed migrations must
 * be what they describe, so MikroORM's schema diff between the two is empty. (MikroORM compares
 * indexes written as SQL expressions by name only; the view `cascade_events` is not an entity.)
 */
describe.each(backends())('the migrated schema matches the entities (%s)', (backend) => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    const config = loadConfig(testEnv(database));
    db = await openDatabase(config, createLogger(config));
    await db.migrate();
  });

  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('has no schema difference', async () => {
    const diff = await db.orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(diff).toBe('');
  });

  // The store's inserts name columns in the entity's order and some fill them with `SELECT *`.
  const schemas: EntitySchema<any>[] = entities;
  it.each(schemas.map((schema) => [schema.meta.className, schema] as const))('has the columns of %s in the entity order', async (_name, schema) => {
    const table = entityTable(schema);
    const rows = await db.sql.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`,
      [table.tableName],
    );
    expect(Object.keys(table.columns)).toEqual(rows.map((r) => r.column_name));
  });
});
