import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Sql } from '../engine/store/sql.js';

type Knex = ReturnType<ReturnType<MikroORM['em']['getConnection']>['getKnex']>;

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
 * The engine's SQL port over MikroORM's pool (one connection on the embedded database). Queries
 * run as named prepared statements with bound parameters: planned once per connection, and no
 * values inlined into the text (MikroORM's execute() inlines them, which for JSON batches costs
 * more than the query). The engine's SQL has no `?` other than its placeholders.
 *
 * Statements are named (planned once per connection) only on real PostgreSQL: PGlite runs every
 * connection on one session, where a name prepared by a closed connection would still exist.
 */
export function createSql(orm: MikroORM, options: { namedStatements: boolean } = { namedStatements: false }): Sql {
  const knex = (): Knex => orm.em.getConnection().getKnex();
  const make = (trx?: Knex): Sql => ({
    async query(text, params = []) {
      if (trx) return (((await trx.raw(text, params as never[])) as { rows?: unknown[] }).rows ?? []) as never[];
      const client = knex().client as unknown as { acquireConnection(): Promise<PgConnection>; releaseConnection(c: PgConnection): Promise<void> };
      const connection = await client.acquireConnection();
      try {
        const { name, text: sql } = prepare(text);
        try {
          return (await connection.query({ name: options.namedStatements ? name : undefined, text: sql, values: params })).rows as never[];
        } catch (error) {
          if ((error as { code?: string }).code !== CACHED_PLAN_CHANGED) throw error;
          return (await connection.query({ text: sql, values: params })).rows as never[];
        }
      } finally {
        await client.releaseConnection(connection);
      }
    },
    transaction: (work) => (trx ? work(make(trx)) : knex().transaction((inner) => work(make(inner as unknown as Knex)))),
  });
  return make();
}
