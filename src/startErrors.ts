import { ConfigError, loadConfig, type Config } from './config.js';
import { DatabaseStartError } from './db/database.js';
import { EmbeddedDatabaseError } from './db/embedded.js';

/** Errors whose message is the whole story for an operator: print one line, no stack trace. */
export const isOperatorError = (error: unknown): error is Error =>
  error instanceof ConfigError ||
  error instanceof DatabaseStartError ||
  error instanceof EmbeddedDatabaseError ||
  (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE';

export function printOperatorError(error: Error) {
  process.stderr.write(`cepheus: ${error.message}\n`);
}

/** The settings, or one line naming the bad variable and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      printOperatorError(error);
      process.exit(78);
    }
    throw error;
  }
}
