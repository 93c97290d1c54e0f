import { OPEN_PRINCIPAL } from './access/principal.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { startEngine, type Engine } from './engine/index.js';
import { eventsRoute } from './server/events.js';
import { createHttpServer, type HttpServer } from './server/server.js';
import { createLogger, type Logger } from './logger.js';
import { buildSchema, createLoaders, type Services } from './schema/index.js';
import { ApiDefinitionService } from './services/apis.js';
import { systemClock, type Clock } from './shared/clock.js';
import { ExecutionService } from './services/executions.js';
import { ApiRunService } from './services/apiRuns.js';
import { RuleService } from './services/rules.js';
import { SecretService } from './services/secrets.js';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Script runs at once; default CPUs, 2..8 (tests fix it). */
  sandboxPoolSize?: number;
  /** A database the caller already opened (not yet migrated); the app closes it on stop. */
  database?: Database;
}

export interface App {
  /** Opens the database, applies migrations, starts the engine, then listens. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops listening, lets runs in flight finish (up to SHUTDOWN_GRACE_MS), closes the database. */
  stop(): Promise<void>;
  readonly config: Config;
  readonly logger: Logger;
  /** Available after start(). */
  readonly services: Services;
  readonly database: Database;
  /** Available after start(). */
  readonly engine: Engine;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger(config);
  const clock = options.clock ?? systemClock;
  let database: Database | undefined;
  let engine: Engine | undefined;
  let services: Services | undefined;
  let http: HttpServer | undefined;
  let stopping: Promise<void> | undefined;

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the app is not started');
    return value;
  };

  return {
    config,
    logger,
    get services() {
      return started(services);
    },
    get database() {
      return started(database);
    },
    get engine() {
      return started(engine);
    },
    async start() {
      database = options.database ?? (await openDatabase(config, logger));
      try {
        const applied = await database.migrate();
        if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
        const running = await startEngine({
          config,
          logger,
          clock,
          sql: database.sql,
          postgresUrl: database.embedded ? null : (config.databaseUrl ?? null),
          sandboxPoolSize: options.sandboxPoolSize,
        });
        engine = running;
        const rules = new RuleService(database.fork, clock);
        rules.onChange(({ id, rule }) => running.ruleChanged(id, rule));
        const current: Services = {
          rules,
          apis: new ApiDefinitionService(database.fork, { scriptMaxTimeoutMs: config.scriptMaxTimeoutMs, scriptMaxMemoryMb: config.scriptMaxMemoryMb }, clock),
          executions: new ExecutionService(running, { subscriptionBuffer: config.subscriptionBuffer }),
          apiRuns: new ApiRunService(running),
          secrets: new SecretService(running),
        };
        services = current;
        const db = database;
        http = createHttpServer({
          config,
          logger,
          schema: buildSchema(),
          context: ({ clientAddress }) => ({ services: current, loaders: createLoaders(current), viewer: OPEN_PRINCIPAL, clientAddress }),
          ready: () => db.ready(),
          routes: {
            '/events': eventsRoute({
              maxBytes: config.eventsMaxBytes,
              logger,
              publish: (items, source, refused) => current.executions.publishParsed(items, source, refused),
            }),
          },
        });
        const address = await http.listen();
        logger.info({ url: address.url, database: database.embedded ? 'embedded' : 'postgresql', bus: running.busKind }, 'Cepheus is serving');
        return address;
      } catch (error) {
        await engine?.stop(0).catch(() => undefined);
        await database.close().catch(() => undefined);
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await http?.close(config.shutdownGraceMs);
        await engine?.stop(config.shutdownGraceMs);
        await database?.close();
      })();
      return stopping;
    },
  };
}
