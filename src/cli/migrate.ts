/**
 * `npm run migrate`: applies pending migrations to the configured database
 * (DATABASE_URL, or the embedded one under EMBEDDED_DATA_DIR) and says what it applied.
 */
import { createLogger } from '../logger.js';
import { loadConfigOrExit } from '../configOrExit.js';
import { openCliDatabase } from './cliDatabase.js';

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  const database = await openCliDatabase(config, logger);
  if (!database) return 1;
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
