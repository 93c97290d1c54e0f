/**
 * Secrets end to end (SPEC.md, 'Secrets'): stored sealed, listed by name, read at send time by
 * webhooks, METRIC polls and HTTP APIs, and never seen again: not in answers, stored rows, log
 * lines, cascade events, subscription messages or the service's own log, also when the receiver
 * echoes the value back. Real server, real database, real local receivers.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { backends, ok, refusal, startFreshApp, unique, type TestApp } from '../support/harness.js';
import { EXECUTION_FIELDS, LOG_FIELDS, createRule, trigger, updateRule, type ExecutionData } from '../support/rules.js';
import { startSink, type Sink, type SinkRequest } from '../support/sink.js';
import { subscribeWs } from '../support/ws.js';
import { poll } from '../support/wait.js';

type App = TestApp & { stop(): Promise<void> };

class CapturedLog extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** Answers with everything it received, so a secret sent comes straight back. */
const echo = (status: number) => (req: SinkRequest) => ({
  status,
  body: { headers: req.headers, query: Object.fromEntries(req.query), body: req.body, url: req.url },
});

const TOKEN = 'tok_7f3a9c2e5b1d4e8f';

const SET = `mutation($name: String!, $value: String!) { setSecret(name: $name, value: $value) { name createdAt updatedAt } }`;
const LIST = `{ secrets { name createdAt updatedAt } }`;
const DELETE = `mutation($name: String!) { deleteSecret(name: $name) }`;
const CASCADE = `query($id: ID!) { cascade(id: $id) { events { kind message status } } }`;

const FULL_EXECUTION = `query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} logs { ${LOG_FIELDS} } } }`;

describe.each(backends())('secrets (%s)', (backend) => {
  let t: App;
  let sink: Sink;
  const log = new CapturedLog();
  /** Every value a test sets; none may appear in anything the service wrote. */
  const values = new Set<string>([TOKEN]);

  const set = async (name: string, value: string) => {
    values.add(value);
    return ok(await t.gql(SET, { name, value })).setSecret;
  };
  const fullExecution = async (id: string) => ok(await t.gql(FULL_EXECUTION, { id })).execution as ExecutionData;
  const expectHidden = (what: unknown, label: string) => {
    const text = JSON.stringify(what);
    for (const value of values) expect(text.includes(value), `${label} holds a secret value`).toBe(false);
  };

  beforeAll(async () => {
    sink = await startSink({ '/echo': echo(200), '/echo-fail': echo(500) });
    // The service's own logger at its most talkative, into a stream the last test reads.
    t = await startFreshApp(backend, { SECRETS_KEY: randomBytes(32).toString('hex') }, { logger: createLogger({ logLevel: 'trace', logPretty: false }, log) });
    await set('TOKEN', TOKEN);
  });

  afterAll(async () => {
    await t?.stop();
    await sink?.close();
  });
  beforeEach(() => sink.reset());

  it('setSecret stores a value under a name; secrets lists names only, sorted; deleteSecret removes it', async () => {
    const made = await set('zeta_KEY', 'zeta-value-1');
    expect(made.name).toBe('zeta_KEY');
    expect(made.createdAt).toBe(made.updatedAt);
    const again = await set('zeta_KEY', 'zeta-value-2');
    expect(again.createdAt).toBe(made.createdAt);
    expect(Date.parse(again.updatedAt)).toBeGreaterThan(Date.parse(made.updatedAt));
    await set('_alpha', 'alpha-value-1');
    const names = ok(await t.gql(LIST)).secrets.map((s: { name: string }) => s.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['TOKEN', '_alpha', 'zeta_KEY']));

    // At rest: sealed, never in clear.
    const rows = await t.app.database.sql.query<{ name: string; ciphertext: string; key_id: string }>('SELECT name, ciphertext, key_id FROM secrets');
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const row of rows) {
      expect(row.key_id).toMatch(/^[0-9a-f]{16}$/);
      expectHidden(row, `the stored row of ${row.name}`);
    }

    expect(ok(await t.gql(DELETE, { name: 'zeta_KEY' })).deleteSecret).toBe(true);
    expect(ok(await t.gql(DELETE, { name: 'zeta_KEY' })).deleteSecret).toBe(false);
    expect(ok(await t.gql(LIST)).secrets.map((s: { name: string }) => s.name)).not.toContain('zeta_KEY');
  });

  it('refuses a bad name or value with BAD_USER_INPUT naming which and why, and stores nothing', async () => {
    const before = ok(await t.gql(LIST)).secrets.length;
    for (const name of ['1abc', 'has-dash', 'a'.repeat(65), '']) {
      const error = refusal(await t.gql(SET, { name, value: 'long-enough-value' }), 'BAD_USER_INPUT');
      expect(error.message).toMatch(/^name: /);
      expect(error.extensions?.field).toBe('name');
    }
    for (const value of ['short', 'x'.repeat(65_537)]) {
      const error = refusal(await t.gql(SET, { name: 'NEW_ONE', value }), 'BAD_USER_INPUT');
      expect(error.message).toMatch(/^value: expected 8 to 65,536 characters/);
      expect(error.message).not.toContain(value);
    }
    expect(ok(await t.gql(LIST)).secrets.length).toBe(before);
    expect(ok(await t.gql(SET, { name: 'a'.repeat(64), value: 'x'.repeat(65_536) })).setSecret.name).toBe('a'.repeat(64));
  });

  it('a webhook sends the secret; the receiver echoing it back leaves no trace of it anywhere', async () => {
    const rule = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/echo?key={{secrets.TOKEN}}`,
        method: 'POST',
        headers: { Authorization: 'Bearer {{secrets.TOKEN}}' },
        body: { token: '{{secrets.TOKEN}}', note: 'for {{payload.who}}' },
      },
    });
    const logs = subscribeWs(t.url, `subscription($ruleId: ID) { actionLogs(ruleId: $ruleId) { ${LOG_FIELDS} } }`, { ruleId: rule.id });
    const updates = subscribeWs(t.url, `subscription($ruleId: ID) { executionUpdates(ruleId: $ruleId) { ${EXECUTION_FIELDS} } }`, { ruleId: rule.id });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const e = await trigger(t, rule.id, { who: 'ann' });
    expect(e.status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/echo');
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.query.get('key')).toBe(TOKEN);
    expect(req!.json).toEqual({ token: TOKEN, note: 'for ann' });

    // The echo is in the result, with the value redacted.
    expect(e.result.body.headers.authorization).toBe('Bearer [redacted]');
    expect(e.result.body.body).toContain('[redacted]');
    expect(e.references.action.endpoint).toContain('key=[redacted]');
    expectHidden(e, 'the triggerRule answer');
    expectHidden(await fullExecution(e.id), 'the stored execution');
    expectHidden(ok(await t.gql(CASCADE, { id: e.cascadeId })).cascade, 'the cascade events');

    await logs.waitFor((events) => events.length >= 1);
    await updates.waitFor((events) => events.some((u: ExecutionData) => u.finishedAt !== null));
    expectHidden(logs.events, 'actionLogs messages');
    expectHidden(updates.events, 'executionUpdates messages');
    logs.dispose();
    updates.dispose();

    // A failing receiver: the error, the log lines and the result hide it too.
    await updateRule(t, rule.id, {
      actionSpec: { endpoint: `${sink.url}/echo-fail?key={{secrets.TOKEN}}`, headers: { Authorization: 'Bearer {{secrets.TOKEN}}' } },
    });
    const failed = await trigger(t, rule.id, {});
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.code).toBe('WEBHOOK_FAILED');
    expect(failed.error?.message).toContain('[redacted]');
    expectHidden(await fullExecution(failed.id), 'the failed execution');
  });

  it('reads the secret at send time: a new value takes effect on the next send', async () => {
    await set('ROTATING', 'first-value-1');
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/echo`, headers: { 'X-Key': '{{secrets.ROTATING}}' } } });
    await trigger(t, rule.id, {});
    await set('ROTATING', 'second-value-2');
    await trigger(t, rule.id, {});
    const sent = sink.requestsTo('/echo').map((r) => r.headers['x-key']);
    expect(sent).toEqual(['first-value-1', 'second-value-2']);
  });

  it('an unknown secret is accepted at save and fails the send with SECRET_NOT_FOUND naming it', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/echo`, headers: { 'X-Key': '{{secrets.NOT_YET}}' } } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('SECRET_NOT_FOUND');
    expect(e.error?.message).toContain('NOT_YET');
    expect(e.logs?.some((l) => l.level === 'ERROR' && l.message.includes('NOT_YET'))).toBe(true);
    expect(sink.requestsTo('/echo')).toHaveLength(0);

    await set('NOT_YET', 'now-it-exists');
    expect((await trigger(t, rule.id, {})).status).toBe('SUCCESS');
  });

  it('templates apply once, to the spec only: a payload holding {{secrets.X}} is sent as written', async () => {
    const rule = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/echo`,
        method: 'POST',
        headers: { 'X-Key': '{{secrets.TOKEN}}' },
        body: { echo: '{{payload.text}}', all: '{{payload}}' },
      },
    });
    const e = await trigger(t, rule.id, { text: '{{secrets.TOKEN}}' });
    expect(e.status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/echo');
    expect(req!.json).toEqual({ echo: '{{secrets.TOKEN}}', all: { text: '{{secrets.TOKEN}}' } });
  });

  it("simulateRule's resolvedAction shows [secret NAME]", async () => {
    const rule = await createRule(t, {
      actionSpec: { endpoint: `${sink.url}/echo`, headers: { Authorization: 'Bearer {{secrets.TOKEN}}', 'X-Who': '{{payload.who}}' } },
    });
    const sim = ok(
      await t.gql(`mutation($id: ID!, $p: JSON) { simulateRule(ruleId: $id, payload: $p) { resolvedAction } }`, { id: rule.id, p: { who: 'ann' } }),
    ).simulateRule;
    expect(sim.resolvedAction.headers).toEqual({ Authorization: 'Bearer [secret TOKEN]', 'X-Who': 'ann' });
  });

  it('{{secrets.NAME}} is refused outside webhook, METRIC and HTTP specs, and when malformed', async () => {
    const create = (input: Record<string, unknown>) =>
      t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: { name: unique('r'), triggerSpec: { conditions: [] }, ...input },
      });
    const cases: [Record<string, unknown>, string][] = [
      [{ actionSpec: { type: 'trigger_rule', rule_id: '00000000-0000-4000-8000-000000000000', payload: { k: '{{secrets.TOKEN}}' } } }, 'actionSpec.payload.k'],
      [{ actionSpec: { type: 'api_script', api_id: '00000000-0000-4000-8000-000000000000', params: { k: '{{secrets.TOKEN}}' } } }, 'actionSpec.params.k'],
      [{ actionSpec: { endpoint: `${sink.url}/x`, headers: { 'X-K': '{{secrets}}' } } }, 'actionSpec.headers.X-K'],
      [{ actionSpec: { endpoint: `${sink.url}/x`, headers: { 'X-K': '{{secrets.A.b}}' } } }, 'actionSpec.headers.X-K'],
      [{ triggerType: 'SCHEDULE', triggerSpec: { intervalSeconds: 60, payload: { k: '{{secrets.TOKEN}}' } }, actionSpec: { endpoint: `${sink.url}/x` } }, ''],
    ];
    for (const [input, specPath] of cases) {
      const response = await create(input);
      if (specPath === '') {
        // A schedule's payload is not a template: stored as written, never expanded.
        ok(response);
        continue;
      }
      const error = refusal(response, 'BAD_USER_INPUT');
      expect(error.extensions?.specPath).toBe(specPath);
    }
  });

  it('a spec that uses a secret may not take the scheme, host or port of its URL from payload, params or input', async () => {
    const create = (actionSpec: unknown) =>
      t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: { name: unique('r'), triggerSpec: { conditions: [] }, actionSpec },
      });
    const refused = [
      { endpoint: '{{payload.url}}', headers: { 'X-K': '{{secrets.TOKEN}}' } },
      { endpoint: 'https://{{payload.host}}/in', headers: { 'X-K': '{{secrets.TOKEN}}' } },
      { endpoint: `${sink.url}{{payload.path}}`, body: { k: '{{secrets.TOKEN}}' }, method: 'POST' },
      { endpoint: '{{secrets.SCHEME}}://{{payload.host}}/in' },
    ];
    for (const spec of refused) {
      const error = refusal(await create(spec), 'BAD_USER_INPUT');
      expect(error.extensions?.specPath, JSON.stringify(spec)).toBe('actionSpec.endpoint');
    }
    const accepted = [
      { endpoint: `${sink.url}/in/{{payload.path}}?q={{payload.q}}`, headers: { 'X-K': '{{secrets.TOKEN}}' } },
      { endpoint: '{{secrets.BASE}}/items/{{payload.id}}' },
      { endpoint: '{{payload.url}}' },
    ];
    for (const spec of accepted) ok(await create(spec));

    const api = await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
      input: { name: unique('http'), kind: 'HTTP', httpSpec: { url: 'http://{{params.host}}/x', headers: { 'X-K': '{{secrets.TOKEN}}' } } },
    });
    expect(refusal(api, 'BAD_USER_INPUT').extensions?.specPath).toBe('input.httpSpec.url');
  });

  it("an api_script action's literal credentials reach the script, and its stored run shows them as [redacted]", async () => {
    const api = ok(
      await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
        input: {
          name: unique('script'),
          kind: 'SCRIPT',
          source: 'function main(params, input, ctx) { ctx.log.info("key " + params.api_key); return { got: params.api_key }; }',
        },
      }),
    ).createApiDefinition.id as string;
    const literal = 'literal-api-key-4242';
    const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api, params: { api_key: literal } } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('SUCCESS');
    const runs = ok(
      await t.gql('query($id: ID!) { apiDefinition(id: $id) { executions { edges { node { status params output logs { message } } } } } }', { id: api }),
    ).apiDefinition.executions.edges.map((edge: { node: unknown }) => edge.node);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'SUCCESS', params: { api_key: '[redacted]' }, output: { got: '[redacted]' } });
    const stored = await t.app.database.sql.query<Record<string, unknown>>('SELECT * FROM api_executions WHERE api_id = ?', [api]);
    const logs = await t.app.database.sql.query<Record<string, unknown>>('SELECT * FROM action_logs WHERE rule_id = ?', [rule.id]);
    expect(JSON.stringify([runs, stored, logs, e])).not.toContain(literal);
  });

  it("a trigger_rule payload's literal credentials reach the child, whose row shows them as [redacted]", async () => {
    const literal = 'literal-child-token-777';
    const child = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json`, method: 'POST', body: { sent: '{{payload.token}}' } } });
    const parent = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id, payload: { token: literal, plain: 'kept' } } });
    const e = await trigger(t, parent.id, {});
    expect(e.status).toBe('SUCCESS');
    expect(sink.requestsTo('/json').at(-1)!.json).toMatchObject({ sent: literal });
    const children = ok(await t.gql('query($id: ID!) { execution(id: $id) { children { payload status } } }', { id: e.id })).execution.children;
    expect(children[0]).toMatchObject({ status: 'SUCCESS', payload: { token: '[redacted]', plain: 'kept' } });
    const stored = await t.app.database.sql.query<Record<string, unknown>>('SELECT payload FROM executions WHERE cascade_id = ?', [e.id]);
    expect(JSON.stringify(stored)).not.toContain(literal);
  });

  it('a base URL kept in a secret is sent to and hidden like any value', async () => {
    await set('BASE', `${sink.url}/echo`);
    values.delete(`${sink.url}/echo`); // The sink's address itself appears elsewhere (the test's own routes).
    const rule = await createRule(t, { actionSpec: { endpoint: '{{secrets.BASE}}?id={{payload.id}}' } });
    const e = await trigger(t, rule.id, { id: 7 });
    expect(e.status).toBe('SUCCESS');
    expect(sink.requestsTo('/echo')[0]!.query.get('id')).toBe('7');
    expect(e.references.action.endpoint).toBe('[redacted]?id=7');
  });

  it('an HTTP API sends its secrets, hides the echo, and fails with SECRET_NOT_FOUND for an unknown one', async () => {
    const create = async (httpSpec: unknown) =>
      ok(
        await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
          input: { name: unique('http'), kind: 'HTTP', httpSpec },
        }),
      ).createApiDefinition.id as string;
    const RUN = `mutation($id: ID!, $params: JSON) { executeApi(apiId: $id, params: $params) { id status output error { code message } logs { message data } } }`;
    const good = await create({
      url: `${sink.url}/echo`,
      method: 'POST',
      headers: { Authorization: 'Bearer {{secrets.TOKEN}}' },
      body: { for: '{{params.who}}' },
    });
    const run = ok(await t.gql(RUN, { id: good, params: { who: 'ann' } })).executeApi;
    expect(run.status).toBe('SUCCESS');
    expect(sink.requestsTo('/echo')[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(run.output.body.headers.authorization).toBe('Bearer [redacted]');
    expectHidden(run, 'the HTTP API run');

    const missing = await create({ url: `${sink.url}/echo`, headers: { 'X-K': '{{secrets.NO_SUCH_ONE}}' } });
    const failed = ok(await t.gql(RUN, { id: missing })).executeApi;
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatchObject({ code: 'SECRET_NOT_FOUND' });
    expect(failed.error.message).toContain('NO_SUCH_ONE');
  });

  it('a METRIC poll sends its secrets, hides the echo in the run it fires, and fails with METRIC_POLL_FAILED for an unknown one', async () => {
    sink.route('/metric-echo', (req) => ({ status: 200, body: { data: { cpu: 99 }, seen: req.headers['x-key'] } }));
    const rule = await createRule(t, {
      triggerType: 'METRIC',
      triggerSpec: {
        endpoint: `${sink.url}/metric-echo`,
        headers: { 'X-Key': '{{secrets.TOKEN}}' },
        valuePath: 'data.cpu',
        op: '>',
        threshold: 50,
        pollIntervalSeconds: 1,
      },
      actionSpec: { endpoint: `${sink.url}/json` },
    });
    const fired = await poll(
      async () =>
        ok(await t.gql(`query($r: ID) { executions(ruleId: $r, first: 5) { edges { node { ${EXECUTION_FIELDS} } } } }`, { r: rule.id })).executions.edges,
      (edges: any[]) => edges.length >= 1,
      15_000,
    );
    await updateRule(t, rule.id, { active: false });
    expect(sink.requestsTo('/metric-echo')[0]!.headers['x-key']).toBe(TOKEN);
    const row = fired[0].node as ExecutionData;
    expect(row.payload.seen).toBe('[redacted]');
    expectHidden(row, 'the METRIC run');

    const broken = await createRule(t, {
      triggerType: 'METRIC',
      triggerSpec: { endpoint: `${sink.url}/metric-echo?k={{secrets.NOT_THERE}}`, valuePath: 'data.cpu', op: '>', threshold: 50, pollIntervalSeconds: 1 },
      actionSpec: { endpoint: `${sink.url}/json` },
    });
    const failed = await poll(
      async () =>
        ok(await t.gql(`query($r: ID) { executions(ruleId: $r, first: 5) { edges { node { ${EXECUTION_FIELDS} } } } }`, { r: broken.id })).executions.edges,
      (edges: any[]) => edges.length >= 1,
      15_000,
    );
    await updateRule(t, broken.id, { active: false });
    expect(failed[0].node.error.code).toBe('METRIC_POLL_FAILED');
    expect(failed[0].node.error.message).toContain('NOT_THERE');
  });

  it('literal credentials are stored, sent, read back as [redacted] everywhere, and kept when [redacted] is sent back', async () => {
    const literal = { auth: 'Bearer literal-abc-123', apiKey: 'k-literal-456', pass: 'pw-literal-789', query: 'q-literal-000' };
    for (const value of Object.values(literal)) values.add(value);
    const actionSpec = {
      endpoint: `${sink.url}/echo?access_token=${literal.query}&page=2`,
      method: 'POST',
      headers: { Authorization: literal.auth, 'X-Api-Key': literal.apiKey, 'X-Plain': 'plain' },
      body: { password: literal.pass, user: 'ann' },
    };
    const created = ok(
      await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id actionSpec } }`, {
        input: { name: unique('literal'), triggerSpec: { conditions: [] }, actionSpec },
      }),
    ).createRule;
    expect(created.actionSpec.headers).toEqual({ Authorization: '[redacted]', 'X-Api-Key': '[redacted]', 'X-Plain': 'plain' });
    expect(created.actionSpec.body).toEqual({ password: '[redacted]', user: 'ann' });
    expect(created.actionSpec.endpoint).toBe(`${sink.url}/echo?access_token=[redacted]&page=2`);

    // Read back, changed elsewhere, sent back: the stored credentials stay.
    const read = ok(await t.gql(`query($id: ID!) { rule(id: $id) { actionSpec } }`, { id: created.id })).rule.actionSpec;
    expectHidden(read, 'Rule.actionSpec');
    ok(
      await t.gql(`mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`, {
        id: created.id,
        input: { actionSpec: { ...read, body: { ...read.body, user: 'bob' } } },
      }),
    );
    const e = await trigger(t, created.id, {});
    expect(e.status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/echo');
    expect(req!.headers.authorization).toBe(literal.auth);
    expect(req!.headers['x-api-key']).toBe(literal.apiKey);
    expect(req!.query.get('access_token')).toBe(literal.query);
    expect(req!.json).toEqual({ password: literal.pass, user: 'bob' });
    expectHidden(await fullExecution(e.id), 'the execution of a rule with literal credentials');

    // METRIC trigger specs and HTTP definitions read back the same way.
    const metric = ok(
      await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { triggerSpec } }`, {
        input: {
          name: unique('metric'),
          triggerType: 'METRIC',
          active: false,
          triggerSpec: { endpoint: `${sink.url}/m`, headers: { Authorization: literal.auth }, valuePath: 'v', op: '>', threshold: 1 },
          actionSpec: { endpoint: `${sink.url}/json` },
        },
      }),
    ).createRule;
    expect(metric.triggerSpec.headers.Authorization).toBe('[redacted]');
    const api = ok(
      await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { httpSpec } }`, {
        input: { name: unique('http'), kind: 'HTTP', httpSpec: { url: `http://user:${literal.pass}@127.0.0.1:9/x`, params: { api_key: literal.apiKey } } },
      }),
    ).createApiDefinition;
    expect(api.httpSpec).toEqual({ method: 'GET', url: 'http://[redacted]@127.0.0.1:9/x', headers: {}, params: { api_key: '[redacted]' } });
  });

  it("the service's log never holds a secret value", async () => {
    // Everything above ran on this app with its log at trace level.
    expect(log.text.length).toBeGreaterThan(0);
    for (const value of values) expect(log.text.includes(value), 'the service log holds a secret value').toBe(false);
  });
});
