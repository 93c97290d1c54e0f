import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { DatabaseStartError } from './db/database.js';
import { EmbeddedDatabaseError } from './db/embedded.js';

/** Errors whose message is the whole story: print one line, no stack trace. */
const isOperatorError = (error: unknown) =>
  error instanceof ConfigError || error instanceof DatabaseStartError || error instanceof EmbeddedDatabaseError || (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`cepheus: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const app = createApp(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000);
    force.unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await app.start();
  } catch (error) {
    if (isOperatorError(error)) {
      process.stderr.write(`cepheus: ${(error as Error).message}\n`);
      process.exit(1);
    }
    app.logger.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
}

void main();
