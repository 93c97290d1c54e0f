import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/sqlAdapter.js';
import type { Sql } from '../../src/engine/store/sqlClient.js';
import { startFreshApp, type TestApp } from '../support/harness.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * Table maintenance (docs/operations.md, "Embedded database or PostgreSQL"): PGlite runs no
 * autovacuum, so on the embedded database the service vacuums and analyses its own tables once
 * their dead rows pass autovacuum's default threshold. On PostgreSQL the server's autovacuum does it.
 */

async function ruleStatsTable(sql: Sql) {
  // Counters of the statements just run reach pg_stat_user_tables when the backend flushes them.
  await sql.query('SELECT pg_stat_force_next_flush()');
  await sql.query('SELECT 1');
  const [row] = await sql.query<{ dead: number; vacuums: number }>(
    `SELECT n_dead_tup::int AS dead, vacuum_count::int AS vacuums FROM pg_stat_user_tables WHERE relname = 'rule_stats'`,
  );
  return row!;
}

describe('table maintenance on the embedded database', () => {
  let app: TestApp;
  let sql: Sql;

  beforeAll(async () => {
    app = await startFreshApp('embedded');
    sql = createSql(app.app.database.orm);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('vacuums a table whose dead rows pass the threshold, and then has nothing more to do there', async () => {
    const maintenance = app.app.engine.tableMaintenance;
    expect(maintenance).not.toBeNull();
    // 100 rows updated 5 times: up to 500 dead rows (page pruning removes some), against a
    // threshold of 50 + 20% of 100 live ones.
    await sql.query(`INSERT INTO rule_stats (rule_id) SELECT gen_random_uuid() FROM generate_series(1, 100)`);
    for (let i = 0; i < 5; i++) await sql.query('UPDATE rule_stats SET matched = matched + 1');
    const before = await ruleStatsTable(sql);
    expect(before.dead).toBeGreaterThan(70);

    expect(await maintenance!.run()).toContain('rule_stats');
    const after = await ruleStatsTable(sql);
    expect(after.vacuums).toBe(before.vacuums + 1);
    expect(after.dead).toBe(0);
    expect(await maintenance!.run()).not.toContain('rule_stats');
  });
});

describeUnless(withoutPostgres(), 'table maintenance on PostgreSQL', () => {
  it('is left to the server (no job runs)', async () => {
    const app = await startFreshApp('postgres');
    try {
      expect(app.app.engine.tableMaintenance).toBeNull();
    } finally {
      await app.stop();
    }
  });
});
