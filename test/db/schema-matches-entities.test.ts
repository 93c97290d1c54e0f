import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
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
});
