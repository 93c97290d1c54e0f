import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/clock.js';
import { gqlFrom, postEventsFrom } from '../support/from-address.js';
import { backends, ok, refusal, startFreshApp, unique, type GraphQLResponse } from '../support/harness.js';
import { countExecutions, createRule, type FreshApp } from '../support/rules.js';
import { startSink, type Sink } from '../support/sink.js';
import { poll } from '../support/wait.js';

/**
 * Rate limits over the API (SPEC.md 'Limits'): RATE_LIMIT_RUNS=1 (bursts of 2 runs) and
 * RATE_LIMIT_EVENTS=2 (bursts of 4 events), in memory, on a clock that moves only when the test
 * says so: every wait is exact and nothing refills behind the test's back. The service is in
 * OPEN mode, so each test sends from a loopback address of its own, which is its own budget.
 */

const TRIGGER = 'mutation($id: ID!) { triggerRule(ruleId: $id, payload: {}, wait: false) { id } }';
const EXECUTE = 'mutation($id: ID!) { executeApi(apiId: $id) { id status } }';
const PUBLISH = 'mutation($event: JSON!) { publishEvent(event: $event) { eventId matched } }';
const PUBLISH_MANY = 'mutation($events: [JSON!]!) { publishEvents(events: $events) { accepted matched refused { index reason } } }';
const API_RUNS = 'query($id: ID!) { apiDefinition(id: $id) { executions(first: 0) { totalCount } } }';

/** A RATE_LIMITED refusal, checked for its wait. */
function rateLimited(response: GraphQLResponse, retryAfterMs: number) {
  const error = refusal(response, 'RATE_LIMITED');
  expect(error.extensions!.retryAfterMs).toBe(retryAfterMs);
  expect(response.data ?? null).toBeNull();
  return error;
}

describe.each(backends())('rate limits over the API (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  const clock = new ManualClock();
  let nextAddress = 2;
  /** A client address no other test sends from. */
  const newClient = () => `127.0.0.${nextAddress++}`;

  beforeAll(async () => {
    sink = await startSink();
    t = await startFreshApp(backend, { RATE_LIMIT_RUNS: '1', RATE_LIMIT_EVENTS: '2' }, { clock });
  });
  afterAll(async () => {
    await t?.stop();
    await sink?.close();
  });

  const eventRule = async () => {
    const tag = randomUUID();
    const rule = await createRule(t, { triggerSpec: { field: 'tag', op: '==', value: tag }, actionSpec: { endpoint: `${sink.url}/json` } });
    return { rule, tag };
  };
  /** A rule no event matches, for triggerRule. */
  const triggeredRule = () => createRule(t, { triggerSpec: { field: 'tag', op: '==', value: randomUUID() }, actionSpec: { endpoint: `${sink.url}/json` } });
  /** Waits until the rule has exactly `n` executions (more is a failure). */
  const executionsReach = async (ruleId: string, n: number) => {
    const count = await poll(
      () => countExecutions(t, { ruleId }),
      (c) => c >= n,
      10_000,
      `${n} executions`,
    );
    expect(count).toBe(n);
  };

  it('triggerRule and executeApi share one budget of runs; a refused call starts nothing', async () => {
    const client = newClient();
    const gql = (query: string, variables: Record<string, unknown>) => gqlFrom(t, client, query, variables);
    const rule = await triggeredRule();
    const api = ok(
      await t.gql('mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }', {
        input: { name: unique('http'), kind: 'HTTP', httpSpec: { method: 'GET', url: `${sink.url}/json` } },
      }),
    ).createApiDefinition;

    ok(await gql(TRIGGER, { id: rule.id }));
    ok(await gql(TRIGGER, { id: rule.id }));
    const error = rateLimited(await gql(TRIGGER, { id: rule.id }), 1000);
    expect(error.message).toBe('Rate limit: at most 1 runs per second (bursts of 2) per client address; retry in 1000 ms');
    rateLimited(await gql(EXECUTE, { id: api.id }), 1000);
    // A call refused for another reason is not a run: it spends nothing and says what was wrong.
    refusal(await gql(TRIGGER, { id: randomUUID() }), 'NOT_FOUND');

    await executionsReach(rule.id, 2);
    expect(ok(await t.gql(API_RUNS, { id: api.id })).apiDefinition.executions.totalCount).toBe(0);

    clock.advance(999);
    rateLimited(await gql(EXECUTE, { id: api.id }), 1);
    clock.advance(1);
    expect(ok(await gql(EXECUTE, { id: api.id })).executeApi.status).toBe('SUCCESS');
    rateLimited(await gql(TRIGGER, { id: rule.id }), 1000);
    expect(ok(await t.gql(API_RUNS, { id: api.id })).apiDefinition.executions.totalCount).toBe(1);
    await executionsReach(rule.id, 2);
  });

  it('publishEvent, publishEvents and POST /events spend one budget of events, a call all or nothing', async () => {
    const client = newClient();
    const gql = (query: string, variables: Record<string, unknown>) => gqlFrom(t, client, query, variables);
    const { rule, tag } = await eventRule();
    const event = { tag };

    // Five events are more than a burst can ever hold: refused whole, whatever the wait.
    const tooMany = refusal(await gql(PUBLISH_MANY, { events: [event, event, event, event, event] }), 'RATE_LIMITED');
    expect(tooMany.message).toBe('Rate limit: 5 events in one call is more than the burst of 4 events allowed per client address; send at most 4 at a time');
    expect(tooMany.extensions!.retryAfterMs).toBe(1);

    expect(ok(await gql(PUBLISH_MANY, { events: [event, event, event] })).publishEvents).toMatchObject({ accepted: 3, matched: 3 });
    // One event left of the burst: a call of two runs neither.
    rateLimited(await gql(PUBLISH_MANY, { events: [event, event] }), 500);
    expect(ok(await gql(PUBLISH, { event })).publishEvent.matched).toBe(1);
    rateLimited(await gql(PUBLISH, { event }), 500);

    const refused = await postEventsFrom(t, client, [event]);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.error).toBe('Rate limit: at most 2 events per second (bursts of 4) per client address; retry in 500 ms');
    expect(refused.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: 500 });
    await executionsReach(rule.id, 4);

    clock.advance(500);
    const published = await postEventsFrom(t, client, [event]);
    expect(published.status).toBe(200);
    expect(published.body).toMatchObject({ accepted: 1, matched: 1 });
    await executionsReach(rule.id, 5);
  });

  it('POST /events counts every line of a request, those that do not parse included', async () => {
    const client = newClient();
    const { rule, tag } = await eventRule();
    const line = JSON.stringify({ tag });
    const first = await postEventsFrom(t, client, { ndjson: [line, '{not json', line, line] });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ accepted: 3, matched: 3 });
    const second = await postEventsFrom(t, client, { ndjson: [line] });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body.errors[0].extensions.retryAfterMs).toBe(500);
    await executionsReach(rule.id, 3);
  });

  it('in OPEN mode gives each client address a budget of its own', async () => {
    const [one, two] = [newClient(), newClient()];
    const rule = await triggeredRule();
    const { tag } = await eventRule();
    ok(await gqlFrom(t, one, TRIGGER, { id: rule.id }));
    ok(await gqlFrom(t, one, TRIGGER, { id: rule.id }));
    rateLimited(await gqlFrom(t, one, TRIGGER, { id: rule.id }), 1000);
    expect((await postEventsFrom(t, one, [{ tag }, { tag }, { tag }, { tag }])).status).toBe(200);
    expect((await postEventsFrom(t, one, [{ tag }])).status).toBe(429);

    ok(await gqlFrom(t, two, TRIGGER, { id: rule.id }));
    expect((await postEventsFrom(t, two, [{ tag }])).status).toBe(200);
    // The GraphQL client of the harness sends from 127.0.0.1, a budget of its own too.
    ok(await t.gql(TRIGGER, { id: rule.id }));
    await executionsReach(rule.id, 4);
  });
});
