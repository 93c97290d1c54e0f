/**
 * Input JSON nested deeper than 64 levels (a scalar at the top is level 0, each object or array
 * one more) or holding a number that is not finite is BAD_USER_INPUT naming where, whatever the
 * argument (SPEC.md, 'Limits'); answers from outside of such a shape are stored as their text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRule, trigger, waitFinished } from '../support/rules.js';
import { backends, ok, startFreshApp, type GraphQLResponse, refusal } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';

type App = Awaited<ReturnType<typeof startFreshApp>>;

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** `{"a":{"a":...1}}`, `levels` objects deep, as text (JSON.stringify itself would overflow on deep ones). */
const nestedText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
const TOO_DEEP = (root: string) => `${root}${'.a'.repeat(64)}: nested deeper than 64 levels`;

/** A GraphQL request whose variables are given as text, so they can hold 1e400 or 100,000 levels. */
async function rawGql(app: App, query: string, variablesText: string): Promise<GraphQLResponse> {
  const response = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"query":${JSON.stringify(query)},"variables":${variablesText}}`,
  });
  return { ...(await response.json()), status: response.status };
}

function badInput(response: GraphQLResponse, message: string, field: string, specPath?: string) {
  const error = refusal(response, 'BAD_USER_INPUT');
  expect(error.message).toBe(message);
  expect(error.extensions?.field).toBe(field);
  expect(error.extensions?.specPath).toBe(specPath);
  expect(response.data ?? null).toBeNull();
}

describe.each(backends())('JSON input shapes (%s)', (backend) => {
  let app: App;
  let sink: Sink;
  let ruleId: string;

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend);
    ruleId = (await createRule(app, { actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } })).id;
  });

  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  it('triggerRule: a payload 65 levels deep, or 100,000, is refused with its path; 64 levels run', async () => {
    const query = `mutation($id: ID!, $p: JSON) { triggerRule(ruleId: $id, payload: $p) { id status payload } }`;
    badInput(await rawGql(app, query, `{"id":"${ruleId}","p":${nestedText(65)}}`), TOO_DEEP('payload'), `payload${'.a'.repeat(64)}`);
    badInput(await rawGql(app, query, `{"id":"${ruleId}","p":${nestedText(100_000)}}`), TOO_DEEP('payload'), `payload${'.a'.repeat(64)}`);
    const ran = ok(await rawGql(app, query, `{"id":"${ruleId}","p":${nestedText(64)}}`)).triggerRule;
    expect(ran.status).toBe('SUCCESS');
    expect(JSON.stringify(ran.payload)).toBe(nestedText(64));
    // Arrays count as levels too; a scalar at the top is level 0.
    badInput(
      await rawGql(app, query, `{"id":"${ruleId}","p":{"list":${'['.repeat(64)}${']'.repeat(64)}}}`),
      `payload.list${'[0]'.repeat(63)}: nested deeper than 64 levels`,
      `payload.list${'[0]'.repeat(63)}`,
    );
    expect(ok(await rawGql(app, query, `{"id":"${ruleId}","p":7}`)).triggerRule.payload).toBe(7);
  });

  it('a number out of the double range is refused, not matched as Infinity and stored as null', async () => {
    const query = `mutation($id: ID!, $p: JSON) { triggerRule(ruleId: $id, payload: $p) { id status payload } }`;
    badInput(
      await rawGql(app, query, `{"id":"${ruleId}","p":{"cpu":{"values":[1,2,3,1e400]}}}`),
      'payload.cpu.values[3]: a number out of the double range (not finite)',
      'payload.cpu.values[3]',
    );
    badInput(await rawGql(app, query, `{"id":"${ruleId}","p":-1e400}`), 'payload: a number out of the double range (not finite)', 'payload');
    badInput(
      await rawGql(app, query, `{"id":"${ruleId}","p":{"odd key":1e999}}`),
      'payload["odd key"]: a number out of the double range (not finite)',
      'payload["odd key"]',
    );
  });

  it('every JSON argument is checked: simulateRule, publishEvent, executeApi, specs, literals in the document', async () => {
    const deep = nestedText(65);
    badInput(
      await rawGql(app, `mutation($p: JSON) { simulateRule(ruleId: "${UNKNOWN_ID}", payload: $p) { conditionMet } }`, `{"p":${deep}}`),
      TOO_DEEP('payload'),
      `payload${'.a'.repeat(64)}`,
    );
    badInput(
      await rawGql(app, `mutation($e: JSON!) { publishEvent(event: $e) { matched } }`, `{"e":${nestedText(50_000)}}`),
      TOO_DEEP('event'),
      `event${'.a'.repeat(64)}`,
    );
    badInput(
      await rawGql(app, `mutation($p: JSON, $i: JSON) { executeApi(apiId: "${UNKNOWN_ID}", params: $p, input: $i) { id } }`, `{"p":{"n":1},"i":{"x":1e400}}`),
      'input.x: a number out of the double range (not finite)',
      'input.x',
    );
    badInput(
      await rawGql(app, `mutation($p: JSON) { executeApi(apiId: "${UNKNOWN_ID}", params: $p) { id } }`, `{"p":${deep}}`),
      TOO_DEEP('params'),
      `params${'.a'.repeat(64)}`,
    );
    badInput(
      await rawGql(
        app,
        `mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`,
        `{"input":{"name":"deep","triggerSpec":{"conditions":[]},"actionSpec":{"type":"webhook","endpoint":"http://127.0.0.1:9/x","body":{"v":1e400}}}}`,
      ),
      'actionSpec.body.v: a number out of the double range (not finite)',
      'input.actionSpec.body.v',
      'actionSpec.body.v',
    );
    badInput(
      await rawGql(app, `mutation($t: JSON) { updateRule(id: "${ruleId}", input: { triggerSpec: $t }) { id } }`, `{"t":${deep}}`),
      TOO_DEEP('triggerSpec'),
      `input.triggerSpec${'.a'.repeat(64)}`,
      `triggerSpec${'.a'.repeat(64)}`,
    );
    const literal = `${'{a: '.repeat(65)}1${'}'.repeat(65)}`;
    badInput(await app.gql(`mutation { triggerRule(ruleId: "${ruleId}", payload: ${literal}) { id } }`), TOO_DEEP('payload'), `payload${'.a'.repeat(64)}`);
    badInput(
      await app.gql(`mutation { triggerRule(ruleId: "${ruleId}", payload: {v: 1e400}) { id } }`),
      'payload.v: a number out of the double range (not finite)',
      'payload.v',
    );
  });

  it('a webhook answer nested 20,000 levels deep, or holding 1e400, is stored as its text and the run finishes', async () => {
    const deepAnswer = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    sink.route('/deep', { status: 200, body: deepAnswer, contentType: 'application/json' });
    sink.route('/infinite', { status: 200, body: '{"v":1e400}', contentType: 'application/json' });
    for (const [path, text] of [
      ['/deep', deepAnswer],
      ['/infinite', '{"v":1e400}'],
    ] as const) {
      const rule = await createRule(app, { actionSpec: { type: 'webhook', endpoint: `${sink.url}${path}` } });
      const started = await trigger(app, rule.id, { n: 1 }, { wait: false });
      const finished = await waitFinished(app, started.id);
      expect(finished.status).toBe('SUCCESS');
      expect(finished.result).toMatchObject({ status: 200, body: text });
    }
  });

  it("a script's output or log data nested deeper than 64 levels is stored as its text", async () => {
    const source = `function main(params, input, ctx) {
      let deep = 1;
      for (let i = 0; i < 5000; i++) deep = [deep];
      ctx.log('deep', deep);
      return deep;
    }`;
    const created = ok<{ createApiDefinition: { id: string } }>(
      await app.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
        input: { name: `deep ${Date.now()}`, kind: 'SCRIPT', source },
      }),
    ).createApiDefinition;
    const run = ok<{ executeApi: { status: string; output: unknown; logs: { message: string; data: unknown }[] } }>(
      await app.gql(`mutation($id: ID!) { executeApi(apiId: $id) { status output logs { message data } } }`, { id: created.id }),
    ).executeApi;
    const text = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
    expect(run.status).toBe('SUCCESS');
    expect(run.output).toBe(text);
    expect(run.logs.find((line) => line.message === 'deep')?.data).toBe(text);
  });
});
