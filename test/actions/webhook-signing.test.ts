/**
 * Standard Webhooks headers and signatures of the webhook action (SPEC.md, 'Delivery'):
 * `webhook-id` and `webhook-timestamp` on every request; `webhook-signature` under
 * WEBHOOK_SIGNING_SECRET or the action's own `signingSecret` (which wins), verified by a real
 * receiver with the standardwebhooks library. Real server, real database, real local receiver.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { parseSigningSecret, webhookHeaders, withWebhookHeaders } from '../../src/engine/delivery/signing.js';
import { backends, ok, refusal, unique } from '../support/harness.js';
import { appWithSink, createRule, EXECUTION_FIELDS, LOG_FIELDS, trigger, type ExecutionData, type FreshApp } from '../support/rules.js';
import type { Sink, SinkRequest } from '../support/sink.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRETS_KEY = randomBytes(32).toString('hex');

/** What a receiver does: the library's own verification of the body as received. */
function verifies(secret: string, request: SinkRequest): boolean {
  try {
    new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

const SET_SECRET = `mutation($name: String!, $value: String!) { setSecret(name: $name, value: $value) { name } }`;
const FULL_EXECUTION = `query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} logs { ${LOG_FIELDS} } } }`;
const CASCADE = `query($id: ID!) { cascade(id: $id) { events { kind message status } } }`;
const createRaw = (t: FreshApp, actionSpec: unknown) =>
  t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
    input: { name: unique('signing'), triggerSpec: { conditions: [] }, actionSpec },
  });

describe('signing (unit)', () => {
  const secret = newSecret();
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = 'c0ffee00-0000-4000-8000-000000000001';

  it.each([
    ['an empty body (GET)', undefined],
    ['a JSON body', '{"a":1,"b":[true,null]}'],
    ['non-ASCII text', '{"name":"Zoë Ørsted","city":"東京","emoji":"🚀"}'],
    ['a long body', JSON.stringify({ data: 'x'.repeat(100_000) })],
  ])('signs %s as the Standard Webhooks library does', (_what, body) => {
    const sentAt = new Date();
    const headers = webhookHeaders({ webhookId: id, body, secret, sentAt });
    const timestamp = Math.floor(sentAt.getTime() / 1000);
    expect(headers['webhook-id']).toBe(id);
    expect(headers['webhook-timestamp']).toBe(String(timestamp));
    const expected = createHmac('sha256', key)
      .update(`${id}.${timestamp}.${body ?? ''}`, 'utf8')
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(headers['webhook-signature']).toBe(new Webhook(secret).sign(id, sentAt, body ?? ''));
    expect(() => new Webhook(secret).verify(body ?? '', headers)).not.toThrow();
  });

  it('sends no signature without a secret, and its headers replace any of the same name', () => {
    const unsigned = webhookHeaders({ webhookId: id, body: '{}', secret: null, sentAt: new Date() });
    expect(Object.keys(unsigned).sort()).toEqual(['webhook-id', 'webhook-timestamp']);
    const merged = withWebhookHeaders({ 'Webhook-Id': 'forged', 'X-Other': 'kept' }, { webhookId: id, body: '{}', secret, sentAt: new Date() });
    expect(merged).toMatchObject({ 'X-Other': 'kept', 'webhook-id': id });
    expect(merged['Webhook-Id']).toBeUndefined();
  });

  it('accepts whsec_ and the base64 of 24 to 64 bytes only', () => {
    expect(parseSigningSecret(secret)).toBe(secret);
    expect(parseSigningSecret(`whsec_${randomBytes(24).toString('base64')}`)).not.toBeNull();
    expect(parseSigningSecret(`whsec_${randomBytes(64).toString('base64')}`)).not.toBeNull();
    for (const bad of [
      '',
      'whsec_',
      secret.slice('whsec_'.length),
      `whsec_${randomBytes(16).toString('base64')}`,
      `whsec_${randomBytes(65).toString('base64')}`,
      'whsec_!!!!',
    ])
      expect(parseSigningSecret(bad), bad).toBeNull();
  });
});

describe.each(backends())('webhook signing (%s)', (backend) => {
  describe('without WEBHOOK_SIGNING_SECRET', () => {
    let t: FreshApp;
    let sink: Sink;
    appWithSink(backend, { SECRETS_KEY }, (app, s) => {
      t = app;
      sink = s;
    });

    it('every request carries webhook-id (the execution id) and webhook-timestamp, and no signature', async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/plain`, method: 'POST', body: { v: '{{payload.v}}' } } });
      const before = Math.floor(Date.now() / 1000);
      const e = await trigger(t, rule.id, { v: 1 });
      const after = Math.ceil(Date.now() / 1000);
      expect(e.status).toBe('SUCCESS');
      const [req] = await sink.waitForRequests(1, '/plain');
      expect(req!.headers['webhook-id']).toBe(e.id);
      const timestamp = Number(req!.headers['webhook-timestamp']);
      expect(Number.isInteger(timestamp)).toBe(true);
      expect(timestamp).toBeGreaterThanOrEqual(before);
      expect(timestamp).toBeLessThanOrEqual(after);
      expect(req!.headers['webhook-signature']).toBeUndefined();

      const second = await trigger(t, rule.id, { v: 2 });
      const [, again] = await sink.waitForRequests(2, '/plain');
      expect(again!.headers['webhook-id']).toBe(second.id);
    });

    it('an action signingSecret signs on its own', async () => {
      const secret = newSecret();
      ok(await t.gql(SET_SECRET, { name: 'OWN_SIGNING', value: secret }));
      const rule = await createRule(t, {
        actionSpec: { endpoint: `${sink.url}/own`, method: 'POST', body: { a: 1 }, signingSecret: '{{ secrets.OWN_SIGNING }}' },
      });
      expect((await trigger(t, rule.id, {})).status).toBe('SUCCESS');
      const [req] = await sink.waitForRequests(1, '/own');
      expect(verifies(secret, req!)).toBe(true);
    });

    it('refuses a literal signingSecret and headers that would override webhook-*, with the specPath', async () => {
      const literal = newSecret();
      const cases: [unknown, string][] = [
        [literal, 'actionSpec.signingSecret'],
        ['{{secrets.A}} and more', 'actionSpec.signingSecret'],
        ['{{secrets.A}}{{secrets.B}}', 'actionSpec.signingSecret'],
        ['{{payload.secret}}', 'actionSpec.signingSecret'],
        ['{{secrets.A.b}}', 'actionSpec.signingSecret'],
        [42, 'actionSpec.signingSecret'],
        [{ value: '{{secrets.A}}' }, 'actionSpec.signingSecret'],
      ];
      for (const [signingSecret, specPath] of cases) {
        const error = refusal(await createRaw(t, { endpoint: `${sink.url}/x`, signingSecret }), 'BAD_USER_INPUT');
        expect(error.extensions?.specPath, JSON.stringify(signingSecret)).toBe(specPath);
        expect(error.message).toContain('{{secrets.');
        expect(error.message).not.toContain(literal);
      }
      for (const name of ['webhook-id', 'Webhook-Timestamp', 'WEBHOOK-SIGNATURE']) {
        const error = refusal(await createRaw(t, { endpoint: `${sink.url}/x`, headers: { [name]: 'forged' } }), 'BAD_USER_INPUT');
        expect(error.extensions?.specPath).toBe(`actionSpec.headers.${name}`);
        expect(error.message).toContain(name);
      }
      // A signing secret is a secret: the endpoint's host may not come from the payload.
      const error = refusal(await createRaw(t, { endpoint: '{{payload.url}}', signingSecret: '{{secrets.A}}' }), 'BAD_USER_INPUT');
      expect(error.extensions?.specPath).toBe('actionSpec.endpoint');
      // Other webhook- headers are the caller's.
      ok(await createRaw(t, { endpoint: `${sink.url}/x`, headers: { 'webhook-topic': 'orders' } }));
    });

    it('keeps the placeholder in the rule and shows [secret NAME] in simulateRule', async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/x`, signingSecret: '{{secrets.SHOWN}}' } });
      const read = ok(await t.gql(`query($id: ID!) { rule(id: $id) { actionSpec } }`, { id: rule.id })).rule;
      expect(read.actionSpec.signingSecret).toBe('{{secrets.SHOWN}}');
      const sim = ok(await t.gql(`mutation($id: ID!) { simulateRule(ruleId: $id, payload: {}) { resolvedAction } }`, { id: rule.id })).simulateRule;
      expect(sim.resolvedAction.signingSecret).toBe('[secret SHOWN]');
    });

    it('a signingSecret that is not a whsec_ secret fails with WEBHOOK_FAILED, unsent, without its value', async () => {
      const value = 'not-a-standard-webhooks-secret-value';
      ok(await t.gql(SET_SECRET, { name: 'BAD_SIGNING', value }));
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/bad`, method: 'POST', signingSecret: '{{secrets.BAD_SIGNING}}' } });
      const e = await trigger(t, rule.id, {});
      expect(e.status).toBe('FAILED');
      expect(e.error?.code).toBe('WEBHOOK_FAILED');
      expect(e.error?.message).toContain('signingSecret');
      expect(JSON.stringify(ok(await t.gql(FULL_EXECUTION, { id: e.id })).execution)).not.toContain(value);
      expect(sink.requestsTo('/bad')).toHaveLength(0);
    });

    it('a signingSecret naming a secret that does not exist fails with SECRET_NOT_FOUND, unsent', async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/missing`, signingSecret: '{{secrets.NO_SUCH_SIGNING}}' } });
      const e = await trigger(t, rule.id, {});
      expect(e.status).toBe('FAILED');
      expect(e.error?.code).toBe('SECRET_NOT_FOUND');
      expect(e.error?.message).toContain('NO_SUCH_SIGNING');
      expect(sink.requestsTo('/missing')).toHaveLength(0);
    });
  });

  describe('with WEBHOOK_SIGNING_SECRET', () => {
    const serviceSecret = newSecret();
    let t: FreshApp;
    let sink: Sink;
    appWithSink(backend, { SECRETS_KEY, WEBHOOK_SIGNING_SECRET: serviceSecret }, (app, s) => {
      t = app;
      sink = s;
      // Answers with everything it received, so anything sent would come back into the result.
      s.route('/echo', (req) => ({ status: 200, body: { headers: req.headers, body: req.body } }));
    });

    it('signs a POST over the exact body sent, non-ASCII included', async () => {
      const rule = await createRule(t, {
        actionSpec: { endpoint: `${sink.url}/post`, method: 'POST', body: { name: '{{payload.name}}', note: 'café ✓ 日本' } },
      });
      const e = await trigger(t, rule.id, { name: 'Zoë 🚀' });
      expect(e.status).toBe('SUCCESS');
      const [req] = await sink.waitForRequests(1, '/post');
      expect(req!.json).toEqual({ name: 'Zoë 🚀', note: 'café ✓ 日本' });
      expect(req!.headers['webhook-id']).toBe(e.id);
      expect(req!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(verifies(serviceSecret, req!)).toBe(true);
      expect(verifies(newSecret(), req!)).toBe(false);
      // A body changed on the way no longer verifies.
      expect(verifies(serviceSecret, { ...req!, body: req!.body.replace('Zoë', 'Zoe') })).toBe(false);
    });

    it('a receiver that answers with the signing secret leaves no trace of it', async () => {
      sink.route('/leak', { status: 500, body: { secret: serviceSecret } });
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/leak`, method: 'POST' } });
      const e = await trigger(t, rule.id, {});
      expect(e.status).toBe('FAILED');
      const full = ok(await t.gql(FULL_EXECUTION, { id: e.id })).execution as ExecutionData;
      expect(full.result.body.secret).toBe('[redacted]');
      expect(JSON.stringify(full)).not.toContain(serviceSecret.slice('whsec_'.length));
    });

    it('signs a GET over the empty body', async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/get`, params: { q: '{{payload.q}}' } } });
      expect((await trigger(t, rule.id, { q: 'x y' })).status).toBe('SUCCESS');
      const [req] = await sink.waitForRequests(1, '/get');
      expect(req!.method).toBe('GET');
      expect(req!.body).toBe('');
      expect(verifies(serviceSecret, req!)).toBe(true);
    });

    it("the action's signingSecret takes precedence; no secret is sent or stored", async () => {
      const own = newSecret();
      ok(await t.gql(SET_SECRET, { name: 'RECEIVER_SIGNING', value: own }));
      const rule = await createRule(t, {
        actionSpec: {
          endpoint: `${sink.url}/echo`,
          method: 'PUT',
          body: { k: 'v' },
          headers: { 'X-Mine': 'yes' },
          signingSecret: '{{secrets.RECEIVER_SIGNING}}',
        },
      });
      const e = await trigger(t, rule.id, {});
      expect(e.status).toBe('SUCCESS');
      const [req] = await sink.waitForRequests(1, '/echo');
      expect(req!.headers['x-mine']).toBe('yes');
      expect(verifies(own, req!)).toBe(true);
      expect(verifies(serviceSecret, req!)).toBe(false);

      const sent = JSON.stringify({ headers: req!.headers, body: req!.body, url: req!.url });
      const full = ok(await t.gql(FULL_EXECUTION, { id: e.id })).execution as ExecutionData;
      const events = ok(await t.gql(CASCADE, { id: e.cascadeId })).cascade;
      for (const secret of [own, serviceSecret]) {
        const encoded = secret.slice('whsec_'.length);
        for (const [label, what] of [
          ['request', sent],
          ['execution', JSON.stringify(full)],
          ['cascade events', JSON.stringify(events)],
        ] as const) {
          expect(what.includes(encoded), `${label} holds a signing secret`).toBe(false);
        }
      }
      // The echoed request (signature and all) is in the result; the secret is not.
      expect(full.result.body.headers['webhook-signature']).toBe(req!.headers['webhook-signature']);
    });
  });
});
