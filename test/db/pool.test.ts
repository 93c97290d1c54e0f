import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ConnectionPool, PoolTimeoutError, type ConnectionPoolOptions } from '../../src/db/pool.js';
import { createPooledSql } from '../../src/db/sqlAdapter.js';
import { createTestDatabase, ok, startApp, type TestDatabase } from '../support/harness.js';
import { closedPort, startSink } from '../support/sink.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * The engine's own connections on real PostgreSQL (src/db/pool.ts) and the SQL port over them:
 * limits, waiting, broken sockets, statement errors, transactions, idle closing, and a schema
 * changed under prepared statements. Skipped when DATABASE_URL is unset: the embedded database
 * shares the ORM's one connection instead.
 */
describeUnless(withoutPostgres(), 'the engine connection pool (needs DATABASE_URL)', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const pools: ConnectionPool[] = [];

  const open = (overrides: Partial<ConnectionPoolOptions> = {}) => {
    const pool = new ConnectionPool({
      connectionString: db.env.DATABASE_URL!,
      max: 2,
      connectTimeoutMs: 5_000,
      acquireTimeoutMs: 5_000,
      idleTimeoutMs: 30_000,
      applicationName: 'cepheus-pool-test',
      ...overrides,
    });
    pools.push(pool);
    return pool;
  };
  const backendPid = async (sql: ReturnType<typeof createPooledSql>) => (await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
  const sessions = async () =>
    Number(
      (await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'cepheus-pool-test' AND datname = current_database()")).rows[0].n,
    );

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    admin = new pg.Client({ connectionString: db.env.DATABASE_URL });
    await admin.connect();
    await admin.query('CREATE TABLE pool_items (id int PRIMARY KEY, label text)');
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
    await admin.query('TRUNCATE pool_items');
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('opens connections only as needed, never more than max, and reuses the most recent one', async () => {
    const pool = open({ max: 2 });
    const sql = createPooledSql(pool);
    expect(pool.stats()).toEqual({ open: 0, free: 0, waiting: 0 });
    const first = await backendPid(sql);
    expect(await backendPid(sql)).toBe(first);
    const pids = await Promise.all(Array.from({ length: 8 }, () => sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)')));
    expect(new Set(pids.map(([row]) => row!.pid)).size).toBe(2);
    expect(pool.stats()).toEqual({ open: 2, free: 2, waiting: 0 });
    expect(await sessions()).toBe(2);
  });

  it('binds parameters and answers rows', async () => {
    const sql = createPooledSql(open());
    await sql.query('INSERT INTO pool_items (id, label) VALUES (?, ?), (?, ?)', [1, "it's ?", 2, null]);
    expect(await sql.query('SELECT id, label FROM pool_items ORDER BY id')).toEqual([
      { id: 1, label: "it's ?" },
      { id: 2, label: null },
    ]);
  });

  it('makes a caller wait for a connection given back, and fails one that waits too long with a message naming the limit', async () => {
    const pool = open({ max: 1, acquireTimeoutMs: 300 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    expect(pool.stats().waiting).toBe(1);
    pool.release(held);
    expect(await waiting).toBe(held);
    const late = pool.acquire();
    await expect(late).rejects.toBeInstanceOf(PoolTimeoutError);
    await expect(late).rejects.toThrow(/no database connection came free within 300 ms \(all 1 in use; DATABASE_POOL_MAX/);
    expect(pool.stats()).toEqual({ open: 1, free: 0, waiting: 0 });
    pool.release(held);
  });

  it('keeps a connection after an error PostgreSQL answered for one statement', async () => {
    const sql = createPooledSql(open({ max: 1 }));
    const pid = await backendPid(sql);
    await sql.query('INSERT INTO pool_items (id) VALUES (?)', [1]);
    await expect(sql.query('INSERT INTO pool_items (id) VALUES (?)', [1])).rejects.toMatchObject({ code: '23505' });
    await expect(sql.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
    expect(await backendPid(sql)).toBe(pid);
  });

  it('drops a connection whose session ends while it is free, and answers the next statement on a new one', async () => {
    const pool = open({ max: 1 });
    const sql = createPooledSql(pool);
    const pid = await backendPid(sql);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await expect.poll(() => pool.stats().open, { timeout: 5_000 }).toBe(0);
    const next = await backendPid(sql);
    expect(next).not.toBe(pid);
  });

  it('drops a connection whose session ends in the middle of a statement, which fails, and serves a waiting caller on a new one', async () => {
    const pool = open({ max: 1 });
    const sql = createPooledSql(pool);
    const pid = await backendPid(sql);
    // Its failure is awaited from the start: it may come before the terminate call answers.
    const slowFails = expect(sql.query('SELECT pg_sleep(5)')).rejects.toThrow();
    const waiting = backendPid(sql);
    await expect.poll(() => pool.stats().waiting).toBe(1);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await slowFails;
    const next = await waiting;
    expect(next).not.toBe(pid);
    expect(pool.stats()).toEqual({ open: 1, free: 1, waiting: 0 });
  });

  it('fails a caller when the server cannot be reached, and frees the slot it took', async () => {
    const url = new URL(db.env.DATABASE_URL!);
    url.port = String(await closedPort());
    const pool = open({ connectionString: url.toString(), max: 1 });
    await expect(pool.acquire()).rejects.toThrow(/ECONNREFUSED/);
    await expect(pool.acquire()).rejects.toThrow(/ECONNREFUSED/);
    expect(pool.stats().open).toBe(0);
  });

  it('commits a transaction that returns, rolls back one that throws, and keeps the connection either way', async () => {
    const sql = createPooledSql(open({ max: 1 }));
    const pid = await backendPid(sql);
    expect(
      await sql.transaction(async (tx) => {
        await tx.query('INSERT INTO pool_items (id, label) VALUES (?, ?)', [1, 'kept']);
        return tx.transaction(async (inner) => (await inner.query<{ n: number }>('SELECT count(*)::int AS n FROM pool_items'))[0]!.n);
      }),
    ).toBe(1);
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO pool_items (id, label) VALUES (?, ?)', [2, 'rolled back']);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    await expect(
      sql.transaction(async (tx) => {
        await tx.query('INSERT INTO pool_items (id, label) VALUES (?, ?)', [3, 'rolled back']);
        await tx.query('INSERT INTO pool_items (id, label) VALUES (?, ?)', [1, 'duplicate']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await sql.query('SELECT id, label FROM pool_items ORDER BY id')).toEqual([{ id: 1, label: 'kept' }]);
    expect(await backendPid(sql)).toBe(pid);
  });

  it('closes connections left unused for idleTimeoutMs', async () => {
    const pool = open({ idleTimeoutMs: 200 });
    const sql = createPooledSql(pool);
    await Promise.all([sql.query('SELECT pg_sleep(0.05)'), sql.query('SELECT pg_sleep(0.05)')]);
    expect(pool.stats().open).toBe(2);
    await expect.poll(() => pool.stats().open, { timeout: 3_000 }).toBe(0);
    await expect.poll(sessions, { timeout: 3_000 }).toBe(0);
    expect(await backendPid(sql)).toBeGreaterThan(0);
  });

  it('runs a statement whose prepared plan a schema change invalidated once more unnamed, and prepares it afresh on a new connection', async () => {
    const pool = open({ max: 1 });
    const sql = createPooledSql(pool);
    await sql.query('INSERT INTO pool_items (id, label) VALUES (?, ?)', [1, 'a']);
    const pid = await backendPid(sql);
    expect(await sql.query('SELECT * FROM pool_items WHERE id = ?', [1])).toEqual([{ id: 1, label: 'a' }]);
    await admin.query('ALTER TABLE pool_items ADD COLUMN extra int');
    expect(await sql.query('SELECT * FROM pool_items WHERE id = ?', [1])).toEqual([{ id: 1, label: 'a', extra: null }]);
    expect(await backendPid(sql)).not.toBe(pid);
    expect(await sql.query('SELECT * FROM pool_items WHERE id = ?', [1])).toEqual([{ id: 1, label: 'a', extra: null }]);
    await admin.query('ALTER TABLE pool_items DROP COLUMN extra');
  });

  it('rejects waiting and later callers once closed, and ends its connections', async () => {
    const pool = open({ max: 1 });
    const sql = createPooledSql(pool);
    await backendPid(sql);
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await pool.close();
    await expect(waiting).rejects.toThrow('the connection pool is closed');
    await expect(pool.acquire()).rejects.toThrow('the connection pool is closed');
    pool.release(held);
    expect(pool.stats().open).toBe(0);
    await expect.poll(sessions, { timeout: 3_000 }).toBe(0);
  });

  it("serves the service's runs: triggerRule writes through at most DATABASE_POOL_MAX engine sessions, which stop closes", async () => {
    const sink = await startSink();
    const app = await startApp(db, { DATABASE_POOL_MAX: '2' });
    const engineSessions = async () =>
      Number((await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'cepheus' AND datname = current_database()")).rows[0].n);
    try {
      const rules = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const input = { name: `pooled-${i}`, triggerSpec: { conditions: [] }, actionSpec: { type: 'webhook', endpoint: `${sink.url}/ok`, method: 'POST' } };
          return ok(await app.gql('mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }', { input })).createRule.id as string;
        }),
      );
      const runs = await Promise.all(
        rules.map(async (id) => ok(await app.gql('mutation($id: ID!) { triggerRule(ruleId: $id) { status } }', { id })).triggerRule.status),
      );
      expect(runs).toEqual(Array(6).fill('SUCCESS'));
      const sessions = await engineSessions();
      expect(sessions).toBeGreaterThanOrEqual(1);
      expect(sessions).toBeLessThanOrEqual(2);
    } finally {
      await app.stop();
      await sink.close();
    }
    await expect.poll(engineSessions, { timeout: 3_000 }).toBe(0);
  });
});
