import type { MikroORM } from '@mikro-orm/postgresql';
import type { Sql } from '../engine/store/sql.js';

/** The engine's SQL port over MikroORM's pool (one connection on the embedded database). */
export function createSql(orm: MikroORM): Sql {
  const connection = () => orm.em.getConnection();
  const make = (ctx?: unknown): Sql => ({
    query: (text, params = []) => connection().execute(text, params, 'all', ctx as never) as Promise<never[]>,
    transaction: (work) => (ctx ? work(make(ctx)) : connection().transactional((trx) => work(make(trx)))),
  });
  return make();
}
