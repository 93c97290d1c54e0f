import type { MikroORM } from '@mikro-orm/postgresql';
import type { Sql } from '../engine/store/sql.js';

type Knex = ReturnType<ReturnType<MikroORM['em']['getConnection']>['getKnex']>;

/**
 * The engine's SQL port over MikroORM's pool (one connection on the embedded database). It goes
 * through knex with bound parameters: MikroORM's own execute() inlines every value into the SQL
 * text, which for the engine's JSON batches costs more than the query itself.
 */
export function createSql(orm: MikroORM): Sql {
  const knex = (): Knex => orm.em.getConnection().getKnex();
  const make = (trx?: Knex): Sql => ({
    async query(text, params = []) {
      const raw = (trx ?? knex()).raw(text, params as never[]);
      const result = (await raw) as { rows?: unknown[] };
      return (result.rows ?? []) as never[];
    },
    transaction: (work) => (trx ? work(make(trx)) : knex().transaction((inner) => work(make(inner as unknown as Knex)))),
  });
  return make();
}
