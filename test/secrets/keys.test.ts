/**
 * The keys that seal secrets (SPEC.md, 'Secrets'): SECRETS_KEY, the embedded database's own key
 * file, FAILED_PRECONDITION on PostgreSQL without a key, and rotation with SECRETS_KEY_PREVIOUS
 * across two starts of the service on the same database.
 */
import { randomBytes } from 'node:crypto';
import { cp, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../src/engine/secrets/cipher.js';
import { EMBEDDED_KEY_FILE } from '../../src/engine/secrets/keyring.js';
import { createLogger } from '../../src/logger.js';
import { backends, createTestDatabase, ok, refusal, startApp, type TestApp, type TestDatabase } from '../support/harness.js';
import { createRule, trigger } from '../support/rules.js';
import { startSink, type Sink } from '../support/sink.js';

class CapturedLog extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString('utf8');
    done();
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

const SET = `mutation($name: String!, $value: String!) { setSecret(name: $name, value: $value) { name } }`;
const VALUE = 'rotate-me-0123456789';

let sink: Sink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  await sink?.close();
});

/** Sends the secret KEY once through a webhook and answers what the receiver got (or the failure). */
async function sendKey(app: TestApp): Promise<{ status: string; code: string | null; sent: string | undefined }> {
  sink.reset();
  const rule = await createRule(app, { actionSpec: { endpoint: `${sink.url}/json`, headers: { 'X-Key': '{{secrets.KEY}}' } } });
  const e = await trigger(app, rule.id, {});
  return { status: e.status, code: e.error?.code ?? null, sent: sink.requestsTo('/json')[0]?.headers['x-key'] as string | undefined };
}

describe.each(backends())('secrets keys (%s)', (backend) => {
  let database: TestDatabase;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);

  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('rotates with SECRETS_KEY_PREVIOUS across two starts on the same database, logging a count and no value', async () => {
    const first = await startApp(database, { SECRETS_KEY: keyA.toString('hex') });
    try {
      ok(await first.gql(SET, { name: 'KEY', value: VALUE }));
      expect(await sendKey(first)).toEqual({ status: 'SUCCESS', code: null, sent: VALUE });
    } finally {
      await first.stop();
    }

    // The new key alone cannot read what the old one sealed.
    const without = await startApp(database, { SECRETS_KEY: keyB.toString('base64') });
    try {
      const failed = await sendKey(without);
      expect(failed).toMatchObject({ status: 'FAILED', code: 'SECRET_NOT_FOUND', sent: undefined });
    } finally {
      await without.stop();
    }

    const log = new CapturedLog();
    const rotated = await startApp(
      database,
      { SECRETS_KEY: keyB.toString('base64'), SECRETS_KEY_PREVIOUS: keyA.toString('hex') },
      { logger: createLogger({ logLevel: 'trace', logPretty: false }, log) },
    );
    try {
      const line = log.lines().find((l) => l.msg === 'secrets rewritten under the current SECRETS_KEY');
      expect(line).toMatchObject({ resealed: 1, keyId: keyIdOf(keyB) });
      expect(log.text).not.toContain(VALUE);
      const [row] = await rotated.app.database.sql.query<{ key_id: string; ciphertext: string }>(`SELECT key_id, ciphertext FROM secrets WHERE name = 'KEY'`);
      expect(row!.key_id).toBe(keyIdOf(keyB));
      expect(row!.ciphertext).not.toContain(VALUE);
      expect(await sendKey(rotated)).toEqual({ status: 'SUCCESS', code: null, sent: VALUE });
    } finally {
      await rotated.stop();
    }

    // Rewritten: the old key is no longer needed.
    const after = await startApp(database, { SECRETS_KEY: keyB.toString('hex') });
    try {
      expect(await sendKey(after)).toEqual({ status: 'SUCCESS', code: null, sent: VALUE });
    } finally {
      await after.stop();
    }
  }, 120_000);
});

describe('the embedded database without SECRETS_KEY', () => {
  let database: TestDatabase;
  let copy: string;

  beforeAll(async () => {
    database = await createTestDatabase('embedded');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('makes a key once, keeps it in its data directory (mode 0600), and a copy of the directory carries it', async () => {
    const dataDir = database.env.EMBEDDED_DATA_DIR!;
    const first = await startApp(database);
    try {
      ok(await first.gql(SET, { name: 'KEY', value: VALUE }));
    } finally {
      await first.stop();
    }
    const keyFile = path.join(dataDir, EMBEDDED_KEY_FILE);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    const again = await startApp(database);
    try {
      expect(await sendKey(again)).toEqual({ status: 'SUCCESS', code: null, sent: VALUE });
    } finally {
      await again.stop();
    }

    copy = path.join(path.dirname(dataDir), 'copied');
    await cp(dataDir, copy, { recursive: true });
    const copied = await startApp({ ...database, env: { EMBEDDED_DATA_DIR: copy } });
    try {
      expect(await sendKey(copied)).toEqual({ status: 'SUCCESS', code: null, sent: VALUE });
    } finally {
      await copied.stop();
    }
  }, 90_000);
});

describe.runIf(backends().includes('postgres'))('PostgreSQL without SECRETS_KEY', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('setSecret answers FAILED_PRECONDITION naming SECRETS_KEY and stores nothing', async () => {
    const app = await startApp(database);
    try {
      const error = refusal(await app.gql(SET, { name: 'KEY', value: VALUE }), 'FAILED_PRECONDITION');
      expect(error.message).toContain('SECRETS_KEY');
      expect(error.message).not.toContain(VALUE);
      expect(ok(await app.gql('{ secrets { name } }')).secrets).toEqual([]);
    } finally {
      await app.stop();
    }
  });
});
