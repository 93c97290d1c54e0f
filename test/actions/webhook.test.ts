import { describe, expect, it } from 'vitest';
import { backends } from '../support/harness.js';
import { closedPort, type Sink } from '../support/sink.js';
import { appWithSink, createRule, trigger, type ExecutionData, type FreshApp } from '../support/rules.js';

/**
 * The webhook action end to end (SPEC.md "webhook", "Action logs", "References"): a real server on
 * a real database calling a real local HTTP sink.
 */

const logLines = (e: ExecutionData) => e.logs ?? [];

describe.each(backends())('webhook action (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;

  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
  });

  it('GET sends params as the query string and keeps a JSON answer parsed', async () => {
    const rule = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/json`,
        params: { a: 1, b: 'x y', c: '{{payload.v}}', flag: true },
        headers: { 'X-Custom': 'abc', 'X-Rule': '{{rule.name}}' },
      },
    });
    const e = await trigger(t, rule.id, { v: 7 });
    expect(e.status).toBe('SUCCESS');
    expect(e.error).toBeNull();
    expect(e.actionType).toBe('WEBHOOK');

    const [req] = await sink.waitForRequests(1, '/json');
    expect(req!.method).toBe('GET');
    expect(Object.fromEntries(req!.query)).toEqual({ a: '1', b: 'x y', c: '7', flag: 'true' });
    expect(req!.body).toBe('');
    expect(req!.headers['x-custom']).toBe('abc');
    expect(req!.headers['x-rule']).toBe(rule.name);

    expect(e.result).toEqual({ status: 200, body: { ok: true, n: 42, nested: { list: [1, 2, 3] } } });
    const action = e.references.action;
    expect(action).toMatchObject({ action_type: 'webhook', method: 'GET', status_code: 200, truncated: false });
    expect(action.endpoint).toContain(`${sink.url}/json`);

    const info = logLines(e).filter((l) => l.level === 'INFO');
    expect(info.length).toBeGreaterThanOrEqual(1);
    expect(info[0]!.message).toContain('GET');
    expect(info[0]!.message).toContain(`${sink.url}/json`);
    expect(info[0]!.message).toContain('200');
    expect(info[0]!).toMatchObject({ executionId: e.id, ruleId: rule.id, cascadeId: e.cascadeId, seq: 1 });
  });

  it('POST sends the body as JSON with custom headers', async () => {
    const rule = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/json`,
        method: 'POST',
        params: { ignored: true },
        body: { x: '{{payload.x}}', fixed: 'v', nested: { list: ['{{payload.x}}', 2] } },
        headers: { 'X-Custom': 'abc', Authorization: 'Bearer {{payload.token}}' },
      },
    });
    const e = await trigger(t, rule.id, { x: 5, token: 's3cret' });
    expect(e.status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/json');
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/json');
    expect(req!.headers['content-type']).toMatch(/^application\/json/);
    expect(req!.json).toEqual({ x: 5, fixed: 'v', nested: { list: [5, 2] } });
    expect(req!.headers['x-custom']).toBe('abc');
    expect(req!.headers.authorization).toBe('Bearer s3cret');
    expect(e.references.action).toMatchObject({ action_type: 'webhook', method: 'POST', status_code: 200, truncated: false, endpoint: `${sink.url}/json` });
    expect(
      logLines(e).some((l) => l.level === 'INFO' && l.message.includes('POST') && l.message.includes(`${sink.url}/json`) && l.message.includes('200')),
    ).toBe(true);
  });

  it('POST without a body sends params as JSON; PUT too', async () => {
    const post = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json`, method: 'POST', params: { p: '{{payload.p}}', q: 'text {{payload.p}}' } } });
    expect((await trigger(t, post.id, { p: 3 })).status).toBe('SUCCESS');
    const put = await createRule(t, { actionSpec: { endpoint: `${sink.url}/put`, method: 'PUT', params: { k: 'v' } } });
    expect((await trigger(t, put.id, {})).status).toBe('SUCCESS');
    const [postReq] = await sink.waitForRequests(1, '/json');
    expect(postReq!.method).toBe('POST');
    expect(postReq!.json).toEqual({ p: 3, q: 'text 3' });
    const [putReq] = await sink.waitForRequests(1, '/put');
    expect(putReq!.method).toBe('PUT');
    expect(putReq!.json).toEqual({ k: 'v' });
  });

  it('keeps a text answer as text', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/text` } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('SUCCESS');
    expect(e.result).toEqual({ status: 200, body: 'plain text answer' });
  });

  it('a timeout fails the execution with WEBHOOK_FAILED and an ERROR line', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/never`, timeoutMs: 150 } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('FAILED');
    expect(e.conditionMet).toBe(true);
    expect(e.error?.code).toBe('WEBHOOK_FAILED');
    expect(e.result).toBeNull();
    expect(e.durationMs).toBeGreaterThanOrEqual(100);
    expect(e.references.action).toMatchObject({ action_type: 'webhook', method: 'GET', status_code: null });
    await sink.waitForRequests(1, '/never');
    const errors = logLines(e).filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('GET');
    expect(errors[0]!.message).toContain(`${sink.url}/never`);
    expect(errors[0]!.message).toMatch(/150 ms|timeout|timed out/i);
  });

  it('a 500 answer fails with WEBHOOK_FAILED and keeps the result', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/fail`, method: 'POST', body: { a: 1 } } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('WEBHOOK_FAILED');
    expect(e.error?.message).toContain('500');
    expect(e.result).toEqual({ status: 500, body: { error: 'boom' } });
    expect(e.references.action).toMatchObject({ action_type: 'webhook', method: 'POST', status_code: 500, truncated: false });
    const errors = logLines(e).filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('POST');
    expect(errors[0]!.message).toContain(`${sink.url}/fail`);
    expect(errors[0]!.message).toContain('500');
  });

  it('a refused connection fails with WEBHOOK_FAILED and the reason logged', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}/nobody`;
    const rule = await createRule(t, { actionSpec: { endpoint, timeoutMs: 2000 } });
    const e = await trigger(t, rule.id, {});
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('WEBHOOK_FAILED');
    expect(e.result).toBeNull();
    expect(e.references.action).toMatchObject({ action_type: 'webhook', endpoint, method: 'GET', status_code: null });
    const errors = logLines(e).filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain(endpoint);
    expect(errors[0]!.message).toMatch(/ECONNREFUSED|refused/i);
  });

  it('cuts a body over 64 KiB to the text of its first 64 KiB, flagged truncated', async () => {
    const text = await createRule(t, { actionSpec: { endpoint: `${sink.url}/big` } });
    const e = await trigger(t, text.id, {});
    expect(e.status).toBe('SUCCESS');
    expect(e.result.status).toBe(200);
    expect(typeof e.result.body).toBe('string');
    expect(e.result.body).toHaveLength(64 * 1024);
    expect(e.result.body).toBe('x'.repeat(64 * 1024));
    expect(e.references.action).toMatchObject({ status_code: 200, truncated: true });

    // A JSON answer that is cut is no longer JSON: it stays the text of its first 64 KiB.
    const json = await createRule(t, { actionSpec: { endpoint: `${sink.url}/bigjson` } });
    const j = await trigger(t, json.id, {});
    expect(j.status).toBe('SUCCESS');
    expect(typeof j.result.body).toBe('string');
    expect(j.result.body).toHaveLength(64 * 1024);
    expect(j.result.body.startsWith('{"data":"yyy')).toBe(true);
    expect(j.references.action.truncated).toBe(true);
  });

  it('the log lines are readable through Execution.logs', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
    const e = await trigger(t, rule.id, {});
    const res = await t.gql(`query($id: ID!) { execution(id: $id) { logs { seq level message executionId ruleId cascadeId } } }`, { id: e.id });
    const logs = res.data.execution.logs;
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(logs.map((l: { seq: number }) => l.seq)).toEqual(logs.map((_: unknown, i: number) => i + 1));
    expect(logs[0]).toMatchObject({ level: 'INFO', executionId: e.id, ruleId: rule.id, cascadeId: e.id });
    expect(logs[0].message).toMatch(/GET .*\/json.*200/);
  });
});
