import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, type AppProcess } from '../support/app-process.js';
import { backends, createTestDatabase, ok, startApp, unique, type TestApp, type TestDatabase } from '../support/harness.js';
import { createRule } from '../support/rules.js';
import { startSink, type Sink, type SinkRoute } from '../support/sink.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';
import { poll, sleep } from '../support/wait.js';
import {
  DELIVERY_FIELDS,
  failingFirst,
  getDelivery,
  ms,
  retrying,
  triggerDelivery,
  waitFinal,
  webhookId,
  type DeliveryExecution,
} from '../support/delivery.js';

/**
 * Due attempts are durable (SPEC.md "Delivery"): they survive a restart and a kill -9, an attempt
 * cut off by a killed process counts as failed and is retried, and with two instances on one
 * database each attempt is sent once.
 *
 * The restart runs on both backends (a stopped app's embedded data directory is opened again). A
 * kill -9 and two instances need real PostgreSQL: PGlite lives inside one process (two instances
 * cannot share it) and its files do not survive a kill -9. Those parts are skipped without
 * DATABASE_URL.
 */

const HEARTBEAT = { HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_STALE_MS: '1000' };
const byPath = () => 'path';

let sink: Sink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  await sink?.close();
});
/** A path of the test's own on the sink. */
const newPath = (route: SinkRoute) => {
  const path = `/${unique('hook').replace(' ', '-')}`;
  sink.route(path, route);
  return path;
};

describe.each(backends())('a due attempt survives a restart (%s)', (backend) => {
  let database: TestDatabase;
  let app: TestApp | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await app?.stop();
    await database?.drop();
  });

  it('stopped while RETRYING, the next app on the same database sends the second attempt once: SUCCESS with 2 attempts', async () => {
    app = await startApp(database);
    const path = newPath(failingFirst(1, { status: 503 }, { status: 200, body: { ok: true } }, byPath));
    const rule = await createRule(app, { actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 3, delayMs: 1500, backoff: 'fixed' }) });
    const first = await triggerDelivery(app, rule.id, { k: 1 });
    expect(first.status).toBe('RETRYING');
    await app.stop();
    app = undefined;
    const stoppedAt = Date.now();
    expect(sink.requestsTo(path)).toHaveLength(1);

    app = await startApp(database);
    const done = await waitFinal(app, first.id, 20_000);
    expect(done.status).toBe('SUCCESS');
    expect(done.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([
      [1, 503, 'WEBHOOK_FAILED'],
      [2, 200, null],
    ]);
    await sleep(1000);
    const received = sink.requestsTo(path);
    expect(received).toHaveLength(2);
    expect(received[1]!.at).toBeGreaterThanOrEqual(stoppedAt);
    expect(received[1]!.at).toBeGreaterThanOrEqual(ms(first.nextAttemptAt));
    expect(received.map(webhookId)).toEqual([first.id, first.id]);
  });
});

describeUnless(withoutPostgres(), 'delivery across processes and instances on one PostgreSQL database (needs DATABASE_URL)', () => {
  describe('the service killed with SIGKILL', () => {
    const processes: AppProcess[] = [];
    afterEach(async () => {
      // The later ones run on the first one's database: stop them first, the first drops it.
      for (const p of processes.reverse()) await p.stop();
      processes.length = 0;
    });

    it('while RETRYING: a new process on the same database sends the second attempt exactly once, SUCCESS with 2 attempts', async () => {
      const first = await startAppProcess('postgres', HEARTBEAT);
      processes.push(first);
      const path = newPath(failingFirst(1, { status: 503 }, { status: 200, body: { ok: true } }, byPath));
      const rule = await createRule(first, { actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 3, delayMs: 1500, backoff: 'fixed' }) });
      const run = await triggerDelivery(first, rule.id, { k: 1 });
      expect(run.status).toBe('RETRYING');
      await first.kill();
      const killedAt = Date.now();

      const second = await startAppProcess('postgres', HEARTBEAT, { database: first.database });
      processes.push(second);
      const done = await waitFinal(second, run.id, 30_000);
      expect(done.status).toBe('SUCCESS');
      expect(done.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([
        [1, 503, 'WEBHOOK_FAILED'],
        [2, 200, null],
      ]);
      await sleep(1500);
      const received = sink.requestsTo(path);
      expect(received).toHaveLength(2);
      expect(received[1]!.at).toBeGreaterThanOrEqual(killedAt);
      expect(received.map(webhookId)).toEqual([run.id, run.id]);
      expect((await getDelivery(second, run.id))!.attempts).toHaveLength(2);
    }, 120_000);

    it('mid-attempt: the cut-off first attempt counts as failed and is retried by the new process', async () => {
      const first = await startAppProcess('postgres', HEARTBEAT);
      processes.push(first);
      let calls = 0;
      const path = newPath(() => (++calls === 1 ? { never: true } : { status: 200, body: { ok: true } }));
      const rule = await createRule(first, {
        actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 3, delayMs: 100, backoff: 'fixed' }, { timeoutMs: 30_000 }),
      });
      const run = await triggerDelivery(first, rule.id, { k: 1 }, false);
      expect(run.status).toBe('RUNNING');
      await sink.waitForRequests(1, path, 10_000);
      await first.kill();

      const second = await startAppProcess('postgres', HEARTBEAT, { database: first.database });
      processes.push(second);
      const done = await waitFinal(second, run.id, 30_000);
      expect(done.status).toBe('SUCCESS');
      expect(done.attempts).toHaveLength(2);
      expect(done.attempts[0]).toMatchObject({ number: 1, httpStatus: null, errorCode: 'WEBHOOK_FAILED' });
      expect(done.attempts[1]).toMatchObject({ number: 2, httpStatus: 200, errorCode: null });
      await sleep(1000);
      expect(sink.requestsTo(path).map(webhookId)).toEqual([run.id, run.id]);
    }, 120_000);
  });

  describe('two instances', () => {
    let database: TestDatabase;
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      database = await createTestDatabase('postgres');
      // One after the other: two first starts at the same moment race on the migrations.
      a = await startApp(database, HEARTBEAT);
      b = await startApp(database, HEARTBEAT);
    });
    afterAll(async () => {
      await Promise.allSettled([a?.stop(), b?.stop()]);
      await database?.drop();
    });

    it('40 executions failing once each: every one SUCCESS with exactly 2 attempts, no attempt sent twice', async () => {
      const path = newPath(failingFirst(1, { status: 503 }, { status: 200, body: { ok: true } }));
      const rule = await createRule(a, {
        triggerSpec: { conditions: [], concurrency: { mode: 'parallel' } },
        actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 5, delayMs: 100, backoff: 'fixed' }),
      });
      await sleep(200);
      const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => triggerDelivery(i % 2 === 0 ? a : b, rule.id, { i })));
      // Answered at the first failure; a busy machine may read the row after the 100 ms retry succeeded.
      for (const r of runs) expect(['RETRYING', 'SUCCESS'], r.id).toContain(r.status);
      expect(runs.some((r) => r.status === 'RETRYING')).toBe(true);
      const ids = runs.map((r) => r.id);

      const EXECUTIONS = `query($ruleId: ID!) { executions(ruleId: $ruleId, first: 100) { edges { node { ${DELIVERY_FIELDS} } } } }`;
      const rows = await poll(
        async () => ok(await b.gql(EXECUTIONS, { ruleId: rule.id })).executions.edges.map((e: { node: DeliveryExecution }) => e.node) as DeliveryExecution[],
        (list) => list.length === 40 && list.every((e) => e.status === 'SUCCESS' || e.status === 'FAILED'),
        30_000,
        'all 40 final',
      );
      await sleep(1000);
      expect(rows.map((e) => e.id).sort()).toEqual([...ids].sort());
      for (const e of rows) {
        expect(e.status, e.id).toBe('SUCCESS');
        expect(
          e.attempts.map((x) => [x.number, x.httpStatus]),
          e.id,
        ).toEqual([
          [1, 503],
          [2, 200],
        ]);
      }
      const perId = new Map<string, number>();
      for (const request of sink.requestsTo(path)) perId.set(webhookId(request), (perId.get(webhookId(request)) ?? 0) + 1);
      expect([...perId.keys()].sort()).toEqual([...ids].sort());
      expect([...perId.values()]).toEqual(ids.map(() => 2));
    }, 90_000);
  });
});
