import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, testEnv, type Backend, type GraphQLResponse, type TestDatabase } from './harness.js';
import { jsonText } from './arbitraries.js';
import { closedPort } from './sink.js';

/**
 * The service as its own process (`npm start`'s entry, the compiled dist/main.js) on a fresh test database (or
 * on one given, e.g. the one a killed process used), with a client whose every request has a
 * deadline. Hostile-input suites use it instead of an
 * in-process app: input that makes the service spin (a catastrophic regular expression) then
 * blocks that process, not the test's, so the deadline fires and shows as a failure, and
 * stop() still ends it (SIGKILL when SIGTERM is not enough).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const REQUEST_TIMEOUT_MS = 20_000;

export interface RawResponse {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined. */
  json: any;
}

export interface AppProcess {
  /** The service's process id. */
  pid: number;
  base: string;
  url: string;
  database: TestDatabase;
  /** POST /graphql with a body written by jsonText (so variables may hold RawNumbers and -0). */
  gql<T = any>(query: string, variables?: Record<string, unknown>, what?: string): Promise<GraphQLResponse<T>>;
  /** Any request; `body` is sent as given. */
  request(pathname: string, init: { method?: string; headers?: Record<string, string>; body?: string }, what?: string): Promise<RawResponse>;
  /** The service's stderr so far (its log at LOG_LEVEL warn and up). */
  stderr(): string;
  /** Ends the process (SIGTERM, then SIGKILL) and drops its database unless the caller gave it. */
  stop(): Promise<void>;
  /** kill -9: ends the process at once, as a crash would; the database stays (stop() still drops it). */
  kill(): Promise<void>;
}

export interface AppProcessOptions {
  /** Run on this database (e.g. one a stopped or killed process used) instead of a fresh one; stop() leaves it to the caller. */
  database?: TestDatabase;
}

async function waitReady(child: ChildProcess, base: string, stderr: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the service exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr()}`);
    const status = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2000) }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`the service was not ready within ${timeoutMs} ms: ${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startAppProcess(backend: Backend, env: Record<string, string> = {}, options: AppProcessOptions = {}): Promise<AppProcess> {
  const database = options.database ?? (await createTestDatabase(backend));
  const dropDatabase = options.database ? async () => undefined : () => database.drop();
  const port = await closedPort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', 'dist/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      TMPDIR: tmpdir(),
      ...testEnv(database, { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...env }),
      PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await dropDatabase();
  };
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    await waitReady(child, base, () => log, 180_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    await dropDatabase();
    throw error;
  }

  /** Set once a request went unanswered: later ones fail at once instead of each waiting out its deadline. */
  let hungOn: string | undefined;
  const request = async (
    pathname: string,
    init: { method?: string; headers?: Record<string, string>; body?: string },
    what = pathname,
  ): Promise<RawResponse> => {
    if (hungOn) throw new Error(`the service has not answered since it hung on ${hungOn}; ${what} not sent`);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${base}${pathname}`, {
        method: init.method ?? 'POST',
        headers: init.headers,
        body: init.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await response.text();
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        hungOn = what;
        throw new Error(`no answer to ${what} within ${REQUEST_TIMEOUT_MS} ms: the service hung`);
      }
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  };
  return {
    pid: child.pid!,
    base,
    url: `${base}/graphql`,
    database,
    request,
    async gql(query, variables, what) {
      const body = jsonText(variables === undefined ? { query } : { query, variables });
      const name = what ?? /^\s*(?:mutation|query)?[^{]*\{\s*(\w+)/.exec(query)?.[1] ?? 'a GraphQL request';
      const response = await request(
        '/graphql',
        { headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' }, body },
        name,
      );
      if (response.json === undefined)
        return {
          status: response.status,
          errors: [{ message: `not JSON (HTTP ${response.status}): ${response.text.slice(0, 200)}`, extensions: { code: 'NOT_JSON' } }],
        };
      return { ...(response.json as object), status: response.status };
    },
    stderr: () => log,
    stop,
    kill,
  };
}
