import type { Config } from '../config.js';
import { printOperatorError } from '../configOrExit.js';
import { openDatabase, type Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { isOperatorError } from '../startErrors.js';

/** The configured database for a command, or null once an operator error is printed as one line. */
export async function openCliDatabase(config: Config, logger: Logger): Promise<Database | null> {
  try {
    return await openDatabase(config, logger);
  } catch (error) {
    if (isOperatorError(error)) {
      printOperatorError(error);
      return null;
    }
    throw error;
  }
}
