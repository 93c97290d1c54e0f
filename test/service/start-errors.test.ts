import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startApp, type TestApp, type TestDatabase } from '../support/harness.js';

/**
 * `npm start` with a bad setting or an unreachable database stops with one clear line on stderr
 * (`cepheus: ...`) naming the variable or the directory, a non-zero exit, and no stack trace.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPAWN_TIMEOUT_MS = 90_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the service as `npm start` does, with only the given settings; kills it if it does not stop. */
function runService(env: Record<string, string>, timeoutMs = SPAWN_TIMEOUT_MS): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', 'dist/main.js'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? tmpdir(),
        TMPDIR: tmpdir(),
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_PRETTY: 'false',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the service did not stop within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const STACK_FRAME = /^\s+at\s/m;

/** Non-zero exit, a `cepheus: ` line on stderr holding every given text, and no stack trace anywhere. */
function expectClearStop(outcome: Outcome, ...texts: string[]): string {
  const context = JSON.stringify(outcome, null, 2);
  expect(outcome.signal, context).toBeNull();
  expect(outcome.code, context).not.toBe(0);
  expect(outcome.code, context).not.toBeNull();
  expect(outcome.stderr, context).not.toMatch(STACK_FRAME);
  expect(outcome.stdout, context).not.toMatch(STACK_FRAME);
  expect(outcome.stderr + outcome.stdout, context).not.toMatch(/"stack"|Error: .*\n.*node:internal/);
  const lines = outcome.stderr.split('\n').filter((l) => l.trim() !== '');
  const line = lines.find((l) => l.startsWith('cepheus: '));
  expect(line, context).toBeDefined();
  expect(lines, `stderr holds only the one line: ${context}`).toHaveLength(1);
  for (const text of texts) expect(line, context).toContain(text);
  return line!;
}

describe.concurrent('a bad setting stops the start with one clear line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cepheus-start-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const CASES: [string, Record<string, string>, string[]][] = [
    ['PORT=abc', { PORT: 'abc' }, ['PORT', 'abc']],
    ['PORT out of range', { PORT: '99999' }, ['PORT']],
    ['MAX_CASCADE_DEPTH=-1', { MAX_CASCADE_DEPTH: '-1' }, ['MAX_CASCADE_DEPTH']],
    ['SCRIPT_MAX_TIMEOUT_MS=0', { SCRIPT_MAX_TIMEOUT_MS: '0' }, ['SCRIPT_MAX_TIMEOUT_MS']],
    ['DATABASE_URL=mysql://x', { DATABASE_URL: 'mysql://x' }, ['DATABASE_URL']],
    ['DATABASE_URL not a URL', { DATABASE_URL: 'definitely not a url' }, ['DATABASE_URL']],
    ['REDIS_URL not redis', { REDIS_URL: 'http://localhost:6379' }, ['REDIS_URL']],
    ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, ['LOG_LEVEL', 'loud']],
    ['GRAPHIQL=maybe', { GRAPHIQL: 'maybe' }, ['GRAPHIQL']],
    ['HOST not loopback without keys', { HOST: '0.0.0.0' }, ['HOST', 'ADMIN_KEY', 'AUTH_MODE']],
    ['ADMIN_KEY too short', { ADMIN_KEY: 'short-key' }, ['ADMIN_KEY', '32']],
    ['ADMIN_KEY with AUTH_MODE=open', { ADMIN_KEY: 'k'.repeat(40), AUTH_MODE: 'open' }, ['ADMIN_KEY', 'AUTH_MODE=open']],
    ['AUTH_MODE=maybe', { AUTH_MODE: 'maybe' }, ['AUTH_MODE', 'maybe']],
    ['SECRETS_KEY not 32 bytes', { SECRETS_KEY: 'abcd' }, ['SECRETS_KEY', '32 bytes']],
    ['WEBHOOK_SIGNING_SECRET not whsec_', { WEBHOOK_SIGNING_SECRET: 'not-a-signing-secret' }, ['WEBHOOK_SIGNING_SECRET', 'whsec_']],
    ['CORS_ORIGINS not an origin', { CORS_ORIGINS: 'https://a.example/path' }, ['CORS_ORIGINS', 'https://a.example/path']],
  ];

  it.each(CASES)(
    '%s',
    async (_label, env, texts) => {
      const outcome = await runService({ EMBEDDED_DATA_DIR: path.join(dir, 'never-used'), ...env });
      expectClearStop(outcome, ...texts);
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );
});

describe.concurrent('an unreachable database stops the start with one clear line', () => {
  let dir: string;
  let holder: { database: TestDatabase; app: TestApp } | undefined;
  let busyPort: Server | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cepheus-start-'));
    await writeFile(path.join(dir, 'a-file'), 'not a directory\n');
  });
  afterAll(async () => {
    await holder?.app.stop();
    await holder?.database.drop();
    await new Promise<void>((resolve) => (busyPort ? busyPort.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'DATABASE_URL where nothing listens: names the database, hides the password',
    async () => {
      const outcome = await runService({ DATABASE_URL: 'postgresql://postgres:s3cret-pw@127.0.0.1:1/nope' });
      const line = expectClearStop(outcome, '127.0.0.1:1');
      expect(line).toMatch(/connect/i);
      expect(outcome.stderr + outcome.stdout).not.toContain('s3cret-pw');
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'DATABASE_URL with a host that does not resolve',
    async () => {
      const outcome = await runService({ DATABASE_URL: 'postgresql://postgres@no-such-host.invalid:5432/nope' });
      expectClearStop(outcome, 'no-such-host.invalid');
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'EMBEDDED_DATA_DIR pointing at a regular file: names the directory',
    async () => {
      const file = path.join(dir, 'a-file');
      const outcome = await runService({ EMBEDDED_DATA_DIR: file });
      expectClearStop(outcome, file);
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'EMBEDDED_DATA_DIR below a regular file: names the directory',
    async () => {
      const below = path.join(dir, 'a-file', 'pglite');
      const outcome = await runService({ EMBEDDED_DATA_DIR: below });
      expectClearStop(outcome, below);
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'EMBEDDED_DATA_DIR in use by another running service: names the directory',
    async () => {
      const database = await createTestDatabase('embedded');
      holder = { database, app: await startApp(database) };
      const dataDir = database.env.EMBEDDED_DATA_DIR!;
      const outcome = await runService({ EMBEDDED_DATA_DIR: dataDir });
      expectClearStop(outcome, dataDir, 'in use');
      // The running one is not disturbed.
      const response = await holder.app.gql('{ rules(first: 1) { totalCount } }');
      expect(response.errors).toBeUndefined();
    },
    SPAWN_TIMEOUT_MS + 60_000,
  );

  it(
    'PORT already taken: one line naming the address',
    async () => {
      busyPort = createServer();
      await new Promise<void>((resolve) => busyPort!.listen(0, '127.0.0.1', () => resolve()));
      const port = (busyPort.address() as { port: number }).port;
      const outcome = await runService({ PORT: String(port), EMBEDDED_DATA_DIR: path.join(dir, 'port-test') });
      expectClearStop(outcome, String(port));
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );
});
