import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRule } from '../support/rules.js';
import { backends, ok, startFreshApp, type TestApp, refusal, unique } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';

/**
 * What outbound HTTP may be asked, over GraphQL on a real server (SPEC.md "API scripts"):
 * allowedHosts read the same at save and at run (numeric IPv4 forms as URL parsers read them), and
 * the methods and headers the guarded client refuses, at save for specs and at run for ctx.http.
 */

const CREATE_API = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id runtimePolicy { allowedHosts } } }`;
const EXECUTE = `mutation($apiId: ID!, $params: JSON) { executeApi(apiId: $apiId, params: $params) { status output error { code message } } }`;

interface RunData {
  status: string;
  output: any;
  error: { code: string; message: string } | null;
}

async function createScript(t: TestApp, source: string, allowedHosts: string[]) {
  const res = await t.gql(CREATE_API, { input: { name: unique('outbound'), kind: 'SCRIPT', source, runtimePolicy: { allowNetwork: true, allowedHosts } } });
  return ok<{ createApiDefinition: { id: string; runtimePolicy: { allowedHosts: string[] } } }>(res).createApiDefinition;
}

async function execute(t: TestApp, apiId: string, params: unknown): Promise<RunData> {
  return ok<{ executeApi: RunData }>(await t.gql(EXECUTE, { apiId, params })).executeApi;
}

/** Tries each request and reports, per request, the status it got or the error code and message. */
const TRY_EACH = `async function main(params, input, ctx) {
  const results = [];
  for (const request of params.requests) {
    try {
      const answer = await ctx.http.request(request);
      results.push({ status: answer.status });
    } catch (error) {
      results.push({ code: error.code, message: String(error.message) });
    }
  }
  return results;
}`;

describe.each(backends())('outbound requests (%s)', (backend) => {
  let t: Awaited<ReturnType<typeof startFreshApp>>;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink();
    t = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.stop();
    await sink?.close();
  });
  beforeEach(() => sink.reset());

  describe('allowedHosts', () => {
    it.each(['127.1', '2130706433', '0x7f.1', '017700000001'])('%s is saved as 127.0.0.1 and lets ctx.http reach the sink at 127.0.0.1', async (form) => {
      const api = await createScript(t, 'async function main(params, input, ctx) { return (await ctx.http.get(params.url)).body; }', [form]);
      expect(api.runtimePolicy.allowedHosts).toEqual(['127.0.0.1']);
      const run = await execute(t, api.id, { url: `${sink.url}/json` });
      expect(run, JSON.stringify(run)).toMatchObject({ status: 'SUCCESS', output: { ok: true, n: 42 } });
      expect(sink.requestsTo('/json')).toHaveLength(1);
    });

    it('refuses at save what the run would refuse, naming the entry', async () => {
      for (const bad of ['256.0.0.1', '1.2.3.4.5', '-x.example.com', '*.127.1']) {
        const res = await t.gql(CREATE_API, {
          input: { name: unique('outbound'), kind: 'SCRIPT', source: 'function main() {}', runtimePolicy: { allowedHosts: ['ok.example.com', bad] } },
        });
        const error = refusal(res, 'BAD_USER_INPUT');
        expect(error.extensions?.specPath, bad).toBe('input.runtimePolicy.allowedHosts[1]');
        expect(error.message).toContain(bad);
      }
    });
  });

  describe('ctx.http', () => {
    it('refuses CONNECT, TRACE and TRACK with HTTP_BLOCKED; nothing reaches the sink', async () => {
      const api = await createScript(t, TRY_EACH, ['127.0.0.1']);
      const url = `${sink.url}/json`;
      const requests = ['CONNECT', 'TRACE', 'TRACK', 'trace'].map((method) => ({ method, url }));
      const run = await execute(t, api.id, { requests: [...requests, { method: 'GET', url }] });
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      expect(run.output.slice(0, 4)).toEqual(
        ['CONNECT', 'TRACE', 'TRACK', 'TRACE'].map((method) => ({ code: 'HTTP_BLOCKED', message: expect.stringContaining(`method ${method} is not allowed`) })),
      );
      expect(run.output[4]).toEqual({ status: 200 });
      expect(sink.requests.map((r) => r.method)).toEqual(['GET']);
    });

    it('refuses a Host header (any case) and the framing headers with HTTP_BLOCKED; an uncaught one fails the run', async () => {
      const api = await createScript(t, TRY_EACH, ['127.0.0.1']);
      const url = `${sink.url}/json`;
      const names = ['Host', 'host', 'HOST', 'Content-Length', 'Transfer-Encoding', 'Connection'];
      const run = await execute(t, api.id, {
        requests: [...names.map((name) => ({ method: 'GET', url, headers: { [name]: 'evil.example' } })), { method: 'GET', url, headers: { 'x-fine': 'yes' } }],
      });
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      expect(run.output).toEqual([
        ...names.map((name) => ({ code: 'HTTP_BLOCKED', message: expect.stringContaining(`header "${name}" may not be set`) })),
        { status: 200 },
      ]);
      expect(sink.requests).toHaveLength(1);
      expect(sink.requests[0]!.headers['x-fine']).toBe('yes');

      const uncaught = await createScript(
        t,
        'async function main(params, input, ctx) { return await ctx.http.request({ url: params.url, headers: { Host: "other.example" } }); }',
        ['127.0.0.1'],
      );
      const failed = await execute(t, uncaught.id, { url });
      expect(failed.status).toBe('FAILED');
      expect(failed.error?.code).toBe('HTTP_BLOCKED');
      expect(sink.requests).toHaveLength(1);
    });
  });

  describe('specs at save', () => {
    it('refuses CONNECT, TRACE and TRACK as httpSpec.method', async () => {
      for (const method of ['CONNECT', 'TRACE', 'TRACK']) {
        const res = await t.gql(CREATE_API, { input: { name: unique('http'), kind: 'HTTP', httpSpec: { method, url: `${sink.url}/json` } } });
        expect(refusal(res, 'BAD_USER_INPUT').extensions?.specPath).toBe('input.httpSpec.method');
      }
    });

    it('refuses a Host or framing header in httpSpec.headers, naming it', async () => {
      for (const name of ['Host', 'hOsT', 'Content-Length', 'transfer-encoding', 'Connection']) {
        const res = await t.gql(CREATE_API, {
          input: { name: unique('http'), kind: 'HTTP', httpSpec: { url: `${sink.url}/json`, headers: { 'x-ok': '1', [name]: 'x' } } },
        });
        const error = refusal(res, 'BAD_USER_INPUT');
        expect(error.extensions?.specPath).toBe(`input.httpSpec.headers.${name}`);
        expect(error.message).toContain(`header "${name}" may not be set`);
      }
    });

    it('refuses a Host header in a webhook action and in a METRIC poll', async () => {
      const webhook = await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: {
          name: unique('rule'),
          triggerType: 'EVENT',
          triggerSpec: { conditions: [] },
          actionSpec: { type: 'webhook', endpoint: `${sink.url}/hook`, headers: { HOST: 'internal.example' } },
        },
      });
      expect(refusal(webhook, 'BAD_USER_INPUT').extensions?.specPath).toBe('actionSpec.headers.HOST');

      const metric = await t.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: {
          name: unique('rule'),
          triggerType: 'METRIC',
          triggerSpec: { endpoint: `${sink.url}/metric`, headers: { host: 'internal.example' }, valuePath: 'data.cpu', op: '>', threshold: 1 },
          actionSpec: { type: 'webhook', endpoint: `${sink.url}/hook` },
        },
      });
      expect(refusal(metric, 'BAD_USER_INPUT').extensions?.specPath).toBe('triggerSpec.headers.host');

      // Other headers are still fine.
      await createRule(t, { actionSpec: { type: 'webhook', endpoint: `${sink.url}/hook`, headers: { 'x-token': 'abc' } } });
    });
  });
});
