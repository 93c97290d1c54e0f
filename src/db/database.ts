import { MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { migrationsList } from '../../migrations/index.js';
import type { Config } from '../config.js';
import type { Sql } from '../engine/store/sqlClient.js';
import { entities } from '../entities/index.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.js';
import { ConnectionPool } from './pool.js';
import { createPooledSql, createSql } from './sqlAdapter.js';

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
  /**
   * The engine's SQL port. On real PostgreSQL it has connections of its own (at most
   * DATABASE_POOL_MAX, beside the ORM's); on the embedded database it shares the ORM's one.
   */
  sql: Sql;
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

const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Startup options of every connection to real PostgreSQL. random_page_cost 1.1 (PostgreSQL's
 * default of 4 models spinning disks): the hot tables are in memory, and a prepared statement's
 * cached plan made while a table was small (and never analysed, as with autovacuum off) would
 * otherwise keep scanning it as it grows instead of probing its primary key.
 */
const SESSION_OPTIONS = '-c random_page_cost=1.1';

/** Any fixed number: the advisory lock that keeps instances starting together from migrating twice. */
const MIGRATION_LOCK = 0x63657068;

/**
 * Holds a session advisory lock on a connection of its own while `work` runs through the pool.
 * Only for real PostgreSQL: the embedded database has one process and no exclusion between sessions.
 */
async function withMigrationLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await work();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/**
 * Connects to DATABASE_URL, or to the embedded database (`starting`, when the caller started it
 * already, else started here).
 */
export async function openDatabase(config: Config, logger: Logger, starting?: Promise<EmbeddedPostgres>): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let clientUrl = config.databaseUrl;
  if (!clientUrl) {
    embedded = await (starting ?? startEmbeddedPostgres(config.embeddedDataDir, logger));
    clientUrl = embedded.url;
  }
  let orm: MikroORM;
  try {
    orm = await MikroORM.init({
      clientUrl,
      entities,
      // PGlite serves every connection on one session: one connection, or transactions interleave.
      pool: { min: 0, max: embedded ? 1 : config.databasePoolMax },
      // SESSION_OPTIONS on real PostgreSQL only: PGlite takes no startup options.
      driverOptions: { connection: { connectionTimeoutMillis: CONNECT_TIMEOUT_MS, ...(embedded ? {} : { options: SESSION_OPTIONS }) } },
      migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
      discovery: { warnWhenNoEntities: false },
      debug: false,
      logger: (message) => logger.trace({ orm: message }),
      allowGlobalContext: false,
      forceUtcTimezone: true,
      // A DATABASE_URL naming a database that does not exist is a mistake to report, not to paper over.
      ensureDatabase: false,
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
  const pool = embedded
    ? null
    : new ConnectionPool({
        connectionString: clientUrl,
        max: config.databasePoolMax,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        acquireTimeoutMs: 60_000,
        idleTimeoutMs: 30_000,
        options: SESSION_OPTIONS,
        applicationName: 'cepheus',
      });
  return {
    orm,
    embedded: Boolean(embedded),
    fork: () => orm.em.fork(),
    sql: pool ? createPooledSql(pool) : createSql(orm),
    ready: () => isReady && (embedded?.alive() ?? true),
    async migrate() {
      const applied = embedded ? await orm.getMigrator().up() : await withMigrationLock(clientUrl, () => orm.getMigrator().up());
      isReady = true;
      return applied.map((m) => m.name);
    },
    async close() {
      isReady = false;
      await pool?.close();
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
