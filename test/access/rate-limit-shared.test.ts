import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createTestDatabase, ok, refusal, startApp, type TestApp, type TestDatabase } from '../support/harness.js';
import { countExecutions, createRule } from '../support/rules.js';
import { startSink, type Sink } from '../support/sink.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * Two instances on one PostgreSQL database and one Redis spend one budget (SPEC.md 'Limits':
 * "With REDIS_URL the budget is shared by every instance"). RATE_LIMIT_RUNS=1 and
 * RATE_LIMIT_EVENTS=1: bursts of 2, refilled at one a second on Redis's clock, so each check
 * below leaves a margin of one or two seconds. Each run keeps its buckets under a prefix of its own.
 */

const REDIS_URL = process.env.REDIS_URL;
const skip = withoutPostgres() ?? (REDIS_URL ? undefined : 'REDIS_URL is unset, so there is no Redis to test against');

const TRIGGER = 'mutation($id: ID!) { triggerRule(ruleId: $id, payload: {}, wait: false) { id } }';
const PUBLISH_MANY = 'mutation($events: [JSON!]!) { publishEvents(events: $events) { accepted matched } }';

describeUnless(skip, 'rate limits shared by two instances through Redis (needs DATABASE_URL and REDIS_URL)', () => {
  let database: TestDatabase;
  let sink: Sink;
  let a: TestApp;
  let b: TestApp;
  const keyPrefix = `cepheus-test:${randomUUID()}:`;

  beforeAll(async () => {
    sink = await startSink();
    database = await createTestDatabase('postgres');
    const env = { REDIS_URL: REDIS_URL!, RATE_LIMIT_RUNS: '1', RATE_LIMIT_EVENTS: '1' };
    // One after the other: two first starts at the same moment race on the migrations.
    a = await startApp(database, env, { rateLimitKeyPrefix: keyPrefix });
    b = await startApp(database, env, { rateLimitKeyPrefix: keyPrefix });
    // Each instance parses and checks the operations once before the timed part, spending nothing
    // (an unknown rule is refused before any run; an empty list is no events).
    for (const app of [a, b]) {
      refusal(await app.gql(TRIGGER, { id: randomUUID() }), 'NOT_FOUND');
      ok(await app.gql(PUBLISH_MANY, { events: [] }));
    }
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await database?.drop();
    await sink?.close();
    const redis = new Redis(REDIS_URL!);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('a burst of events spent on one instance is spent on the other, over GraphQL and POST /events', async () => {
    const tag = randomUUID();
    const rule = await createRule(a, { triggerSpec: { field: 'tag', op: '==', value: tag }, actionSpec: { endpoint: `${sink.url}/json` } });
    expect(ok(await a.gql(PUBLISH_MANY, { events: [{ tag }, { tag }] })).publishEvents).toMatchObject({ accepted: 2, matched: 2 });
    // Two more need the whole bucket back: two seconds, on whichever instance.
    const error = refusal(await b.gql(PUBLISH_MANY, { events: [{ tag }, { tag }] }), 'RATE_LIMITED');
    expect(error.extensions!.retryAfterMs).toBeGreaterThan(1000);
    expect(error.extensions!.retryAfterMs).toBeLessThanOrEqual(2000);
    const posted = await fetch(`${b.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ tag }, { tag }]),
    });
    expect(posted.status).toBe(429);
    expect(posted.headers.get('retry-after')).toBe('2');
    expect(await countExecutions(a, { ruleId: rule.id })).toBe(2);
  });

  it('runs started on one instance are spent on the other', async () => {
    const rule = await createRule(a, { triggerSpec: { field: 'tag', op: '==', value: randomUUID() }, actionSpec: { endpoint: `${sink.url}/json` } });
    // The runs bucket is apart from the events one: full.
    ok(await a.gql(TRIGGER, { id: rule.id }));
    ok(await b.gql(TRIGGER, { id: rule.id }));
    // a spent one of its burst of two: only b's run makes this one too many.
    const error = refusal(await a.gql(TRIGGER, { id: rule.id }), 'RATE_LIMITED');
    expect(error.extensions!.retryAfterMs).toBeGreaterThan(0);
    expect(error.extensions!.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(await countExecutions(a, { ruleId: rule.id })).toBe(2);
  });
});
