import { KeyRing } from './access/keys/keyRing.js';
import { ormKeyStore } from './access/keys/keyStore.js';
import { createRateLimits, type RateLimits } from './access/rateLimit/index.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { startEngine, type BatchResult, type Engine } from './engine/index.js';
import { eventsRoute } from './server/events.js';
import { createHttpServer, type HttpServer } from './server/server.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './observability/metrics.js';
import { metricsRoute } from './server/metricsRoute.js';
import { startTracing, type Tracing } from './observability/tracing.js';
import { buildSchema, createLoaders, type Services } from './schema/index.js';
import { ApiKeyService } from './services/apiKeys.js';
import { ApiDefinitionService } from './services/apis.js';
import { AuditService } from './services/audit.js';
import { systemClock, type Clock } from './shared/clock.js';
import { ExecutionService } from './services/executions.js';
import { ApiRunService } from './services/apiRuns.js';
import { IdempotencyService } from './services/idempotency.js';
import { IdempotencyStore } from './services/idempotencyStore.js';
import { RuleService } from './services/rules.js';
import { SecretService } from './services/secrets.js';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Script runs at once; default CPUs, 2..8 (tests fix it). */
  sandboxPoolSize?: number;
  /** A database the caller already opened (not yet migrated); the app closes it on stop. */
  database?: Database;
  /** Where rate-limit buckets live in Redis; tests give each run its own. */
  rateLimitKeyPrefix?: string;
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
  let keys: KeyRing | undefined;
  let rateLimits: RateLimits | undefined;
  let tracing: Tracing | undefined;
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
      const metrics = config.metrics ? createMetrics(logger) : null;
      try {
        // Before the engine, so its first runs are traced; without an endpoint nothing is loaded.
        if (config.tracing) tracing = await startTracing(config.tracing, logger);
        const applied = await database.migrate();
        if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
        const running = await startEngine({
          config,
          logger,
          clock,
          sql: database.sql,
          postgresUrl: database.embedded ? null : (config.databaseUrl ?? null),
          sandboxPoolSize: options.sandboxPoolSize,
          observer: metrics?.observer,
        });
        engine = running;
        metrics?.watch(running);
        const keyRing = new KeyRing({ mode: config.authMode, adminKey: config.adminKey, store: ormKeyStore(database.fork), clock, logger });
        keys = keyRing;
        keyRing.start();
        const limits = await createRateLimits(config, { clock, logger, keyPrefix: options.rateLimitKeyPrefix });
        rateLimits = limits;
        const rules = new RuleService(database.fork, clock);
        rules.onChange(({ id, rule }) => running.ruleChanged(id, rule));
        const current: Services = {
          rules,
          apis: new ApiDefinitionService(database.fork, { scriptMaxTimeoutMs: config.scriptMaxTimeoutMs, scriptMaxMemoryMb: config.scriptMaxMemoryMb }, clock),
          executions: new ExecutionService(running, { subscriptionBuffer: config.subscriptionBuffer }),
          apiRuns: new ApiRunService(running),
          apiKeys: new ApiKeyService(database.fork, clock, (id) => keyRing.revoked(id)),
          audit: new AuditService(database.fork, logger, clock),
          rateLimits: limits,
          secrets: new SecretService(running),
          idempotency: new IdempotencyService(new IdempotencyStore(database.sql), { ttlSeconds: config.idempotencyTtlSeconds, clock, logger }),
        };
        services = current;
        const db = database;
        http = createHttpServer({
          config,
          logger,
          schema: buildSchema(),
          context: ({ clientAddress, viewer }) => ({ services: current, loaders: createLoaders(current), viewer, clientAddress }),
          ready: () => db.ready(),
          keys: keyRing,
          plugins: [...(metrics?.plugins ?? []), ...(tracing ? [tracing.graphqlPlugin] : [])],
          routes: {
            ...(metrics ? { '/metrics': { scope: 'anyone' as const, handle: metricsRoute(() => metrics.render(), logger) } } : {}),
            '/events': {
              scope: 'publish',
              handle: eventsRoute({
                maxBytes: config.eventsMaxBytes,
                logger,
                publish: (items, source, refused) => current.executions.publishParsed(items, source, refused),
                rateLimit: (count, req, viewer) => limits.check('events', { viewer, clientAddress: req.socket.remoteAddress ?? 'unknown' }, count),
                idempotency: (viewer, key, args, run) =>
                  current.idempotency.once(
                    { operation: 'POST /events', viewer, key, args },
                    { run, stored: (result) => result, replay: async (value) => value as BatchResult },
                  ),
              }),
            },
          },
        });
        const address = await http.listen();
        logger.info(
          { url: address.url, database: database.embedded ? 'embedded' : 'postgresql', bus: running.busKind, authMode: config.authMode },
          config.authMode === 'OPEN'
            ? 'Cepheus is serving in OPEN mode: no API key is asked for and every request acts as ADMIN'
            : 'Cepheus is serving in KEYS mode: every request presents an API key',
        );
        return address;
      } catch (error) {
        await keys?.stop().catch(() => undefined);
        await engine?.stop(0).catch(() => undefined);
        await rateLimits?.close().catch(() => undefined);
        await database.close().catch(() => undefined);
        await tracing?.shutdown();
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await http?.close(config.shutdownGraceMs);
        await keys?.stop().catch((error: unknown) => logger.warn({ err: error }, 'writing lastUsedAt of API keys failed'));
        await engine?.stop(config.shutdownGraceMs);
        await rateLimits?.close();
        await database?.close();
        // Last, so the spans of the runs that finished while stopping are sent too.
        await tracing?.shutdown();
      })();
      return stopping;
    },
  };
}
