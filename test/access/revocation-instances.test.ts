import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, ok, startApp, unique, type TestApp, type TestDatabase } from '../support/harness.js';
import { gqlWith, rawWs, TEST_ADMIN_KEY } from '../support/keys.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * Two instances on one PostgreSQL database and one Redis (SPEC.md, 'Access'): a key revoked on
 * one is refused by the other within 5 seconds, and the other ends the key's graphql-ws
 * connections (4401) and SSE streams in that time.
 */

const REDIS_URL = process.env.REDIS_URL;
const skip = withoutPostgres() ?? (REDIS_URL ? undefined : 'REDIS_URL is unset, so there is no Redis to test against');

describeUnless(skip, 'revocation across instances (needs DATABASE_URL and REDIS_URL)', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { REDIS_URL: REDIS_URL!, ADMIN_KEY: TEST_ADMIN_KEY, SHUTDOWN_GRACE_MS: '500' };
    // One after the other: two first starts at the same moment race on the migrations.
    a = await startApp(database, env);
    b = await startApp(database, env);
  });
  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('refuses a key revoked on one instance on the other within 5 s, and ends its connections there', async () => {
    const created = ok(
      await gqlWith(a.url, TEST_ADMIN_KEY, 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }', {
        input: { name: unique('two instances'), role: 'VIEWER' },
      }),
    ).createApiKey;
    const key: string = created.secret;
    // A key made on one instance works at once on the other, and is then served from its cache.
    ok(await gqlWith(b.url, key, '{ viewer { name } }'));
    const ws = rawWs(b.url, { authorization: `Bearer ${key}` });
    expect(await ws.acknowledged).toBe('ack');
    const sse = await fetch(b.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: 'subscription { executionUpdates { id } }' }),
    });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const streamEnded = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // A destroyed stream ends the read with an error: ended all the same.
      }
      return Date.now();
    })();

    const revokedAt = Date.now();
    ok(await gqlWith(a.url, TEST_ADMIN_KEY, 'mutation ($id: ID!) { revokeApiKey(id: $id) { id } }', { id: created.apiKey.id }));
    const closed = await ws.closed;
    expect(closed.code).toBe(4401);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect((await streamEnded) - revokedAt).toBeLessThan(5_000);
    expect((await gqlWith(b.url, key, '{ viewer { name } }')).status).toBe(401);
  });
});
