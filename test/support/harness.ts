import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export type Backend = 'embedded' | 'postgres';

/** Every backend this run can test: the embedded one always, PostgreSQL when DATABASE_URL is set. */
export function backends(): Backend[] {
  return process.env.DATABASE_URL ? ['embedded', 'postgres'] : ['embedded'];
}

/** A database of its own for one test app (or several instances sharing it). */
export interface TestDatabase {
  backend: Backend;
  env: Record<string, string>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  return url;
}

export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === 'embedded') {
    const dir = await mkdtemp(path.join(tmpdir(), 'cepheus-test-'));
    const dataDir = path.join(dir, 'pglite');
    return { backend, env: { EMBEDDED_DATA_DIR: dataDir }, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const name = `cepheus_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    backend,
    env: { DATABASE_URL: url.toString() },
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

export interface TestApp {
  app: App;
  url: string;
  port: number;
  base: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  stop(): Promise<void>;
}

/**
 * Settings of a test app: a free port, quiet logs, the given database, and the outbound guard
 * opened to 127.0.0.1 so that webhooks, HTTP APIs and METRIC polls reach the local sinks (a test
 * of the guard itself overrides OUTBOUND_ALLOWLIST, e.g. with '').
 */
export function testEnv(database: TestDatabase, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    LOG_PRETTY: 'false',
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    ...database.env,
    ...env,
  };
}

export async function startApp(database: TestDatabase, env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp> {
  const app = createApp(loadConfig(testEnv(database, env)), options);
  const { url, port } = await app.start();
  return {
    app,
    url,
    port,
    base: url.replace(/\/graphql$/, ''),
    async gql(query, variables) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as GraphQLResponse;
      return { ...body, status: response.status };
    },
    stop: () => app.stop(),
  };
}

/** A fresh database and an app on it; stop() also drops the database. */
export async function startFreshApp(
  backend: Backend,
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<TestApp & { database: TestDatabase }> {
  const database = await createTestDatabase(backend);
  const started = await startApp(database, env, options);
  return {
    ...started,
    database,
    async stop() {
      await started.stop();
      await database.drop();
    },
  };
}

/** The data of a response that must have no errors. */
export function ok<T = any>(response: GraphQLResponse<T>): T {
  if (response.errors?.length) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(response.errors)}`);
  return response.data as T;
}

/** A name no other test uses: `prefix` and eight random hex digits. */
export const unique = (prefix: string) => `${prefix} ${randomUUID().slice(0, 8)}`;

/** The first error of a response that must have failed, checked for its code. */
export function refusal(response: GraphQLResponse, code: string) {
  expect(response.errors, `expected a ${code} error, got ${JSON.stringify(response)}`).toBeDefined();
  const error = response.errors![0]!;
  expect(error.extensions?.code, JSON.stringify(error)).toBe(code);
  return error;
}
