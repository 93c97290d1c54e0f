/**
 * `npm run migrate`: applies pending migrations to the configured database
 * (DATABASE_URL, or the embedded one under EMBEDDED_DATA_DIR) and says what it applied.
 */
import { ConfigError, loadConfig } from '../config.js';
import { DatabaseStartError, openDatabase } from '../db/database.js';
import { EmbeddedDatabaseError } from '../db/embedded.js';
import { createLogger } from '../logger.js';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cepheus: ${error.message}\n`);
      return 78;
    }
    throw error;
  }
  const logger = createLogger(config);
  let database;
  try {
    database = await openDatabase(config, logger);
  } catch (error) {
    if (error instanceof DatabaseStartError || error instanceof EmbeddedDatabaseError) {
      process.stderr.write(`cepheus: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  try {
    const applied = await database.migrate();
    if (applied.length === 0) process.stdout.write('No pending migrations; the database is up to date.\n');
    else {
      process.stdout.write(`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:\n`);
      for (const name of applied) process.stdout.write(`  ${name}\n`);
    }
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`cepheus: migration failed: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  },
);
