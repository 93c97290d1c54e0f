import { ConfigError, loadConfig, type Config } from './config.js';

/**
 * Kept apart from startErrors.ts, which loads the database layer: the entry points read their
 * settings through this module alone, so a bad setting is told before the rest of the service loads.
 */

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
