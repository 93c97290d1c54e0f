import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { createSql } from '../../src/db/sqlAdapter.js';
import type { CascadeEvent } from '../../src/entities/index.js';
import { createLogger } from '../../src/logger.js';
import { eventRuns, eventsOfRun } from '../../src/engine/store/rows.js';
import { parseTimestamp, type Sql } from '../../src/engine/store/sqlClient.js';
import { backends, createTestDatabase, ok, startFreshApp, testEnv, type TestApp } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { createRule, trigger } from '../support/rules.js';

/**
 * Cascade events are stored one row per run of consecutive events of one execution
 * (`cascade_event_runs`) and read through the view `cascade_events`, one row per event
 * (docs/decisions.md, "Writing executions").
 */

const event = (seq: number, executionId: string, kind: CascadeEvent['kind'] = 'RULE_STARTED'): CascadeEvent => ({
  cascadeId: 'c',
  seq,
  at: new Date(Date.UTC(2026, 10, 27, 8, 0, 0, seq)),
  kind,
  executionId,
  ruleId: 'r',
  ruleName: 'rule',
  depth: 0,
  status: null,
  message: `event ${seq}`,
});

describe('event runs', () => {
  it('groups consecutive events of one execution into one run, and splits at a gap or another execution', () => {
    const runs = eventRuns([event(1, 'a'), event(2, 'a'), event(3, 'a'), event(4, 'b'), event(5, 'b'), event(7, 'b'), event(8, 'a')]);
    expect(runs.map((r) => [r.execution_id, r.seq, r.last_seq, r.events.length])).toEqual([
      ['a', 1, 3, 3],
      ['b', 4, 5, 2],
      ['b', 7, 7, 1],
      ['a', 8, 8, 1],
    ]);
  });

  it('reads back every event of a run as it was given', () => {
    const events = [event(4, 'a', 'ACTION_FINISHED'), { ...event(5, 'a', 'RULE_FINISHED'), status: 'SUCCESS' as const }, event(6, 'a', 'CASCADE_FINISHED')];
    const [run] = eventRuns(events);
    expect(eventsOfRun(JSON.parse(JSON.stringify(run)))).toEqual(events);
  });
});

describe.each(backends())('stored cascade events (%s)', (backend) => {
  let sink: Sink;
  let app: TestApp;
  let sql: Sql;

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend);
    sql = createSql(app.app.database.orm);
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('writes one row per step: a 3-rule chain stores its 16 events in 6 rows, read back in order', async () => {
    const webhook = { type: 'webhook', endpoint: `${sink.url}/hook`, method: 'POST' };
    const c = await createRule(app, { actionSpec: webhook });
    const b = await createRule(app, { actionSpec: { type: 'trigger_rule', rule_id: c.id } });
    const a = await createRule(app, { actionSpec: { type: 'trigger_rule', rule_id: b.id } });
    const root = await trigger(app, a.id, { n: 1 }, { wait: true });
    expect(root.status).toBe('SUCCESS');

    const runs = await sql.query<{ seq: number; last_seq: number; rule_id: string }>(
      'SELECT seq, last_seq, rule_id FROM cascade_event_runs WHERE cascade_id = ? ORDER BY seq',
      [root.id],
    );
    expect(runs.map((r) => [r.seq, r.last_seq, r.rule_id])).toEqual([
      [1, 3, a.id],
      [4, 6, b.id],
      [7, 9, c.id],
      [10, 11, c.id],
      [12, 13, b.id],
      [14, 16, a.id],
    ]);
    const { cascade } = ok(await app.gql(`query($id: ID!) { cascade(id: $id) { events { seq kind ruleId } } }`, { id: root.id }));
    expect(cascade.events.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(cascade.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', ruleId: a.id });
  });
});

describe.each(backends())('migration of stored cascade events (%s)', (backend) => {
  const BEFORE = 'Migration20261127010000_drop_execution_rows';
  const AFTER = 'Migration20261127020000_cascade_event_runs';

  it('moves every event of the old table into runs, shows them unchanged through the view, and moves them back on down', async () => {
    const database = await createTestDatabase(backend);
    const config = loadConfig(testEnv(database));
    const db = await openDatabase(config, createLogger(config));
    try {
      const migrator = db.orm.getMigrator();
      await migrator.up({ to: BEFORE });
      const sql = createSql(db.orm);
      const cascade = randomUUID();
      const rule = randomUUID();
      const columns = 'cascade_id, seq, at, kind, execution_id, rule_id, rule_name, depth, status, message';
      await sql.query(
        `INSERT INTO cascade_events (${columns}) VALUES
           (?, 1, '2026-11-20T10:00:00.123Z', 'RULE_STARTED', ?, ?, 'old rule', 0, NULL, 'rule old rule started'),
           (?, 2, '2026-11-20T10:00:00.456Z', 'RULE_FINISHED', ?, ?, 'old rule', 0, 'SUCCESS', NULL),
           (?, 3, '2026-11-20T10:00:01Z', 'CASCADE_FINISHED', ?, ?, NULL, 0, 'SUCCESS', 'cascade finished')`,
        [cascade, cascade, rule, cascade, cascade, rule, cascade, cascade, rule],
      );
      const read = async () =>
        (await sql.query<Record<string, unknown>>(`SELECT ${columns} FROM cascade_events WHERE cascade_id = ? ORDER BY seq`, [cascade])).map((row) => ({
          ...row,
          at: parseTimestamp(row.at).toISOString(),
        }));
      const before = await read();
      expect(before).toHaveLength(3);

      await migrator.up({ to: AFTER });
      expect(await read()).toEqual(before);
      const [stored] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM cascade_event_runs WHERE cascade_id = ?', [cascade]);
      expect(stored!.n).toBe(3);

      await migrator.down();
      expect(await read()).toEqual(before);
      const [table] = await sql.query<{ kind: string }>(`SELECT relkind::text AS kind FROM pg_class WHERE relname = 'cascade_events'`);
      expect(table!.kind).toBe('r');
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
