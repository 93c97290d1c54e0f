import { loadConfigOrExit, printOperatorError } from './configOrExit.js';
import type { App } from './app.js';
import type { Database } from './db/database.js';

async function main() {
  // The compiled build is the production build: graphql-js skips its development checks only
  // when NODE_ENV says so when it loads, which is below (the app is imported after this line).
  if (import.meta.url.endsWith('.js')) process.env.NODE_ENV ??= 'production';
  const config = loadConfigOrExit();
  // A bad setting is told before anything else loads. The embedded database's thread starts
  // next (opening a data directory takes seconds); the logger, the database layer and the app
  // (the GraphQL schema, the engine) load meanwhile, and are used once the database is good.
  const logging = import('./logger.js').then(({ createLogger }) => createLogger(config));
  const embedded = config.databaseUrl ? undefined : import('./db/embedded.js').then((m) => m.startEmbeddedPostgres(config.embeddedDataDir, logging));
  embedded?.catch(() => undefined);
  const { openDatabase } = await import('./db/database.js');
  const { isOperatorError } = await import('./startErrors.js');
  const appModule = import('./app.js');
  appModule.catch(() => undefined);
  const logger = await logging;
  let database: Database | undefined;
  let app: App | undefined;
  let stopping = false;
  const closing = (): Promise<void> => {
    if (app) return app.stop();
    if (database) return database.close();
    // Before the database is open, the embedded one may still be creating its data directory.
    return embedded
      ? embedded.then(
          (opened) => opened.stop(),
          () => undefined,
        )
      : Promise.resolve();
  };
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000);
    force.unref();
    closing().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    database = await openDatabase(config, logger, embedded);
    const { createApp } = await appModule;
    app = createApp(config, { logger, database });
    await app.start();
  } catch (error) {
    if (isOperatorError(error)) {
      printOperatorError(error);
      process.exit(1);
    }
    logger.fatal({ err: error }, 'start failed');
    process.exit(1);
  }
}

void main();
