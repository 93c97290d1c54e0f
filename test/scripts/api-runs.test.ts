import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRule } from '../support/rules.js';
import { backends, ok, startFreshApp, unique, type GraphQLResponse, type TestApp } from '../support/harness.js';
import { closedPort, startSink, type Sink } from '../support/sink.js';
import { subscribeWs, type LiveSubscription } from '../support/ws.js';

/**
 * API runs end to end over GraphQL against a real server and a real database (SPEC.md "API
 * scripts", "api_script", "Error codes", "Action logs"): executeApi of SCRIPT and HTTP definitions,
 * ApiDefinition.executions, live log lines on actionLogs, ctx.http through allowNetwork,
 * allowedHosts and the outbound guard, and the api_script action of a rule.
 */

type FreshApp = Awaited<ReturnType<typeof startFreshApp>>;

const LOG_FIELDS = 'executionId cascadeId ruleId apiExecutionId seq level message data';
const RUN_FIELDS = `id apiId status params input output error { code message } durationMs executedBy startedAt logs { ${LOG_FIELDS} }`;

const CREATE_API = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id name kind active } }`;
const EXECUTE = `mutation($apiId: ID!, $params: JSON, $input: JSON, $executedBy: String) {
  executeApi(apiId: $apiId, params: $params, input: $input, executedBy: $executedBy) { ${RUN_FIELDS} }
}`;
const RUNS = `query($id: ID!, $first: Int, $after: String) {
  apiDefinition(id: $id) {
    executions(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ${RUN_FIELDS} } }
    }
  }
}`;
const TRIGGER = `mutation($ruleId: ID!, $payload: JSON) {
  triggerRule(ruleId: $ruleId, payload: $payload) {
    id ruleId status actionType result references error { code message } cascadeId depth logs { ${LOG_FIELDS} }
  }
}`;

interface LogData {
  executionId: string;
  cascadeId: string | null;
  ruleId: string | null;
  apiExecutionId: string | null;
  seq: number;
  level: string;
  message: string;
  data: any;
}

interface RunData {
  id: string;
  apiId: string;
  status: string;
  params: any;
  input: any;
  output: any;
  error: { code: string; message: string } | null;
  durationMs: number | null;
  executedBy: string;
  startedAt: string;
  logs: LogData[];
}

interface RuleRun {
  id: string;
  ruleId: string;
  status: string;
  actionType: string | null;
  result: any;
  references: any;
  error: { code: string; message: string } | null;
  cascadeId: string;
  depth: number;
  logs: LogData[];
}

interface Policy {
  timeoutMs?: number;
  memoryLimitMb?: number;
  allowNetwork?: boolean;
  allowedHosts?: string[];
}

async function createScript(t: TestApp, source: string, extra: { runtimePolicy?: Policy; paramSchema?: unknown; active?: boolean } = {}) {
  const res = await t.gql(CREATE_API, { input: { name: unique('script'), kind: 'SCRIPT', source, ...extra } });
  return ok<{ createApiDefinition: { id: string; name: string } }>(res).createApiDefinition;
}

async function createHttp(t: TestApp, httpSpec: unknown, extra: { runtimePolicy?: Policy; active?: boolean } = {}) {
  const res = await t.gql(CREATE_API, { input: { name: unique('http'), kind: 'HTTP', httpSpec, ...extra } });
  return ok<{ createApiDefinition: { id: string; name: string } }>(res).createApiDefinition;
}

function executeRaw(
  t: TestApp,
  apiId: string,
  vars: { params?: unknown; input?: unknown; executedBy?: string } = {},
): Promise<GraphQLResponse<{ executeApi: RunData }>> {
  return t.gql(EXECUTE, { apiId, ...vars });
}

async function execute(t: TestApp, apiId: string, vars: { params?: unknown; input?: unknown; executedBy?: string } = {}): Promise<RunData> {
  return ok(await executeRaw(t, apiId, vars)).executeApi;
}

async function runsOf(t: TestApp, apiId: string, first?: number, after?: string) {
  const data = ok<{
    apiDefinition: {
      executions: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { cursor: string; node: RunData }[] };
    } | null;
  }>(await t.gql(RUNS, { id: apiId, first, after }));
  return data.apiDefinition!.executions;
}

async function triggerRule(t: TestApp, ruleId: string, payload?: unknown): Promise<RuleRun> {
  return ok<{ triggerRule: RuleRun }>(await t.gql(TRIGGER, { ruleId, payload })).triggerRule;
}

/** Every ApiExecution row, read straight from the database. */
async function countApiRows(t: TestApp): Promise<number> {
  const rows = (await t.app.database.fork().getConnection().execute('select count(*)::int as n from api_executions')) as { n: number }[];
  return Number(rows[0]!.n);
}

/** Runs `probe` until `seen` holds for what the subscription received: the subscription is then in place. */
async function whenLive<T>(sub: LiveSubscription<T>, probe: () => Promise<unknown>, seen: (events: T[]) => boolean) {
  for (let attempt = 0; ; attempt++) {
    await probe();
    try {
      await sub.waitFor(seen, 1000);
      return;
    } catch (error) {
      if (attempt >= 9) throw error;
    }
  }
}

function expectFailed(run: RunData, code: string) {
  expect(run.status, JSON.stringify(run)).toBe('FAILED');
  expect(run.error?.code, JSON.stringify(run)).toBe(code);
  expect(run.durationMs).toBeGreaterThanOrEqual(0);
  // A failure always leaves an ERROR line naming the code.
  const last = run.logs.at(-1)!;
  expect(last.level).toBe('ERROR');
  expect(last.message).toContain(code);
  return run.error!;
}

const SLOW_MS = 1500;

describe.each(backends())('API runs (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink({
      '/slow-live': { status: 200, body: { slow: true }, delayMs: SLOW_MS },
      '/echo': (req) => ({
        status: 201,
        body: { method: req.method, got: req.json ?? null, query: Object.fromEntries(req.query) },
        headers: { 'x-sink': 'yes' },
      }),
    });
    t = await startFreshApp(backend);
  });
  afterAll(async () => {
    await t?.stop();
    await sink?.close();
  });
  beforeEach(() => sink.reset());

  describe('executeApi of a SCRIPT', () => {
    it('returns a sync main result, with params and input visible, and records the run', async () => {
      const api = await createScript(
        t,
        'function main(params, input, ctx) {\n  return { sum: params.a + params.b, input, noRule: ctx.rule === null && ctx.execution === null && ctx.payload === null };\n}\n',
      );
      const before = Date.now();
      const run = await execute(t, api.id, { params: { a: 2, b: 40 }, input: { x: [1, 'two'] } });
      const after = Date.now();
      expect(run).toMatchObject({
        apiId: api.id,
        status: 'SUCCESS',
        params: { a: 2, b: 40 },
        input: { x: [1, 'two'] },
        output: { sum: 42, input: { x: [1, 'two'] }, noRule: true },
        error: null,
        executedBy: 'api',
      });
      expect(Number.isInteger(run.durationMs)).toBe(true);
      expect(run.durationMs).toBeGreaterThanOrEqual(0);
      expect(run.durationMs).toBeLessThanOrEqual(after - before + 5);
      const startedAt = Date.parse(run.startedAt);
      expect(startedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(startedAt).toBeLessThanOrEqual(after + 1000);

      const stored = await runsOf(t, api.id);
      expect(stored.totalCount).toBe(1);
      expect(stored.edges[0]!.node).toEqual(run);
    });

    it('awaits an async main, and takes a custom executedBy', async () => {
      const api = await createScript(
        t,
        'const main = async (params, input) => {\n  const v = await Promise.resolve(params.n);\n  await null;\n  return { doubled: v * 2, echo: input };\n};\n',
      );
      const run = await execute(t, api.id, { params: { n: 21 }, input: 'text input', executedBy: 'tester-1' });
      expect(run).toMatchObject({ status: 'SUCCESS', output: { doubled: 42, echo: 'text input' }, executedBy: 'tester-1', input: 'text input' });
      // undefined is null; a missing params is {}
      const other = await createScript(t, 'async function main(params) { if (Object.keys(params).length !== 0) throw new Error("params"); }');
      const nothing = await execute(t, other.id);
      expect(nothing).toMatchObject({ status: 'SUCCESS', output: null, params: {}, input: null, error: null });
    });

    it('stores the log lines of ctx.log and its levels, owned by the ApiExecution', async () => {
      const api = await createScript(
        t,
        `function main(params, input, ctx) {
  ctx.log('plain', { a: 1 });
  ctx.log.debug('at debug');
  ctx.log.info('at info', [1, 2]);
  ctx.log.warn('at warn', 'w');
  ctx.log.error('at error', { e: true });
  return 'done';
}`,
      );
      const run = await execute(t, api.id);
      expect(run.status).toBe('SUCCESS');
      expect(run.logs.map((l) => [l.seq, l.level, l.message, l.data])).toEqual([
        [1, 'INFO', 'plain', { a: 1 }],
        [2, 'DEBUG', 'at debug', null],
        [3, 'INFO', 'at info', [1, 2]],
        [4, 'WARN', 'at warn', 'w'],
        [5, 'ERROR', 'at error', { e: true }],
      ]);
      for (const line of run.logs) {
        expect(line).toMatchObject({ executionId: run.id, apiExecutionId: run.id, ruleId: null, cascadeId: null });
      }
      const stored = await runsOf(t, api.id);
      expect(stored.edges[0]!.node.logs).toEqual(run.logs);
    });

    it('lists the runs of a definition newest first, page by page', async () => {
      const api = await createScript(t, 'function main(params) { return params.i; }');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await execute(t, api.id, { params: { i } })).id);
      const newestFirst = [...ids].reverse();

      const page1 = await runsOf(t, api.id, 2);
      expect(page1.totalCount).toBe(5);
      expect(page1.pageInfo.hasNextPage).toBe(true);
      expect(page1.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(0, 2));
      expect(page1.edges.map((e) => e.node.output)).toEqual([4, 3]);
      const page2 = await runsOf(t, api.id, 2, page1.pageInfo.endCursor!);
      expect(page2.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(2, 4));
      expect(page2.pageInfo.hasNextPage).toBe(true);
      const page3 = await runsOf(t, api.id, 2, page2.pageInfo.endCursor!);
      expect(page3.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(4));
      expect(page3.pageInfo.hasNextPage).toBe(false);

      const all = await runsOf(t, api.id);
      const starts = all.edges.map((e) => Date.parse(e.node.startedAt));
      expect([...starts].sort((a, b) => b - a)).toEqual(starts);
      expect((await runsOf(t, api.id, 0)).totalCount).toBe(5);
    });

    it('answers NOT_FOUND for an unknown API and writes no row', async () => {
      const before = await countApiRows(t);
      for (const apiId of [randomUUID(), 'not-a-uuid', '']) {
        const res = await executeRaw(t, apiId, { params: { a: 1 } });
        expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res)).toBe('NOT_FOUND');
        expect(res.data?.executeApi ?? null).toBeNull();
      }
      expect(await countApiRows(t)).toBe(before);
    });

    it('fails an inactive API with API_INACTIVE, still writing the run', async () => {
      const api = await createScript(t, 'function main() { return 1; }', { active: false });
      const run = await execute(t, api.id, { params: { p: 1 } });
      expectFailed(run, 'API_INACTIVE');
      expect(run.output).toBeNull();
      expect(run.params).toEqual({ p: 1 });
      const stored = await runsOf(t, api.id);
      expect(stored.totalCount).toBe(1);
      expect(stored.edges[0]!.node).toMatchObject({ id: run.id, status: 'FAILED', error: { code: 'API_INACTIVE' } });
    });

    it('fails params that do not satisfy paramSchema with PARAMS_INVALID naming ajv paths', async () => {
      const api = await createScript(t, 'function main(params) { return params; }', {
        paramSchema: {
          type: 'object',
          required: ['n'],
          properties: { n: { type: 'integer', minimum: 1 }, tags: { type: 'array', items: { type: 'string' } } },
        },
      });
      const bad = await execute(t, api.id, { params: { n: 0, tags: ['a', 7] } });
      const error = expectFailed(bad, 'PARAMS_INVALID');
      expect(error.message).toContain('/n');
      expect(error.message).toContain('/tags/1');
      expect(bad.output).toBeNull();

      const missing = await execute(t, api.id, { params: {} });
      expect(expectFailed(missing, 'PARAMS_INVALID').message).toMatch(/required property 'n'/);

      const good = await execute(t, api.id, { params: { n: 3, tags: ['x'] } });
      expect(good).toMatchObject({ status: 'SUCCESS', output: { n: 3, tags: ['x'] } });
    });

    it('fails a script that throws with SCRIPT_ERROR and its message, keeping earlier lines', async () => {
      const api = await createScript(t, 'function main(params, input, ctx) {\n  ctx.log("about to fail");\n  throw new Error("kaboom " + params.n);\n}');
      const run = await execute(t, api.id, { params: { n: 42 } });
      expect(expectFailed(run, 'SCRIPT_ERROR').message).toContain('kaboom 42');
      expect(run.logs[0]).toMatchObject({ level: 'INFO', message: 'about to fail', seq: 1 });
      expect(run.output).toBeNull();
    });

    it('fails a return value that is not JSON with SCRIPT_ERROR', async () => {
      for (const body of ['return () => 1;', 'return 10n;', 'return Symbol("s");', 'const a = {}; a.self = a; return a;']) {
        const api = await createScript(t, `function main() { ${body} }`);
        const run = await execute(t, api.id);
        expectFailed(run, 'SCRIPT_ERROR');
        expect(run.output).toBeNull();
      }
    });

    it('ends an infinite loop at timeoutMs 300 with SCRIPT_TIMEOUT, then runs the next one', async () => {
      const loop = await createScript(t, 'function main() { for (;;) {} }', { runtimePolicy: { timeoutMs: 300 } });
      const started = Date.now();
      const run = await execute(t, loop.id);
      expectFailed(run, 'SCRIPT_TIMEOUT');
      expect(run.durationMs).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(5000);

      const fine = await createScript(t, 'function main(params) { return params.v + 1; }', { runtimePolicy: { timeoutMs: 300 } });
      expect(await execute(t, fine.id, { params: { v: 1 } })).toMatchObject({ status: 'SUCCESS', output: 2 });
      // The looping definition again: the same limit, again
      expectFailed(await execute(t, loop.id), 'SCRIPT_TIMEOUT');
      expect(await execute(t, fine.id, { params: { v: 2 } })).toMatchObject({ status: 'SUCCESS', output: 3 });
    });

    it('ends a memory bomb at memoryLimitMb 16 with SCRIPT_MEMORY_LIMIT and keeps serving', async () => {
      const bomb = await createScript(t, 'function main() { const hog = []; for (;;) hog.push(new Array(100000).fill(Math.random())); }', {
        runtimePolicy: { memoryLimitMb: 16, timeoutMs: 15000 },
      });
      const run = await execute(t, bomb.id);
      expectFailed(run, 'SCRIPT_MEMORY_LIMIT');

      // The service keeps serving: a query, and new runs
      const health = await fetch(`${t.base}/health`);
      expect(health.status).toBe(200);
      const stored = await runsOf(t, bomb.id);
      expect(stored.edges[0]!.node).toMatchObject({ id: run.id, status: 'FAILED', error: { code: 'SCRIPT_MEMORY_LIMIT' } });
      const fine = await createScript(t, 'function main() { return "still here"; }', { runtimePolicy: { memoryLimitMb: 16 } });
      expect(await execute(t, fine.id)).toMatchObject({ status: 'SUCCESS', output: 'still here' });
    });
  });

  describe('live log lines', () => {
    it('streams a line written before a slow await while the run goes on', async () => {
      const marker = randomUUID();
      const probeApi = await createScript(t, 'function main(params, input, ctx) { ctx.log("probe", { marker: params.marker }); return null; }');
      const api = await createScript(
        t,
        `async function main(params, input, ctx) {
  ctx.log('before the wait', { marker: params.marker });
  const answer = await ctx.http.get(params.url);
  ctx.log.warn('after the wait', { status: answer.status });
  return answer.body;
}`,
        { runtimePolicy: { allowNetwork: true, allowedHosts: ['127.0.0.1'], timeoutMs: 10000 } },
      );
      const sub = subscribeWs<LogData>(t.url, `subscription { actionLogs { ${LOG_FIELDS} } }`, {}, 30_000);
      try {
        await whenLive(
          sub,
          () => execute(t, probeApi.id, { params: { marker } }),
          (events) => events.some((e) => e.message === 'probe' && e.data?.marker === marker),
        );

        const mine = (events: LogData[]) => events.filter((e) => e.data?.marker === marker && e.message === 'before the wait');
        let firstLineAt = 0;
        let answeredAt = 0;
        const firstLine = sub
          .waitFor((events) => mine(events).length > 0, 10_000)
          .then(() => {
            firstLineAt = performance.now();
          });
        const started = performance.now();
        const response = executeRaw(t, api.id, { params: { marker, url: `${sink.url}/slow-live` } }).then((res) => {
          answeredAt = performance.now();
          return res;
        });
        await firstLine;
        // The first line arrived while the mutation was still waiting for the slow sink.
        expect(answeredAt).toBe(0);
        expect(firstLineAt - started).toBeLessThan(SLOW_MS);
        // Meanwhile the run is stored RUNNING, with the line already written
        const during = await runsOf(t, api.id);
        expect(answeredAt).toBe(0);
        expect(during.totalCount).toBe(1);
        expect(during.edges[0]!.node).toMatchObject({ status: 'RUNNING', output: null, error: null, durationMs: null, executedBy: 'api' });
        expect(during.edges[0]!.node.logs.map((l) => l.message)).toEqual(['before the wait']);
        const run = ok(await response).executeApi;
        expect(answeredAt).toBeGreaterThan(firstLineAt);
        expect(run).toMatchObject({ status: 'SUCCESS', output: { slow: true } });
        expect(run.durationMs).toBeGreaterThanOrEqual(SLOW_MS - 50);

        const streamed = mine(sub.events)[0]!;
        expect(streamed).toMatchObject({ executionId: run.id, apiExecutionId: run.id, ruleId: null, cascadeId: null, level: 'INFO', seq: 1 });
        const after = await sub.waitFor((events) => events.some((e) => e.executionId === run.id && e.message === 'after the wait'));
        expect(after.filter((e) => e.executionId === run.id).map((e) => [e.seq, e.level, e.message])).toEqual([
          [1, 'INFO', 'before the wait'],
          [2, 'WARN', 'after the wait'],
        ]);
        expect(run.logs.map((l) => l.message)).toEqual(['before the wait', 'after the wait']);
      } finally {
        sub.dispose();
      }
    });
  });

  describe('limits of a run', () => {
    it('counts awaited ctx.http time toward timeoutMs (SCRIPT_TIMEOUT)', async () => {
      const api = await createScript(t, 'async function main(params, input, ctx) { await ctx.http.get(params.url); return "late"; }', {
        runtimePolicy: { allowNetwork: true, allowedHosts: ['127.0.0.1'], timeoutMs: 400 },
      });
      const run = await execute(t, api.id, { params: { url: `${sink.url}/never` } });
      expectFailed(run, 'SCRIPT_TIMEOUT');
      expect(run.durationMs).toBeGreaterThanOrEqual(350);
      expect(run.durationMs).toBeLessThan(3000);
    });

    it('fails an output over the cap with OUTPUT_TOO_LARGE', async () => {
      const api = await createScript(t, 'function main() { return "x".repeat(2 * 1024 * 1024); }');
      const run = await execute(t, api.id);
      expectFailed(run, 'OUTPUT_TOO_LARGE');
      expect(run.output).toBeNull();
    });
  });

  describe('ctx.http', () => {
    const GET_SOURCE = 'async function main(params, input, ctx) {\n  const answer = await ctx.http.get(params.url);\n  return answer;\n}';

    it('is refused without allowNetwork: HTTP_BLOCKED when uncaught, reportable when caught', async () => {
      const uncaught = await createScript(t, GET_SOURCE);
      const run = await execute(t, uncaught.id, { params: { url: `${sink.url}/json` } });
      expectFailed(run, 'HTTP_BLOCKED');

      const caught = await createScript(
        t,
        `async function main(params, input, ctx) {
  try {
    await ctx.http.request({ method: 'POST', url: params.url, body: { a: 1 } });
    return { caught: false };
  } catch (error) {
    return { caught: true, message: String(error && error.message) };
  }
}`,
      );
      const reported = await execute(t, caught.id, { params: { url: `${sink.url}/json` } });
      expect(reported.status).toBe('SUCCESS');
      expect(reported.output.caught).toBe(true);
      expect(reported.output.message).toMatch(/allowNetwork|not allowed/i);
      expect(sink.requests).toHaveLength(0);
    });

    it('is refused for a host outside allowedHosts with HTTP_BLOCKED', async () => {
      const api = await createScript(t, GET_SOURCE, { runtimePolicy: { allowNetwork: true, allowedHosts: ['example.invalid'] } });
      const run = await execute(t, api.id, { params: { url: `${sink.url}/json` } });
      expectFailed(run, 'HTTP_BLOCKED');
      expect(sink.requests).toHaveLength(0);
    });

    it('reaches an allowed local sink: get, post and request return {status, headers, body}', async () => {
      const api = await createScript(
        t,
        `async function main(params, input, ctx) {
  const got = await ctx.http.get(params.base + '/json');
  const posted = await ctx.http.post(params.base + '/echo', { hello: input.name });
  const put = await ctx.http.request({ method: 'PUT', url: params.base + '/echo?q=1', headers: { 'x-from-script': 'yes' }, body: { n: 5 } });
  return { got, posted, put };
}`,
        { runtimePolicy: { allowNetwork: true, allowedHosts: ['127.0.0.1'] } },
      );
      const run = await execute(t, api.id, { params: { base: sink.url }, input: { name: 'world' } });
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      const { got, posted, put } = run.output;
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ ok: true, n: 42, nested: { list: [1, 2, 3] } });
      expect(got.headers['content-type']).toContain('application/json');
      expect(posted).toMatchObject({ status: 201, body: { method: 'POST', got: { hello: 'world' } } });
      expect(posted.headers['x-sink']).toBe('yes');
      expect(put).toMatchObject({ status: 201, body: { method: 'PUT', got: { n: 5 }, query: { q: '1' } } });

      expect(sink.requestsTo('/json')).toHaveLength(1);
      const echoes = sink.requestsTo('/echo');
      expect(echoes.map((r) => [r.method, r.json])).toEqual([
        ['POST', { hello: 'world' }],
        ['PUT', { n: 5 }],
      ]);
      expect(echoes[0]!.headers['content-type']).toContain('application/json');
      expect(echoes[1]!.headers['x-from-script']).toBe('yes');
    });
  });

  describe('HTTP definitions', () => {
    it('GET sends templated params as the query string; output is {status, headers, body}', async () => {
      const api = await createHttp(t, {
        method: 'GET',
        url: `${sink.url}/json`,
        params: { q: '{{params.q}}', fixed: 'a b', from: '{{input.who}}' },
        headers: { 'X-Who': '{{input.who}}' },
      });
      const run = await execute(t, api.id, { params: { q: 'search' }, input: { who: 'me' } });
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      expect(run.output).toMatchObject({ status: 200, body: { ok: true, n: 42, nested: { list: [1, 2, 3] } } });
      expect(run.output.headers['content-type']).toContain('application/json');
      const [req] = await sink.waitForRequests(1, '/json');
      expect(req!.method).toBe('GET');
      expect(Object.fromEntries(req!.query)).toEqual({ q: 'search', fixed: 'a b', from: 'me' });
      expect(req!.headers['x-who']).toBe('me');
      expect(req!.body).toBe('');
      expect(run.logs.every((l) => l.executionId === run.id && l.apiExecutionId === run.id && l.ruleId === null)).toBe(true);
    });

    it('POST sends the templated body as JSON', async () => {
      const api = await createHttp(t, {
        method: 'POST',
        url: `${sink.url}/echo`,
        body: { name: '{{params.name}}', nested: { v: '{{input.v}}' }, fixed: [1, 2] },
      });
      const run = await execute(t, api.id, { params: { name: 'ann' }, input: { v: 'vee' } });
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      expect(run.output).toMatchObject({ status: 201, body: { method: 'POST', got: { name: 'ann', nested: { v: 'vee' }, fixed: [1, 2] } } });
      expect(run.output.headers['x-sink']).toBe('yes');
      const [req] = await sink.waitForRequests(1, '/echo');
      expect(req!.method).toBe('POST');
      expect(req!.headers['content-type']).toContain('application/json');
      expect(req!.json).toEqual({ name: 'ann', nested: { v: 'vee' }, fixed: [1, 2] });
    });

    it('fails a 500 answer with HTTP_FAILED', async () => {
      const api = await createHttp(t, { method: 'GET', url: `${sink.url}/fail` });
      const run = await execute(t, api.id);
      expect(expectFailed(run, 'HTTP_FAILED').message).toContain('500');
      expect(sink.requestsTo('/fail')).toHaveLength(1);
    });

    it('fails a refused connection with HTTP_FAILED', async () => {
      const port = await closedPort();
      const api = await createHttp(t, { method: 'GET', url: `http://127.0.0.1:${port}/nothing` });
      const run = await execute(t, api.id);
      expectFailed(run, 'HTTP_FAILED');
      expect(run.output).toBeNull();
    });

    it('fails a request that outlasts timeoutMs with HTTP_FAILED', async () => {
      const api = await createHttp(t, { method: 'GET', url: `${sink.url}/never` }, { runtimePolicy: { timeoutMs: 300 } });
      const run = await execute(t, api.id);
      expectFailed(run, 'HTTP_FAILED');
      expect(run.durationMs).toBeGreaterThanOrEqual(250);
      expect(run.durationMs).toBeLessThan(3000);
    });

    it('fails an inactive HTTP definition with API_INACTIVE without calling out', async () => {
      const api = await createHttp(t, { method: 'GET', url: `${sink.url}/json` }, { active: false });
      expectFailed(await execute(t, api.id), 'API_INACTIVE');
      expect(sink.requests).toHaveLength(0);
    });
  });

  describe('api_script from a rule', () => {
    const CTX_SOURCE = `async function main(params, input, ctx) {
  ctx.log('from the rule', { k: params.k });
  ctx.log.warn('careful');
  return { params, input, rule: ctx.rule, execution: ctx.execution, payload: ctx.payload };
}`;

    it('runs the script with input defaulting to the payload and returns {output, logs, references}', async () => {
      const api = await createScript(t, CTX_SOURCE);
      const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id, params: { k: '{{payload.k}}' } } });
      const payload = { k: 'v1', n: 3 };
      const e = await triggerRule(t, rule.id, payload);
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      expect(e.actionType).toBe('API_SCRIPT');
      expect(e.error).toBeNull();

      const output = e.result.output;
      expect(output).toEqual({
        params: { k: 'v1' },
        input: payload,
        rule: { id: rule.id, name: rule.name },
        execution: { id: e.id, cascadeId: e.cascadeId, depth: 0 },
        payload,
      });
      expect(e.result.logs).toEqual([
        { level: 'INFO', message: 'from the rule', data: { k: 'v1' } },
        { level: 'WARN', message: 'careful', data: null },
      ]);
      const action = e.references.action;
      expect(action).toMatchObject({ action_type: 'api_script', api_id: api.id });
      expect(typeof action.api_execution_id).toBe('string');
      expect(Number.isInteger(action.duration_ms)).toBe(true);
      expect(e.result.references).toMatchObject({ api_id: api.id, api_execution_id: action.api_execution_id, duration_ms: action.duration_ms });

      // The ApiExecution: executedBy "rule", with the same lines
      const runs = await runsOf(t, api.id);
      expect(runs.totalCount).toBe(1);
      const run = runs.edges[0]!.node;
      expect(run).toMatchObject({
        id: action.api_execution_id,
        status: 'SUCCESS',
        executedBy: 'rule',
        params: { k: 'v1' },
        input: payload,
        output,
        durationMs: action.duration_ms,
      });
      expect(run.logs.map((l) => [l.level, l.message])).toEqual([
        ['INFO', 'from the rule'],
        ['WARN', 'careful'],
      ]);

      // The rule execution's log has the script's lines, marked with the ApiExecution id
      const scriptLines = e.logs.filter((l) => l.apiExecutionId !== null);
      expect(scriptLines.map((l) => [l.level, l.message, l.data])).toEqual([
        ['INFO', 'from the rule', { k: 'v1' }],
        ['WARN', 'careful', null],
      ]);
      for (const line of scriptLines) {
        expect(line).toMatchObject({ executionId: e.id, ruleId: rule.id, cascadeId: e.cascadeId, apiExecutionId: run.id });
      }
      for (const line of run.logs) expect(line.apiExecutionId).toBe(run.id);
      expect(e.logs.map((l) => l.seq)).toEqual(e.logs.map((_, i) => i + 1));
    });

    it('templates an explicit input', async () => {
      const api = await createScript(t, 'function main(params, input, ctx) { return { input, payload: ctx.payload }; }');
      const rule = await createRule(t, {
        actionSpec: { type: 'api_script', api_id: api.id, params: {}, input: { greeting: 'hi {{payload.name}}', fixed: 1 } },
      });
      const e = await triggerRule(t, rule.id, { name: 'Bob' });
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      expect(e.result.output).toEqual({ input: { greeting: 'hi Bob', fixed: 1 }, payload: { name: 'Bob' } });
      const run = (await runsOf(t, api.id)).edges[0]!.node;
      expect(run).toMatchObject({ executedBy: 'rule', input: { greeting: 'hi Bob', fixed: 1 } });
    });

    it('stores every line of a run that ends with many lines waiting, in order, with its data', async () => {
      // A run's waiting lines ride on its final write: a few as bound values, many as one JSON document.
      const api = await createScript(
        t,
        'function main(params, input, ctx) { for (let n = 1; n <= 12; n++) ctx.log.info("line " + n, n % 2 ? { n } : undefined); return 1; }',
      );
      const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id, params: {} } });
      const e = await triggerRule(t, rule.id, {});
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      const run = (await runsOf(t, api.id)).edges[0]!.node;
      const scriptLines = e.logs.filter((l) => l.apiExecutionId !== null);
      expect(scriptLines.map((l) => [l.message, l.data])).toEqual(Array.from({ length: 12 }, (_, i) => [`line ${i + 1}`, (i + 1) % 2 ? { n: i + 1 } : null]));
      for (const line of e.logs) expect(line).toMatchObject({ executionId: e.id, ruleId: rule.id, cascadeId: e.cascadeId });
      for (const line of scriptLines) expect(line.apiExecutionId).toBe(run.id);
      expect(e.logs.map((l) => l.seq)).toEqual(e.logs.map((_, i) => i + 1));
    });

    it("streams the script's lines on actionLogs filtered by ruleId", async () => {
      const api = await createScript(t, CTX_SOURCE);
      const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id, params: { k: '{{payload.k}}' } } });
      const sub = subscribeWs<LogData>(t.url, `subscription($ruleId: ID) { actionLogs(ruleId: $ruleId) { ${LOG_FIELDS} } }`, { ruleId: rule.id }, 30_000);
      try {
        await whenLive(
          sub,
          () => triggerRule(t, rule.id, { k: 'probe' }),
          (events) => events.some((e) => e.data?.k === 'probe'),
        );
        const e = await triggerRule(t, rule.id, { k: 'real' });
        expect(e.status).toBe('SUCCESS');
        const events = await sub.waitFor((all) => all.filter((l) => l.executionId === e.id && l.apiExecutionId !== null).length >= 2);
        const mine = events.filter((l) => l.executionId === e.id && l.apiExecutionId !== null);
        expect(mine.map((l) => [l.level, l.message, l.data])).toEqual([
          ['INFO', 'from the rule', { k: 'real' }],
          ['WARN', 'careful', null],
        ]);
        for (const line of mine) expect(line).toMatchObject({ ruleId: rule.id, cascadeId: e.cascadeId, apiExecutionId: e.references.action.api_execution_id });
        expect(sub.events.every((l) => l.ruleId === rule.id)).toBe(true);
      } finally {
        sub.dispose();
      }
    });

    it('fails the rule execution with API_NOT_FOUND, API_NOT_SCRIPT and API_INACTIVE', async () => {
      const http = await createHttp(t, { method: 'GET', url: `${sink.url}/json` });
      const inactive = await createScript(t, 'function main() { return 1; }', { active: false });
      const cases: [string, string][] = [
        [randomUUID(), 'API_NOT_FOUND'],
        [http.id, 'API_NOT_SCRIPT'],
        [inactive.id, 'API_INACTIVE'],
      ];
      for (const [apiId, code] of cases) {
        const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: apiId, params: {} } });
        const e = await triggerRule(t, rule.id, { x: 1 });
        expect(e.status, `${code}: ${JSON.stringify(e)}`).toBe('FAILED');
        expect(e.error?.code).toBe(code);
        expect(e.actionType).toBe('API_SCRIPT');
        expect(e.references.action).toMatchObject({ action_type: 'api_script', api_id: apiId });
        expect(e.logs.some((l) => l.level === 'ERROR')).toBe(true);
      }
      // Neither the missing nor the HTTP definition ran; the inactive one left a FAILED run
      expect(sink.requests).toHaveLength(0);
      expect((await runsOf(t, http.id)).totalCount).toBe(0);
      const inactiveRuns = await runsOf(t, inactive.id);
      expect(inactiveRuns.edges.map((edge) => [edge.node.status, edge.node.error?.code, edge.node.executedBy])).toEqual([['FAILED', 'API_INACTIVE', 'rule']]);
    });

    it('fails the rule execution with SCRIPT_ERROR when the script throws', async () => {
      const api = await createScript(t, 'function main(params, input, ctx) { ctx.log("starting"); throw new Error("rule-side failure"); }');
      const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id, params: {} } });
      const e = await triggerRule(t, rule.id, { x: 1 });
      expect(e.status).toBe('FAILED');
      expect(e.error?.code).toBe('SCRIPT_ERROR');
      expect(e.error?.message).toContain('rule-side failure');
      expect(e.references.action).toMatchObject({ action_type: 'api_script', api_id: api.id });
      const run = (await runsOf(t, api.id)).edges[0]!.node;
      expect(run).toMatchObject({ id: e.references.action.api_execution_id, status: 'FAILED', executedBy: 'rule', error: { code: 'SCRIPT_ERROR' } });
      expect(e.logs.some((l) => l.apiExecutionId === run.id && l.message === 'starting')).toBe(true);
      expect(e.logs.some((l) => l.level === 'ERROR')).toBe(true);
    });
  });

  it('completes 50 concurrent executeApi runs with the right outputs', async () => {
    const api = await createScript(
      t,
      'async function main(params, input, ctx) {\n  ctx.log("n", { n: params.n });\n  await null;\n  return { n: params.n, square: params.n * params.n, tag: input.tag };\n}',
    );
    const runs = await Promise.all(Array.from({ length: 50 }, (_, n) => execute(t, api.id, { params: { n }, input: { tag: `t${n}` } })));
    runs.forEach((run, n) => {
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      expect(run.output).toEqual({ n, square: n * n, tag: `t${n}` });
      expect(run.logs.map((l) => [l.message, l.data, l.apiExecutionId])).toEqual([['n', { n }, run.id]]);
    });
    expect(new Set(runs.map((r) => r.id)).size).toBe(50);
    expect((await runsOf(t, api.id, 0)).totalCount).toBe(50);
  });

  it('leaves no ApiExecution RUNNING once the runs above have answered', async () => {
    const rows = (await t.app.database.fork().getConnection().execute("select count(*)::int as n from api_executions where status = 'RUNNING'")) as {
      n: number;
    }[];
    expect(Number(rows[0]!.n)).toBe(0);
  });

  describe('with the outbound guard fully on (OUTBOUND_ALLOWLIST empty)', () => {
    let guarded: FreshApp;

    beforeAll(async () => {
      guarded = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '' });
    });
    afterAll(async () => {
      await guarded?.stop();
    });

    it('refuses ctx.http to 127.0.0.1 although allowedHosts lists it (HTTP_BLOCKED)', async () => {
      const api = await createScript(guarded, 'async function main(params, input, ctx) { return await ctx.http.get(params.url); }', {
        runtimePolicy: { allowNetwork: true, allowedHosts: ['127.0.0.1'] },
      });
      const run = await execute(guarded, api.id, { params: { url: `${sink.url}/json` } });
      expectFailed(run, 'HTTP_BLOCKED');
      expect(sink.requests).toHaveLength(0);
    });

    it('refuses an HTTP definition to 127.0.0.1 (HTTP_BLOCKED)', async () => {
      const api = await createHttp(guarded, { method: 'GET', url: `${sink.url}/json` });
      const run = await execute(guarded, api.id);
      expectFailed(run, 'HTTP_BLOCKED');
      expect(run.output).toBeNull();
      expect(sink.requests).toHaveLength(0);
    });
  });
});
