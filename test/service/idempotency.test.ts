import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/clock.js';
import { backends, ok, refusal, startFreshApp, unique, type GraphQLResponse, type TestApp } from '../support/harness.js';
import { gqlWith, TEST_ADMIN_KEY } from '../support/keys.js';
import { countExecutions, createRule, updateRule, type FreshApp } from '../support/rules.js';
import { startSink, type Sink } from '../support/sink.js';
import { poll, sleep } from '../support/wait.js';

/** Idempotency keys (SPEC.md, 'Idempotency'): repeats run nothing and answer what the first call produced. */

const TRIGGER = `mutation($ruleId: ID!, $payload: JSON, $wait: Boolean, $key: String, $executedBy: String) {
  triggerRule(ruleId: $ruleId, payload: $payload, wait: $wait, idempotencyKey: $key, executedBy: $executedBy) { id status payload }
}`;
const EXECUTE = `mutation($apiId: ID!, $params: JSON, $key: String) { executeApi(apiId: $apiId, params: $params, idempotencyKey: $key) { id status } }`;
const PUBLISH_MANY = `mutation($events: [JSON!]!, $key: String) {
  publishEvents(events: $events, idempotencyKey: $key) { accepted matched refused { index reason } }
}`;
const API_RUNS = 'query($id: ID!) { apiDefinition(id: $id) { executions(first: 0) { totalCount } } }';
const CREATE_API = 'mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }';

type Gql = (query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse>;

function badKey(response: GraphQLResponse) {
  const error = refusal(response, 'BAD_USER_INPUT');
  expect(error.extensions?.field).toBe('idempotencyKey');
  expect(error.message).toContain('idempotencyKey');
  return error;
}

function postEvents(app: TestApp, events: unknown[], headers: Record<string, string> = {}) {
  return fetch(`${app.base}/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(events) });
}

/** A rule with a webhook to the sink that only events carrying its tag match. */
async function taggedRule(app: TestApp, sink: Sink, input: { active?: boolean; endpoint?: string } = {}) {
  const tag = randomUUID();
  const rule = await createRule(app, {
    triggerSpec: { field: 'tag', op: '==', value: tag },
    actionSpec: { type: 'webhook', endpoint: `${sink.url}${input.endpoint ?? '/json'}`, method: 'POST' },
    active: input.active,
  });
  return { ...rule, tag };
}

describe.each(backends())('idempotency keys (%s)', (backend) => {
  let app: FreshApp;
  let sink: Sink;
  let gql: Gql;

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend);
    gql = (query, variables) => app.gql(query, variables);
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('a repeated triggerRule answers the same execution and runs nothing', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const first = ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag, a: 1, b: { c: 2, d: 3 } }, key })).triggerRule;
    expect(first.status).toBe('SUCCESS');
    // Key order in the payload does not matter; neither does wait.
    const again = ok(await gql(TRIGGER, { ruleId: rule.id, payload: { b: { d: 3, c: 2 }, a: 1, tag: rule.tag }, key, wait: false })).triggerRule;
    expect(again).toEqual(first);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
  });

  it('the repeat answers the execution as it is now, even while the first call waits', async () => {
    const rule = await taggedRule(app, sink, { endpoint: '/slow' });
    const key = randomUUID();
    const waiting = gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key });
    // Once the first call's row is written, the repeat answers it before the slow webhook is done.
    await poll(
      () => countExecutions(app, { ruleId: rule.id }),
      (n) => n === 1,
    );
    const repeat = ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key, wait: false })).triggerRule;
    expect(repeat.status).toBe('RUNNING');
    const first = ok(await waiting).triggerRule;
    expect(first.id).toBe(repeat.id);
    expect(first.status).toBe('SUCCESS');
    expect(ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key })).triggerRule).toEqual(first);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
  });

  it('different arguments with the same key are BAD_USER_INPUT naming idempotencyKey', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: { n: 1 }, key }));
    badKey(await gql(TRIGGER, { ruleId: rule.id, payload: { n: 2 }, key }));
    badKey(await gql(TRIGGER, { ruleId: rule.id, payload: { n: 1 }, key, executedBy: 'someone else' }));
    const other = await taggedRule(app, sink);
    badKey(await gql(TRIGGER, { ruleId: other.id, payload: { n: 1 }, key }));
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
    expect(await countExecutions(app, { ruleId: other.id })).toBe(0);
  });

  it('a call refused before running is not remembered: the same key runs once the rule is active', async () => {
    const rule = await taggedRule(app, sink, { active: false });
    const key = randomUUID();
    refusal(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key }), 'RULE_INACTIVE');
    refusal(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key }), 'RULE_INACTIVE');
    await updateRule(app, rule.id, { active: true });
    const ran = ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key })).triggerRule;
    expect(ran.status).toBe('SUCCESS');
    expect(ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key })).triggerRule.id).toBe(ran.id);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
    // Bad input is not remembered either.
    const unknownRule = randomUUID();
    const other = randomUUID();
    refusal(await gql(TRIGGER, { ruleId: unknownRule, payload: { tag: rule.tag }, key: other }), 'NOT_FOUND');
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, key: other }));
  });

  it('racing calls with one key give one run', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => gql(TRIGGER, { ruleId: rule.id, payload: { x: 1 }, key, wait: i % 2 === 0 })));
    const ids = new Set(answers.map((response) => ok(response).triggerRule.id));
    expect(ids.size).toBe(1);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
  });

  it('keys are 1 to 200 characters', async () => {
    const rule = await taggedRule(app, sink);
    badKey(await gql(TRIGGER, { ruleId: rule.id, payload: {}, key: 'k'.repeat(201) }));
    badKey(await gql(TRIGGER, { ruleId: rule.id, payload: {}, key: '' }));
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: {}, key: 'k'.repeat(200) }));
    const tooLong = await postEvents(app, [{ tag: rule.tag }], { 'idempotency-key': 'k'.repeat(201) });
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).error).toContain('Idempotency-Key');
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
  });

  it('POST /events with an Idempotency-Key: racing duplicates publish once and answer the same counts', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const events = [{ tag: rule.tag, n: 1 }, { tag: rule.tag, n: 2 }, { other: true }];
    const responses = await Promise.all(Array.from({ length: 10 }, () => postEvents(app, events, { 'idempotency-key': key })));
    const bodies = await Promise.all(responses.map((response) => response.json()));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    for (const body of bodies) expect(body).toEqual({ accepted: 3, matched: 2, refused: [] });
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(2);
    // Different events with the key: 400 naming the header; publishEvents is another namespace.
    const changed = await postEvents(app, [{ tag: rule.tag, n: 3 }], { 'idempotency-key': key });
    expect(changed.status).toBe(400);
    const refused = await changed.json();
    expect(refused.error).toContain('Idempotency-Key');
    expect(refused.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(ok(await gql(PUBLISH_MANY, { events: [{ tag: rule.tag, n: 4 }], key })).publishEvents).toEqual({ accepted: 1, matched: 1, refused: [] });
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(3);
  });

  it('publishEvents with a key publishes once', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const events = [{ tag: rule.tag }, { tag: rule.tag, x: { b: 1, a: 2 } }];
    const first = ok(await gql(PUBLISH_MANY, { events, key })).publishEvents;
    expect(first).toEqual({ accepted: 2, matched: 2, refused: [] });
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => gql(PUBLISH_MANY, { events: [{ tag: rule.tag }, { x: { a: 2, b: 1 }, tag: rule.tag }], key })),
    );
    for (const answer of answers) expect(ok(answer).publishEvents).toEqual(first);
    badKey(await gql(PUBLISH_MANY, { events: [{ tag: rule.tag }], key }));
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(2);
  });

  it('executeApi with a key runs the API once and answers the same ApiExecution', async () => {
    const api = ok(
      await gql(CREATE_API, { input: { name: unique('http'), kind: 'HTTP', httpSpec: { method: 'GET', url: `${sink.url}/json` } } }),
    ).createApiDefinition;
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => gql(EXECUTE, { apiId: api.id, params: { a: 1 }, key })));
    const ids = new Set(answers.map((response) => ok(response).executeApi.id));
    expect(ids.size).toBe(1);
    const again = ok(await gql(EXECUTE, { apiId: api.id, params: { a: 1 }, key })).executeApi;
    expect(again).toEqual({ id: [...ids][0], status: 'SUCCESS' });
    badKey(await gql(EXECUTE, { apiId: api.id, params: { a: 2 }, key }));
    expect(ok(await gql(API_RUNS, { id: api.id })).apiDefinition.executions.totalCount).toBe(1);
    // triggerRule is another namespace: the same key runs there.
    const rule = await taggedRule(app, sink);
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: {}, key }));
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(1);
  });

  it('without a key every call runs', async () => {
    const rule = await taggedRule(app, sink);
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: {} }));
    ok(await gql(TRIGGER, { ruleId: rule.id, payload: {} }));
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(2);
  });
});

describe.each(backends())('idempotency keys per API key (%s)', (backend) => {
  let app: FreshApp;
  let sink: Sink;
  const admin: Gql = (query, variables) => gqlWith(app.url, TEST_ADMIN_KEY, query, variables);

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend, { ADMIN_KEY: TEST_ADMIN_KEY });
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  const editorKey = async () => {
    const created = ok(
      await admin('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }', { input: { name: unique('editor'), role: 'EDITOR' } }),
    ).createApiKey;
    return created.secret as string;
  };

  it('two API keys using the same idempotency key each run; each repeat answers its own run', async () => {
    const tag = randomUUID();
    const rule = ok(
      await admin('mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
        input: { name: unique('rule'), triggerSpec: { field: 'tag', op: '==', value: tag }, actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } },
      }),
    ).createRule;
    const [one, two] = [await editorKey(), await editorKey()];
    const key = randomUUID();
    const variables = { ruleId: rule.id, payload: {}, key };
    const a = ok(await gqlWith(app.url, one, TRIGGER, variables)).triggerRule;
    const b = ok(await gqlWith(app.url, two, TRIGGER, variables)).triggerRule;
    const c = ok(await admin(TRIGGER, variables)).triggerRule;
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    expect(ok(await gqlWith(app.url, one, TRIGGER, variables)).triggerRule.id).toBe(a.id);
    expect(ok(await gqlWith(app.url, two, TRIGGER, variables)).triggerRule.id).toBe(b.id);
    expect(ok(await admin(TRIGGER, variables)).triggerRule.id).toBe(c.id);
    expect(ok(await admin('query($id: ID) { executions(ruleId: $id, first: 0) { totalCount } }', { id: rule.id })).executions.totalCount).toBe(3);
  });
});

describe.each(backends())('idempotency keys and rate limits (%s)', (backend) => {
  let app: FreshApp;
  let sink: Sink;
  const clock = new ManualClock();

  beforeAll(async () => {
    sink = await startSink();
    // One run a second in bursts of two, on a clock that moves only when the test says so.
    app = await startFreshApp(backend, { RATE_LIMIT_RUNS: '1' }, { clock });
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('a RATE_LIMITED call may be retried with its key; repeats spend nothing', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const variables = { ruleId: rule.id, payload: { tag: rule.tag }, key, wait: false };
    ok(await app.gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, wait: false }));
    ok(await app.gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, wait: false }));
    refusal(await app.gql(TRIGGER, variables), 'RATE_LIMITED');
    clock.advance(1000);
    const ran = ok(await app.gql(TRIGGER, variables)).triggerRule;
    // The bucket is empty again: a new call is refused, a repeat is answered.
    refusal(await app.gql(TRIGGER, { ruleId: rule.id, payload: { tag: rule.tag }, wait: false }), 'RATE_LIMITED');
    expect(ok(await app.gql(TRIGGER, variables)).triggerRule.id).toBe(ran.id);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(3);
  });
});

describe.each(backends())('expiry of idempotency keys (%s)', (backend) => {
  let app: FreshApp;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend, { IDEMPOTENCY_TTL_SECONDS: '1' });
  });
  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('after IDEMPOTENCY_TTL_SECONDS the same key runs again; retention deletes expired keys', async () => {
    const rule = await taggedRule(app, sink);
    const key = randomUUID();
    const first = ok(await app.gql(TRIGGER, { ruleId: rule.id, payload: {}, key })).triggerRule;
    await sleep(1100);
    const second = ok(await app.gql(TRIGGER, { ruleId: rule.id, payload: {}, key })).triggerRule;
    expect(second.id).not.toBe(first.id);
    expect(await countExecutions(app, { ruleId: rule.id })).toBe(2);
    // Other arguments are accepted too once the first call is forgotten.
    await sleep(1100);
    ok(await app.gql(TRIGGER, { ruleId: rule.id, payload: { other: true }, key }));
    await sleep(1100);
    const result = await app.app.engine.retention.run();
    expect(result.idempotencyKeys).toBeGreaterThanOrEqual(1);
    expect(await app.app.database.sql.query('SELECT 1 FROM idempotency_keys')).toEqual([]);
  });
});
