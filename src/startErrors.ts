import { ConfigError } from './config.js';
import { DatabaseStartError } from './db/database.js';
import { EmbeddedDatabaseError } from './db/embedded.js';

/** Errors whose message is the whole story for an operator: print one line, no stack trace. */
export const isOperatorError = (error: unknown): error is Error =>
  error instanceof ConfigError ||
  error instanceof DatabaseStartError ||
  error instanceof EmbeddedDatabaseError ||
  (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
