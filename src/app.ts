import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { createLogger, type Logger } from './logger.js';
import { buildSchema, type Services } from './schema/index.js';
import { ApiDefinitionService } from './services/apis.js';
import { systemClock, type Clock } from './services/clock.js';
import { RuleService } from './services/rules.js';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
}

export interface App {
  /** Opens the database, applies migrations, then listens. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops listening, lets work in flight finish (up to SHUTDOWN_GRACE_MS), closes the database. */
  stop(): Promise<void>;
  readonly config: Config;
  readonly logger: Logger;
  /** Available after start(). */
  readonly services: Services;
  readonly database: Database;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger(config);
  const clock = options.clock ?? systemClock;
  let database: Database | undefined;
  let services: Services | undefined;
  let http: HttpServer | undefined;
  let stopping: Promise<void> | undefined;

  return {
    config,
    logger,
    get services() {
      if (!services) throw new Error('the app is not started');
      return services;
    },
    get database() {
      if (!database) throw new Error('the app is not started');
      return database;
    },
    async start() {
      database = await openDatabase(config, logger);
      try {
        const applied = await database.migrate();
        if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
        const fork = database.fork;
        services = {
          rules: new RuleService(fork, clock),
          apis: new ApiDefinitionService(fork, { scriptMaxTimeoutMs: config.scriptMaxTimeoutMs, scriptMaxMemoryMb: config.scriptMaxMemoryMb }, undefined, clock),
        };
        const current = services;
        const db = database;
        http = createHttpServer({ config, logger, schema: buildSchema(), context: () => ({ services: current }), ready: () => db.ready() });
        const address = await http.listen();
        logger.info({ url: address.url, database: database.embedded ? 'embedded' : 'postgresql' }, 'Cepheus is serving');
        return address;
      } catch (error) {
        await database.close().catch(() => undefined);
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await http?.close(config.shutdownGraceMs);
        await database?.close();
      })();
      return stopping;
    },
  };
}
