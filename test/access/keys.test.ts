/**
 * KEYS mode (SPEC.md, 'Access'): API keys over HTTP, SSE, graphql-ws and POST /events; keys
 * shown once and stored hashed; revocation and expiry; attribution; the audit trail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, ok, refusal, startApp, startFreshApp, unique, type TestApp, type TestDatabase } from '../support/harness.js';
import { gqlWith, rawWs, TEST_ADMIN_KEY } from '../support/keys.js';
import { poll, sleep } from '../support/wait.js';

type App = TestApp & { database: TestDatabase };

const CREATE_KEY = `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id name role prefix createdBy expiresAt revokedAt } } }`;
const VIEWER = '{ viewer { name role authMode } }';

describe.each(backends())('API keys (%s)', (backend) => {
  let app: App;
  const admin = (query: string, variables?: Record<string, unknown>) => gqlWith(app.url, TEST_ADMIN_KEY, query, variables);
  const createKey = async (role: string, extra: Record<string, unknown> = {}) => {
    const name = unique(role.toLowerCase());
    const created = ok(await admin(CREATE_KEY, { input: { name, role, ...extra } })).createApiKey;
    return { ...created.apiKey, secret: created.secret as string };
  };

  beforeAll(async () => {
    app = await startFreshApp(backend, { ADMIN_KEY: TEST_ADMIN_KEY, SHUTDOWN_GRACE_MS: '500', SECRETS_KEY: 'ab'.repeat(32) });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('refuses a request without a key, or with a malformed or unknown one, with 401 and WWW-Authenticate', async () => {
    for (const key of [null, 'short', `cep_${'x'.repeat(43)}`]) {
      const response = await gqlWith(app.url, key, VIEWER);
      expect(response.status, String(key)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      refusal(response, 'UNAUTHENTICATED');
    }
    const wrongScheme = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${TEST_ADMIN_KEY}` },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(wrongScheme.status).toBe(401);
    expect(((await wrongScheme.json()) as any).errors[0].message).toMatch(/Bearer/);
    // GET and SSE are GraphQL over HTTP too.
    expect((await fetch(`${app.url}?query=${encodeURIComponent(VIEWER)}`)).status).toBe(401);
    const sse = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: '{"query":"subscription { executionUpdates { id } }"}',
    });
    expect(sse.status).toBe(401);
  });

  it('answers an unknown key and a revoked key alike', async () => {
    const key = await createKey('VIEWER');
    ok(await admin('mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id }));
    const revoked = await gqlWith(app.url, key.secret, VIEWER);
    const unknown = await gqlWith(app.url, `cep_${'y'.repeat(43)}`, VIEWER);
    expect(revoked.status).toBe(401);
    expect(revoked.errors).toEqual(unknown.errors);
  });

  it('serves GraphQL at /graphql only', async () => {
    expect(
      (await fetch(`${app.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { name } }"}' })).status,
    ).toBe(404);
  });

  it('needs no key for /health, /ready and the GraphiQL page', async () => {
    expect((await fetch(`${app.base}/health`)).status).toBe(200);
    expect((await fetch(`${app.base}/ready`)).status).toBe(200);
    const page = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('acts as ADMIN "admin" with the ADMIN_KEY, which apiKeys does not list', async () => {
    expect(ok(await admin(VIEWER)).viewer).toEqual({ name: 'admin', role: 'ADMIN', authMode: 'KEYS' });
    const names = ok(await admin('{ apiKeys { name } }')).apiKeys.map((k: { name: string }) => k.name);
    expect(names).not.toContain('admin');
  });

  it('shows a new key once, stores only its hash, and lets it act as its name and role', async () => {
    const key = await createKey('EDITOR');
    expect(key.secret).toMatch(/^cep_[A-Za-z0-9_-]{40,}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 12));
    expect(key.createdBy).toBe('admin');
    const listed = ok(await admin('{ apiKeys { id name role prefix lastUsedAt revokedAt } }')).apiKeys;
    expect(listed[0]).toMatchObject({ id: key.id, name: key.name, role: 'EDITOR', revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(key.secret);
    const rows = await app.app.database.sql.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = ?', [key.id]);
    expect(JSON.stringify(rows)).not.toContain(key.secret.slice(12));
    expect(ok(await gqlWith(app.url, key.secret, VIEWER)).viewer).toEqual({ name: key.name, role: 'EDITOR', authMode: 'KEYS' });
  });

  it('refuses reserved and duplicate names, unknown roles and a past expiry, storing nothing', async () => {
    const before = ok(await admin('{ apiKeys { id } }')).apiKeys.length;
    for (const name of ['admin', 'local', 'Manual', 'scheduler', 'metric-poll', 'redeliver']) {
      const error = refusal(await admin(CREATE_KEY, { input: { name, role: 'VIEWER' } }), 'BAD_USER_INPUT');
      expect(error.message).toMatch(/reserved/);
    }
    const taken = await createKey('VIEWER');
    refusal(await admin(CREATE_KEY, { input: { name: taken.name, role: 'VIEWER' } }), 'BAD_USER_INPUT');
    refusal(await admin(CREATE_KEY, { input: { name: unique('k'), role: 'ROOT' } }), 'BAD_USER_INPUT');
    refusal(await admin(CREATE_KEY, { input: { name: unique('k'), role: 'VIEWER', expiresAt: '2001-01-01T00:00:00.000Z' } }), 'BAD_USER_INPUT');
    expect(ok(await admin('{ apiKeys { id } }')).apiKeys.length).toBe(before + 1);
    // A revoked key's name is free again.
    ok(await admin('mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: taken.id }));
    ok(await admin(CREATE_KEY, { input: { name: taken.name, role: 'VIEWER' } }));
  });

  it('revokes a key at once, returns a revoked key unchanged, and refuses an unknown id', async () => {
    const key = await createKey('VIEWER');
    ok(await gqlWith(app.url, key.secret, VIEWER));
    const revoked = ok(await admin('mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: key.id })).revokeApiKey;
    expect(revoked.revokedAt).not.toBeNull();
    expect((await gqlWith(app.url, key.secret, VIEWER)).status).toBe(401);
    const again = ok(await admin('mutation ($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: key.id })).revokeApiKey;
    expect(again).toEqual(revoked);
    refusal(await admin('mutation { revokeApiKey(id: "00000000-0000-7000-8000-000000000000") { id } }'), 'NOT_FOUND');
    refusal(await admin('mutation { revokeApiKey(id: "nope") { id } }'), 'NOT_FOUND');
  });

  it('stops accepting a key once it expires', async () => {
    const key = await createKey('VIEWER', { expiresAt: new Date(Date.now() + 1_500).toISOString() });
    ok(await gqlWith(app.url, key.secret, VIEWER));
    await poll(
      () => gqlWith(app.url, key.secret, VIEWER),
      (response) => response.status === 401,
      5_000,
      'the expired key refused',
    );
  });

  it('ends the graphql-ws connections of a key when it expires', async () => {
    const key = await createKey('VIEWER', { expiresAt: new Date(Date.now() + 1_500).toISOString() });
    const ws = rawWs(app.url, { authorization: `Bearer ${key.secret}` });
    expect(await ws.acknowledged).toBe('ack');
    const closed = await Promise.race([ws.closed, sleep(6_500).then(() => null)]);
    expect(closed?.code).toBe(4401);
  });

  it('authenticates graphql-ws in connection_init and closes with 4401 without a valid key', async () => {
    for (const payload of [undefined, { authorization: 'Bearer nope' }, { authorization: `Bearer cep_${'z'.repeat(43)}` }, { authorization: 42 }]) {
      const ws = rawWs(app.url, payload);
      expect(await ws.acknowledged, JSON.stringify(payload)).toBe(4401);
    }
    const ws = rawWs(app.url, { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    expect(await ws.acknowledged).toBe('ack');
    ws.socket.close();
  });

  it('ends the graphql-ws connections and SSE streams of a revoked key', async () => {
    const key = await createKey('VIEWER');
    const ws = rawWs(app.url, { authorization: `Bearer ${key.secret}` });
    expect(await ws.acknowledged).toBe('ack');
    ws.subscribe('1', 'subscription { executionUpdates { id } }');
    const sse = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ query: 'subscription { executionUpdates { id } }' }),
    });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const streamEnded = (async () => {
      try {
        for (;;) if ((await reader.read()).done) return 'ended';
      } catch {
        return 'ended';
      }
    })();
    await sleep(200);
    ok(await admin('mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id }));
    const closed = await Promise.race([ws.closed, sleep(5_000).then(() => null)]);
    expect(closed?.code).toBe(4401);
    expect(await Promise.race([streamEnded, sleep(5_000).then(() => 'still open')])).toBe('ended');
  });

  it('takes POST /events only with a key whose role may publish', async () => {
    const post = (key: string | null) =>
      fetch(`${app.base}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify([{ type: 'access-test' }]),
      });
    const missing = await post(null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({ error: expect.any(String) });
    const viewer = await createKey('VIEWER');
    expect((await post(viewer.secret)).status).toBe(403);
    const publisher = await createKey('PUBLISHER');
    const accepted = await post(publisher.secret);
    expect(accepted.status).toBe(200);
    expect(((await accepted.json()) as { accepted: number }).accepted).toBe(1);
  });

  it("attributes what a key creates and runs to the key's name", async () => {
    const editor = await createKey('EDITOR');
    const rule = ok(
      await gqlWith(app.url, editor.secret, 'mutation ($input: CreateRuleInput!) { createRule(input: $input) { id createdBy } }', {
        input: {
          name: unique('attributed'),
          createdBy: 'someone else',
          triggerSpec: { conditions: [] },
          actionSpec: { type: 'trigger_rule', rule_id: '00000000-0000-7000-8000-000000000000' },
        },
      }),
    ).createRule;
    expect(rule.createdBy).toBe(editor.name);
    const run = ok(await gqlWith(app.url, editor.secret, 'mutation ($id: ID!) { triggerRule(ruleId: $id) { executedBy } }', { id: rule.id })).triggerRule;
    expect(run.executedBy).toBe(editor.name);
    const named = ok(
      await gqlWith(app.url, editor.secret, 'mutation ($id: ID!) { triggerRule(ruleId: $id, executedBy: "ci") { executedBy } }', { id: rule.id }),
    ).triggerRule;
    expect(named.executedBy).toBe('ci');
  });

  it('writes an audit entry for every configuration change, which only ADMIN reads', async () => {
    const editor = await createKey('EDITOR');
    const as = (query: string, variables?: Record<string, unknown>) => gqlWith(app.url, editor.secret, query, variables);
    const rule = ok(
      await as('mutation ($input: CreateRuleInput!) { createRule(input: $input) { id } }', {
        input: {
          name: unique('audited'),
          triggerSpec: { conditions: [] },
          actionSpec: { endpoint: 'http://127.0.0.1:9/hook', headers: { 'x-plain': 'visible', authorization: 'Bearer literal-credential-1' } },
        },
      }),
    ).createRule;
    ok(await as('mutation ($id: ID!) { updateRule(id: $id, input: { active: false }) { id } }', { id: rule.id }));
    ok(await as('mutation ($id: ID!) { deleteRule(id: $id) }', { id: rule.id }));
    refusal(await as('{ auditLog { totalCount } }'), 'FORBIDDEN');
    const entries = ok(
      await admin('query ($t: ID) { auditLog(targetId: $t) { totalCount edges { node { actor action targetId detail at } } } }', { t: rule.id }),
    ).auditLog;
    expect(entries.edges.map((e: any) => e.node.action)).toEqual(['deleteRule', 'updateRule', 'createRule']);
    for (const { node } of entries.edges) expect(node).toMatchObject({ actor: editor.name, targetId: rule.id });
    expect(entries.edges[2].node.detail.input.actionSpec.headers['x-plain']).toBe('visible');
    expect(JSON.stringify(entries)).not.toContain('literal-credential-1');
    expect(entries.edges[2].node.detail.input.actionSpec.headers, JSON.stringify(entries.edges[2].node.detail)).toMatchObject({ authorization: '[redacted]' });
    ok(await as('mutation { setSecret(name: "AUDITED_SECRET", value: "audited-secret-value") { name } }'));
    ok(await as('mutation { deleteSecret(name: "AUDITED_SECRET") }'));
    const secretEntries = ok(
      await admin('query ($a: String) { auditLog(actor: $a, first: 2) { edges { node { action targetId detail } } } }', { a: editor.name }),
    ).auditLog.edges.map((e: any) => e.node);
    expect(secretEntries).toEqual([
      { action: 'deleteSecret', targetId: null, detail: { name: 'AUDITED_SECRET' } },
      { action: 'setSecret', targetId: null, detail: { name: 'AUDITED_SECRET' } },
    ]);
    const stored = await app.app.database.sql.query<Record<string, unknown>>('SELECT * FROM audit_entries');
    expect(JSON.stringify(stored)).not.toContain('audited-secret-value');
    expect(JSON.stringify(stored)).not.toContain('literal-credential-1');
    const byActor = ok(await admin('query ($a: String) { auditLog(actor: $a) { totalCount } }', { a: editor.name })).auditLog;
    expect(byActor.totalCount).toBe(5);
    const keyEntry = ok(await admin('query ($t: ID) { auditLog(targetId: $t) { edges { node { action actor detail } } } }', { t: editor.id })).auditLog.edges[0]
      .node;
    expect(keyEntry).toEqual({ action: 'createApiKey', actor: 'admin', detail: { name: editor.name, role: 'EDITOR', expiresAt: null } });
    // Runs are executions, not audit entries.
    expect(JSON.stringify(ok(await admin('{ auditLog(first: 100) { edges { node { action } } } }')).auditLog)).not.toContain('triggerRule');
  });

  // Last: it stops the app.
  it('writes lastUsedAt of a used key, at the latest when the service stops', async () => {
    const key = await createKey('VIEWER');
    ok(await gqlWith(app.url, key.secret, VIEWER));
    await app.app.stop();
    const again = await startApp(app.database, { ADMIN_KEY: TEST_ADMIN_KEY, SHUTDOWN_GRACE_MS: '500', SECRETS_KEY: 'ab'.repeat(32) });
    try {
      const listed = ok(await gqlWith(again.url, TEST_ADMIN_KEY, '{ apiKeys { id lastUsedAt } }')).apiKeys;
      expect(listed.find((k: { id: string }) => k.id === key.id).lastUsedAt).not.toBeNull();
    } finally {
      await again.stop();
    }
  });
});
