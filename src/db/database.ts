import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations/index.js';
import type { Config } from '../config.js';
import { entities } from '../entities/index.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.js';

/** The database could not be reached or prepared; the message is safe to print (no password). */
export class DatabaseStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseStartError';
  }
}

export interface Database {
  orm: MikroORM;
  /** A fresh EntityManager for one unit of work (a request, a run). */
  fork(): EntityManager;
  embedded: boolean;
  /** True once connected and migrated. */
  ready(): boolean;
  /** Applies pending migrations; returns their names. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function reason(error: unknown): string {
  const err = error as { code?: string; message?: string; errors?: { message?: string }[] };
  // AggregateError from net (IPv4 and IPv6 both refused) has an empty message.
  const message = err?.message || err?.errors?.map((e) => e.message).join('; ') || String(error);
  return err?.code && !message.includes(err.code) ? `${err.code}: ${message}` : message;
}

export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let clientUrl = config.databaseUrl;
  if (!clientUrl) {
    embedded = await startEmbeddedPostgres(config.embeddedDataDir, logger);
    clientUrl = embedded.url;
  }
  let orm: MikroORM;
  try {
    orm = await MikroORM.init({
      clientUrl,
      entities,
      // PGlite serves every connection on one session: one connection, or transactions interleave.
      pool: { min: 0, max: embedded ? 1 : config.databasePoolMax },
      driverOptions: { connection: { connectionTimeoutMillis: 10_000 } },
      migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
      discovery: { warnWhenNoEntities: false },
      debug: false,
      logger: (message) => logger.trace({ orm: message }),
      allowGlobalContext: false,
      forceUtcTimezone: true,
    });
    const connected = await orm.isConnected();
    if (!connected) {
      const check = await orm.checkConnection();
      throw new Error(check.ok ? 'not connected' : check.reason);
    }
  } catch (error) {
    await embedded?.stop();
    const where = embedded ? `the embedded database at ${embedded.dataDir}` : `the database at ${redactUrl(clientUrl)}`;
    throw new DatabaseStartError(`Cannot connect to ${where}: ${reason(error)}`);
  }

  let isReady = false;
  return {
    orm,
    embedded: Boolean(embedded),
    fork: () => orm.em.fork(),
    ready: () => isReady,
    async migrate() {
      const applied = await orm.getMigrator().up();
      isReady = true;
      return applied.map((m) => m.name);
    },
    async close() {
      isReady = false;
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
