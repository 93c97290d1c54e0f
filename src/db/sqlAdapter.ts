import { createHash } from 'node:crypto';
import type { Knex, MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import type { Sql } from '../engine/store/sqlClient.js';
import type { ConnectionPool } from './pool.js';

interface PgConnection {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** PostgreSQL's answer when a table changed under a prepared statement (a newer migration ran elsewhere). */
const CACHED_PLAN_CHANGED = '0A000';

/** `?` placeholders to `$n`, and a stable statement name, computed once per query text. */
const prepared = new Map<string, { name: string; text: string }>();

function prepare(text: string): { name: string; text: string } {
  let entry = prepared.get(text);
  if (!entry) {
    let n = 0;
    entry = { name: `c_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text: text.replace(/\?/g, () => `$${++n}`) };
    prepared.set(text, entry);
  }
  return entry;
}

/**
 * Runs one statement with bound parameters (no values inlined into the text: MikroORM's
 * execute() inlines them, which for JSON batches costs more than the query). Named, it is planned
 * once per connection.
 */
async function run(connection: PgConnection, text: string, params: unknown[], named: boolean): Promise<never[]> {
  const { name, text: sql } = prepare(text);
  return (await connection.query({ name: named ? name : undefined, text: sql, values: params })).rows as never[];
}

/**
 * The SQL port over MikroORM's pool, with unnamed statements: the embedded database's (one
 * connection, shared with the ORM: PGlite runs every connection on one session, where a name
 * prepared by a closed connection would still exist and a second connection's statements would
 * land inside the ORM's transactions), and the tests' direct reads. Statements go through knex's
 * raw(), which binds the parameters (`?` to `$n`) rather than inlining them; the engine's SQL has
 * no `?` other than its placeholders.
 */
export function createSql(orm: MikroORM): Sql {
  const knex = (): Knex => orm.em.getConnection().getKnex();
  const make = (trx?: Knex.Transaction): Sql => ({
    async query(text, params = []) {
      // knex refuses an undefined binding; pg sends it as NULL, and so does this port.
      const bindings = params.map((value) => (value === undefined ? null : value)) as Knex.RawBinding[];
      const result: { rows?: never[] } = await (trx ?? knex()).raw(text, bindings);
      return result.rows ?? [];
    },
    transaction: (work) => (trx ? work(make(trx)) : knex().transaction((inner) => work(make(inner)))),
  });
  return make();
}

/**
 * The engine's SQL port on real PostgreSQL: its own connections (see ConnectionPool), named
 * statements outside transactions. Inside one, statements are unnamed: a retry after a changed
 * plan would find the transaction already aborted.
 */
export function createPooledSql(pool: ConnectionPool): Sql {
  const inTransaction = (client: pg.Client): Sql => ({
    query: (text, params = []) => run(client, text, params, false),
    transaction: (work) => work(inTransaction(client)),
  });
  return {
    async query(text, params = []) {
      const client = pool.take() ?? (await pool.acquire());
      let rows: never[];
      try {
        rows = await run(client, text, params, true);
      } catch (error) {
        if ((error as { code?: string }).code !== CACHED_PLAN_CHANGED) {
          pool.release(client, error);
          throw error;
        }
        // A newer migration changed a table under this connection's prepared statements, which
        // would fail alike every time: this one runs unnamed, and the connection is retired so
        // that the one after it prepares afresh.
        try {
          return await run(client, text, params, false);
        } finally {
          pool.retire(client);
        }
      }
      pool.release(client);
      return rows;
    },
    async transaction(work) {
      const client = pool.take() ?? (await pool.acquire());
      // Set when BEGIN or ROLLBACK fails: the session's state is then unknown, so it is not reused.
      let broken: unknown;
      try {
        await client.query('BEGIN').catch((error: unknown) => {
          broken = error;
          throw error;
        });
        try {
          const result = await work(inTransaction(client));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch((rollback: unknown) => (broken = rollback));
          throw error;
        }
      } finally {
        pool.release(client, broken);
      }
    },
  };
}
