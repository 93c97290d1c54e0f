import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/sqlAdapter.js';
import { timingKey } from '../../src/engine/jobs/scheduleTiming.js';
import { backends, createTestDatabase, ok, startApp, startFreshApp, type TestApp, type TestDatabase } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { ManualClock } from '../support/clock.js';
import { poll } from '../support/wait.js';
import { createRule, EXECUTION_FIELDS, updateRule, type ExecutionData } from '../support/rules.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * SCHEDULE and METRIC rules (SPEC.md "SCHEDULE", "METRIC"): the scheduler fires each due run
 * once (a lease row claimed with one conditional UPDATE), folds runs missed while every instance
 * was down into one firing at start, and polls METRIC endpoints edge-triggered, a failed poll
 * leaving a FAILED row with METRIC_POLL_FAILED. The apps run on a ManualClock the tests move one
 * scheduler tick at a time (the smallest interval is one second); the runs a tick starts are real
 * work, so every wait for their rows polls with a deadline.
 */

const TICK_MS = 100;
const FAST = { SCHEDULER_TICK_MS: String(TICK_MS) };

/** Lets `ms` of the clock pass, one scheduler tick (and its pass) at a time. */
async function letPass(clock: ManualClock, ms: number, tickMs = TICK_MS) {
  for (let passed = 0; passed < ms; passed += tickMs) await clock.tick(tickMs);
}

/** Reads after each tick of the clock until `done` holds (at most `timeoutMs` of real time). */
function tickUntil<T>(clock: ManualClock, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, tickMs = TICK_MS): Promise<T> {
  return poll(
    async () => {
      await clock.tick(tickMs);
      return read();
    },
    done,
    timeoutMs,
    'condition',
    0,
  );
}

async function executionsOf(app: TestApp, ruleId: string): Promise<ExecutionData[]> {
  const data = ok(await app.gql(`query($ruleId: ID) { executions(ruleId: $ruleId, first: 100) { edges { node { ${EXECUTION_FIELDS} } } } }`, { ruleId }));
  return (data.executions.edges as { node: ExecutionData }[]).map((e) => e.node).reverse();
}

describe.each(backends())('scheduler (%s)', (backend) => {
  let sink: Sink;
  let app: TestApp;
  let metric = 10;
  const clock = new ManualClock();

  beforeAll(async () => {
    sink = await startSink({ '/metric-edge': () => ({ status: 200, body: { data: { cpu: metric }, host: 'db1' } }) });
    app = await startFreshApp(backend, FAST, { clock });
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('fires an intervalSeconds rule every second with executedBy scheduler and the spec payload, and stops when switched off', async () => {
    const rule = await createRule(app, {
      triggerType: 'SCHEDULE',
      triggerSpec: { intervalSeconds: 1, payload: { hello: 'world' } },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/scheduled`, method: 'POST', body: { got: '{{payload.hello}}' } },
    });
    const rows = await tickUntil(
      clock,
      () => executionsOf(app, rule.id),
      (r) => r.length >= 2 && r.every((e) => e.status !== 'RUNNING'),
      8000,
    );
    const first = rows[0]!;
    expect(first.executedBy).toBe('scheduler');
    expect(first.payload).toEqual({ hello: 'world' });
    expect(first.status).toBe('SUCCESS');
    expect(first.references.trigger).toEqual({ schedule: { intervalSeconds: 1 } });
    expect(typeof first.references.schedule.dueAt).toBe('string');
    // Due runs one interval apart, each fired once.
    const dues = rows.map((e) => Date.parse(e.references.schedule.dueAt));
    expect(new Set(dues).size).toBe(dues.length);
    expect(dues[1]! - dues[0]!).toBe(1000);
    expect(sink.requestsTo('/scheduled')[0]!.json).toEqual({ got: 'world' });

    await updateRule(app, rule.id, { active: false });
    await letPass(clock, 300);
    const settled = (await executionsOf(app, rule.id)).length;
    await letPass(clock, 1500);
    expect((await executionsOf(app, rule.id)).length).toBe(settled);
  });

  it('fires a cron rule (six fields, with a time zone)', async () => {
    const rule = await createRule(app, {
      triggerType: 'SCHEDULE',
      triggerSpec: { cron: '* * * * * *', timezone: 'Europe/Paris' },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/cron`, method: 'POST' },
    });
    const [first] = await tickUntil(
      clock,
      () => executionsOf(app, rule.id),
      (r) => r.length >= 1,
      5000,
    );
    expect(first!.executedBy).toBe('scheduler');
    expect(first!.payload).toBeNull();
    expect(first!.references.trigger).toEqual({ schedule: { cron: '* * * * * *', timezone: 'Europe/Paris' } });
    expect(new Date(first!.references.schedule.dueAt).getUTCMilliseconds()).toBe(0);
    await updateRule(app, rule.id, { active: false });
  });

  it('METRIC is edge-triggered: no row below, one row when it crosses, none while it stays, one more after it re-arms', async () => {
    metric = 10;
    const path = '/metric-edge';
    const rule = await createRule(app, {
      triggerType: 'METRIC',
      triggerSpec: {
        endpoint: `${sink.url}${path}`,
        headers: { 'x-token': 'secret' },
        params: { host: 'db1' },
        valuePath: 'data.cpu',
        op: '>',
        threshold: 80,
        pollIntervalSeconds: 1,
      },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/alert`, method: 'POST', body: { cpu: '{{payload.data.cpu}}' } },
    });
    const polls = () => sink.requestsTo(path).length;
    // Waits for `n` more polls; the one before the last is then fully handled (lease released).
    const morePolls = async (n: number) => {
      const target = polls() + n;
      await tickUntil(
        clock,
        async () => polls(),
        (count) => count >= target,
        5000,
      );
    };

    await morePolls(2);
    expect(sink.requestsTo(path)[0]!.query.get('host')).toBe('db1');
    expect(sink.requestsTo(path)[0]!.headers['x-token']).toBe('secret');
    expect(await executionsOf(app, rule.id)).toHaveLength(0);

    metric = 90;
    const [fired] = await tickUntil(
      clock,
      () => executionsOf(app, rule.id),
      (r) => r.length === 1 && r[0]!.status !== 'RUNNING',
      5000,
    );
    expect(fired!.status).toBe('SUCCESS');
    expect(fired!.executedBy).toBe('metric-poll');
    expect(fired!.payload).toEqual({ data: { cpu: 90 }, host: 'db1' });
    expect(fired!.references.trigger).toMatchObject({ field: 'data.cpu', actual: 90, expected: 80, operator: '>', condition_evaluated: true });
    expect(fired!.references.poll).toMatchObject({ value: 90, status: 200 });

    await morePolls(3);
    expect(await executionsOf(app, rule.id)).toHaveLength(1);

    metric = 10;
    await morePolls(2);
    expect(await executionsOf(app, rule.id)).toHaveLength(1);
    metric = 95;
    const rows = await tickUntil(
      clock,
      () => executionsOf(app, rule.id),
      (r) => r.length === 2 && r[1]!.status !== 'RUNNING',
      5000,
    );
    expect(rows[1]!.payload).toEqual({ data: { cpu: 95 }, host: 'db1' });
    expect(sink.requestsTo('/alert').map((r) => r.json)).toEqual([{ cpu: 90 }, { cpu: 95 }]);
    await updateRule(app, rule.id, { active: false });
  });

  /** The first row of a METRIC rule polling `/path` of the sink, its action never to be called; the rule is then switched off. */
  async function firstPollOf(path: string) {
    const rule = await createRule(app, {
      triggerType: 'METRIC',
      triggerSpec: { endpoint: `${sink.url}/${path}`, valuePath: 'data.cpu', op: '>', threshold: 80, pollIntervalSeconds: 1 },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/never-called`, method: 'POST' },
    });
    const [first] = await tickUntil(
      clock,
      () => executionsOf(app, rule.id),
      (r) => r.length >= 1,
      5000,
    );
    await updateRule(app, rule.id, { active: false });
    return first;
  }

  it('a failed poll (status 500) leaves a FAILED row with METRIC_POLL_FAILED and its events', async () => {
    const failed = await firstPollOf('fail');
    expect(failed!.status).toBe('FAILED');
    expect(failed!.executedBy).toBe('metric-poll');
    expect(failed!.conditionMet).toBe(false);
    expect(failed!.error?.code).toBe('METRIC_POLL_FAILED');
    expect(failed!.error?.message).toContain('500');
    expect(failed!.finishedAt).not.toBeNull();
    expect(failed!.references.poll.status).toBe(500);
    const events = ok(await app.gql(`query($id: ID!) { cascade(id: $id) { status events { seq kind status } } }`, { id: failed!.cascadeId })).cascade;
    expect(events.status).toBe('FAILED');
    expect(events.events.map((e: { kind: string }) => e.kind)).toEqual(['RULE_STARTED', 'RULE_FINISHED', 'CASCADE_FINISHED']);
    expect(sink.requestsTo('/never-called')).toHaveLength(0);
  });

  it('a value missing at valuePath is a failed poll too', async () => {
    const failed = await firstPollOf('json');
    expect(failed!.error?.code).toBe('METRIC_POLL_FAILED');
    expect(failed!.error?.message).toContain('data.cpu');
  });
});

describe.each(backends())('a run missed while every instance was down (%s)', (backend) => {
  let database: TestDatabase;
  let app: TestApp | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it('fires once at start, not once per missed run', async () => {
    // A slow tick on the first app: the rule's lease row is written by hand, as if the last
    // instance had stopped five hours ago with the run of an hourly rule due then.
    app = await startApp(database, { SCHEDULER_TICK_MS: '60000' });
    const rule = await createRule(app, {
      triggerType: 'SCHEDULE',
      triggerSpec: { intervalSeconds: 3600, payload: { missed: true } },
      actionSpec: { type: 'trigger_rule', rule_id: '00000000-0000-4000-8000-000000000000' },
    });
    const stored = (await app.app.engine.getRule(rule.id))!;
    const due = new Date(Date.now() - 5 * 3600_000 - 1234);
    const sql = createSql(app.app.database.orm);
    await sql.query(`INSERT INTO schedule_leases (rule_id, kind, timing, rule_updated_at, due_at) VALUES (?, 'SCHEDULE', ?, ?::timestamptz, ?::timestamptz)`, [
      rule.id,
      timingKey(stored),
      stored.updatedAt.toISOString(),
      due.toISOString(),
    ]);
    await app.stop();
    app = undefined;

    const clock = new ManualClock();
    app = await startApp(database, FAST, { clock });
    const [fired] = await tickUntil(
      clock,
      () => executionsOf(app!, rule.id),
      (r) => r.length >= 1,
      5000,
    );
    await letPass(clock, 800); // several more ticks
    const rows = await executionsOf(app, rule.id);
    expect(rows).toHaveLength(1);
    expect(fired!.executedBy).toBe('scheduler');
    expect(fired!.payload).toEqual({ missed: true });
    expect(fired!.references.schedule).toEqual({ dueAt: due.toISOString(), missedRunsFolded: true });
    // The next due run keeps the interval's phase and is ahead of now.
    // The lease is given back (owner cleared, next due set) once the fired run is handed over;
    // on a loaded machine that may come after the ticks above.
    const [lease] = await poll(
      () =>
        createSql(app!.app.database.orm).query<{ due_at: string; owner: string | null; last_fired_due: string }>(
          'SELECT * FROM schedule_leases WHERE rule_id = ?',
          [rule.id],
        ),
      (rows) => rows[0]?.owner === null,
      10_000,
      'the lease given back',
    );
    const next = new Date(lease!.due_at).getTime();
    expect(next).toBe(due.getTime() + 6 * 3600_000);
    expect(next).toBeGreaterThan(Date.now());
    expect(lease!.owner).toBeNull();
  });
});

// Two instances need a shared database server: PGlite is embedded in one process, so this runs on
// real PostgreSQL only (DATABASE_URL set).
describeUnless(withoutPostgres(), 'a schedule across two instances (PostgreSQL)', () => {
  let database: TestDatabase;
  const apps: TestApp[] = [];
  // One clock for both: instances sharing a database keep their clocks in sync.
  const clock = new ManualClock();
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    apps.push(await startApp(database, { SCHEDULER_TICK_MS: '50' }, { clock }), await startApp(database, { SCHEDULER_TICK_MS: '50' }, { clock }));
  });
  afterAll(async () => {
    for (const app of apps) await app.stop();
    await database?.drop();
  });

  it('fires each due run once, whichever instance claims it', async () => {
    const [a, b] = apps as [TestApp, TestApp];
    const rule = await createRule(a, {
      triggerType: 'SCHEDULE',
      triggerSpec: { intervalSeconds: 1 },
      actionSpec: { type: 'trigger_rule', rule_id: '00000000-0000-4000-8000-000000000000' },
    });
    await tickUntil(
      clock,
      () => executionsOf(b, rule.id),
      (r) => r.length >= 4,
      10_000,
      50,
    );
    await updateRule(a, rule.id, { active: false });
    await letPass(clock, 300, 50);
    const rows = await executionsOf(b, rule.id);
    const dues = rows.map((e) => Date.parse(e.references.schedule.dueAt)).sort((x, y) => x - y);
    expect(new Set(dues).size).toBe(rows.length);
    for (let i = 1; i < dues.length; i++) expect(dues[i]! - dues[i - 1]!).toBe(1000);
    expect(rows.every((e) => e.executedBy === 'scheduler')).toBe(true);
  });
});
