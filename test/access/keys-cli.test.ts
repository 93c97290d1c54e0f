/**
 * `npm run keys` (SPEC.md, 'Access'): mints the first admin key of a deployment from the shell,
 * printed once on standard output, and lists and revokes keys; bad arguments are one clear line.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, ok, startApp, type TestDatabase } from '../support/harness.js';
import { gqlWith } from '../support/keys.js';

/** Each call starts a process that opens the database (the embedded one takes seconds). */
const CLI_TEST_TIMEOUT_MS = 240_000;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function keysCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', 'dist/keys.js', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LOG_PRETTY: 'false', AUTH_MODE: 'keys', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.each(backends())('npm run keys (%s)', (backend) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('creates a key printed once, which the service then takes; lists and revokes it', { timeout: CLI_TEST_TIMEOUT_MS }, async () => {
    const created = await keysCli(['create', '--name', 'first-admin', '--role', 'admin'], database.env);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^cep_[A-Za-z0-9_-]{40,}$/);
    expect(created.stderr).toContain('first-admin');
    expect(created.stderr).not.toContain(key);

    const listed = await keysCli(['list'], database.env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('first-admin');
    expect(listed.stdout).toContain(key.slice(0, 12));
    expect(listed.stdout).not.toContain(key.slice(12));

    const app = await startApp(database, { AUTH_MODE: 'keys', SHUTDOWN_GRACE_MS: '500' });
    let id: string;
    try {
      const viewer = ok(await gqlWith(app.url, key, '{ viewer { name role authMode } apiKeys { id name createdBy } }'));
      expect(viewer.viewer).toEqual({ name: 'first-admin', role: 'ADMIN', authMode: 'KEYS' });
      id = viewer.apiKeys[0].id;
      expect(viewer.apiKeys[0].createdBy).toBe('local');
    } finally {
      await app.stop();
    }
    const revoked = await keysCli(['revoke', id], database.env);
    expect(revoked.code, revoked.stderr).toBe(0);
    const again = await startApp(database, { AUTH_MODE: 'keys', SHUTDOWN_GRACE_MS: '500' });
    try {
      expect((await gqlWith(again.url, key, '{ viewer { name } }')).status).toBe(401);
    } finally {
      await again.stop();
    }
  });

  it('refuses bad arguments with one line and stores nothing', { timeout: CLI_TEST_TIMEOUT_MS }, async () => {
    for (const args of [
      [],
      ['create', '--name', 'x'],
      ['create', '--role', 'ADMIN'],
      ['make'],
      ['create', '--name', 'x', '--role', 'ADMIN', '--expires-at', 'soon'],
    ]) {
      const outcome = await keysCli(args, database.env);
      expect(outcome.code, args.join(' ')).toBe(64);
      expect(outcome.stderr).toMatch(/^cepheus keys: /);
      expect(outcome.stderr).toContain('usage:');
    }
    const badRole = await keysCli(['create', '--name', 'someone', '--role', 'root'], database.env);
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toMatch(/input\.role: expected one of ADMIN, EDITOR, VIEWER, PUBLISHER/);
    const reserved = await keysCli(['create', '--name', 'admin', '--role', 'ADMIN'], database.env);
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toContain('reserved');
    const unknown = await keysCli(['revoke', '00000000-0000-7000-8000-000000000000'], database.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No API key');
    const listed = await keysCli(['list'], database.env);
    expect(listed.stdout).not.toContain('someone');
  });
});
