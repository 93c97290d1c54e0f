import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/sqlAdapter.js';
import { RetentionJob } from '../../src/engine/jobs/retention.js';
import { RetentionStore } from '../../src/engine/store/retentionStore.js';
import { systemClock } from '../../src/shared/clock.js';
import type { Sql } from '../../src/engine/store/sqlClient.js';
import { backends, startFreshApp, type TestApp } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { createRule, trigger } from '../support/rules.js';

/**
 * Retention (docs/operations.md "Retention of execution history"): executions older than
 * EXECUTION_RETENTION_DAYS go with their children, log lines, cascade events and API runs, in
 * batches; newer history, unfinished runs and direct API runs inside the window stay. Old rows are
 * written directly with SQL, then the job is run once.
 */

const DAY = 86_400_000;

interface Seeded {
  root: string;
  child: string;
  api: string;
}

async function seedCascade(sql: Sql, ruleId: string, ageDays: number, status = 'SUCCESS', instanceId: string | null = null): Promise<Seeded> {
  const root = randomUUID();
  const child = randomUUID();
  const api = randomUUID();
  const at = new Date(Date.now() - ageDays * DAY).toISOString();
  const later = new Date(Date.now() - ageDays * DAY + 1000).toISOString();
  await sql.query(
    `INSERT INTO executions (id, rule_id, status, condition_met, executed_by, started_at, finished_at, cascade_id, parent_id, depth, instance_id)
     VALUES (?, ?, ?, true, 'event', ?::timestamptz, ?::timestamptz, ?, NULL, 0, ?), (?, ?, 'SUCCESS', true, 'cascade', ?::timestamptz, ?::timestamptz, ?, ?, 1, NULL)`,
    [root, ruleId, status, at, status === 'RUNNING' ? null : later, root, instanceId, child, ruleId, later, later, root, root],
  );
  await sql.query(
    `INSERT INTO action_logs (execution_id, seq, cascade_id, rule_id, api_execution_id, at, level, message)
     VALUES (?, 1, ?, ?, NULL, ?::timestamptz, 'INFO', 'root line'), (?, 1, ?, ?, ?, ?::timestamptz, 'INFO', 'child line')`,
    [root, root, ruleId, at, child, root, ruleId, api, later],
  );
  await sql.query(
    `INSERT INTO cascade_event_runs (cascade_id, seq, last_seq, execution_id, rule_id, depth, events)
     VALUES (?, 1, 2, ?, ?, 0, jsonb_build_array(jsonb_build_object('at', ?::text, 'kind', 'RULE_STARTED'), jsonb_build_object('at', ?::text, 'kind', 'CASCADE_FINISHED', 'status', 'SUCCESS')))`,
    [root, root, ruleId, at, later],
  );
  await sql.query(
    `INSERT INTO api_executions (id, api_id, status, executed_by, started_at, finished_at, execution_id, rule_id, cascade_id)
     VALUES (?, ?, 'SUCCESS', 'rule', ?::timestamptz, ?::timestamptz, ?, ?, ?)`,
    [api, randomUUID(), later, later, child, ruleId, root],
  );
  return { root, child, api };
}

async function seedDirectApiRun(sql: Sql, ageDays: number): Promise<string> {
  const id = randomUUID();
  const at = new Date(Date.now() - ageDays * DAY).toISOString();
  await sql.query(
    `INSERT INTO api_executions (id, api_id, status, executed_by, started_at, finished_at) VALUES (?, ?, 'SUCCESS', 'api', ?::timestamptz, ?::timestamptz)`,
    [id, randomUUID(), at, at],
  );
  await sql.query(`INSERT INTO action_logs (execution_id, seq, api_execution_id, at, level, message) VALUES (?, 1, ?, ?::timestamptz, 'INFO', 'api line')`, [
    id,
    id,
    at,
  ]);
  return id;
}

async function seedAuditEntry(sql: Sql, ageDays: number): Promise<string> {
  const id = randomUUID();
  const at = new Date(Date.now() - ageDays * DAY).toISOString();
  await sql.query(`INSERT INTO audit_entries (id, at, actor, action, target_id, detail) VALUES (?, ?::timestamptz, 'local', 'updateRule', NULL, NULL)`, [
    id,
    at,
  ]);
  return id;
}

async function count(sql: Sql, table: string, column: string, ids: string[]): Promise<number> {
  const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY(?::uuid[])`, [`{${ids.join(',')}}`]);
  return row!.n;
}

async function remaining(sql: Sql, seeded: Seeded) {
  const ids = [seeded.root, seeded.child];
  return {
    executions: await count(sql, 'executions', 'id', ids),
    logs: await count(sql, 'action_logs', 'execution_id', ids),
    events: await count(sql, 'cascade_events', 'cascade_id', [seeded.root]),
    apiRuns: await count(sql, 'api_executions', 'id', [seeded.api]),
  };
}

const ALL = { executions: 2, logs: 2, events: 2, apiRuns: 1 };
const NONE = { executions: 0, logs: 0, events: 0, apiRuns: 0 };

describe.each(backends())('retention of execution history (%s)', (backend) => {
  let sink: Sink;
  let app: TestApp;
  let sql: Sql;
  let ruleId: string;

  beforeAll(async () => {
    sink = await startSink();
    // A batch of 2 cascades per statement, so that the job needs several statements.
    app = await startFreshApp(backend, { EXECUTION_RETENTION_DAYS: '30', EXECUTION_RETENTION_BATCH: '2' });
    sql = createSql(app.app.database.orm);
    ruleId = (await createRule(app, { actionSpec: { type: 'webhook', endpoint: `${sink.url}/hook`, method: 'POST' } })).id;
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('deletes cascades, their logs, events and API runs older than the retention, and nothing newer', async () => {
    const fresh = await trigger(app, ruleId, { now: true }, { wait: true });
    const old = await Promise.all([31, 40, 45, 60, 400].map((days) => seedCascade(sql, ruleId, days)));
    const kept = await seedCascade(sql, ruleId, 29);
    // An old run that has not finished yet (its instance is alive) is left alone.
    const running = await seedCascade(sql, ruleId, 50, 'RUNNING', app.app.engine.instanceId);
    const oldApiRun = await seedDirectApiRun(sql, 35);
    const oldAudit = await Promise.all([31, 45, 400].map((days) => seedAuditEntry(sql, days)));
    const keptAudit = await seedAuditEntry(sql, 29);
    const keptApiRun = await seedDirectApiRun(sql, 5);
    for (const s of old) expect(await remaining(sql, s)).toEqual(ALL);

    const result = await app.app.engine.retention.run();
    expect(result.cascades).toBe(5);
    expect(result.executions).toBe(10);
    expect(result.apiExecutions).toBe(6);
    // Audit entries are kept as long as executions.
    expect(result.auditEntries).toBe(3);
    expect(await count(sql, 'audit_entries', 'id', oldAudit)).toBe(0);
    expect(await count(sql, 'audit_entries', 'id', [keptAudit])).toBe(1);

    for (const s of old) expect(await remaining(sql, s)).toEqual(NONE);
    expect(await remaining(sql, kept)).toEqual(ALL);
    expect(await remaining(sql, running)).toEqual(ALL);
    expect(await count(sql, 'api_executions', 'id', [oldApiRun])).toBe(0);
    expect(await count(sql, 'action_logs', 'execution_id', [oldApiRun])).toBe(0);
    expect(await count(sql, 'api_executions', 'id', [keptApiRun])).toBe(1);
    expect(await count(sql, 'action_logs', 'execution_id', [keptApiRun])).toBe(1);
    expect(await count(sql, 'executions', 'id', [fresh.id])).toBe(1);
    expect(await count(sql, 'cascade_events', 'cascade_id', [fresh.id])).toBeGreaterThan(0);

    // A second run finds nothing more to delete.
    expect(await app.app.engine.retention.run()).toEqual({ cascades: 0, executions: 0, apiExecutions: 0, auditEntries: 0, idempotencyKeys: 0 });
  });

  it('EXECUTION_RETENTION_DAYS=0 keeps everything', async () => {
    const old = await seedCascade(sql, ruleId, 90);
    const disabled = new RetentionJob({ store: new RetentionStore(sql), clock: systemClock, logger: app.app.logger, days: 0, intervalMs: 60_000, batch: 500 });
    expect(disabled.enabled).toBe(false);
    expect(await disabled.run()).toEqual({ cascades: 0, executions: 0, apiExecutions: 0, auditEntries: 0, idempotencyKeys: 0 });
    expect(await remaining(sql, old)).toEqual(ALL);
  });
});
