import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startFreshApp } from '../support/harness.js';
import { createRule, trigger, type FreshApp } from '../support/rules.js';
import { startSink, type Sink } from '../support/sink.js';
import { poll } from '../support/wait.js';

/**
 * Tracing end to end (docs/operations.md, 'Tracing'): a real app sending OTLP/HTTP JSON to a
 * local receiver, a real webhook receiver, and the spans and `traceparent` headers they got.
 */

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  service: unknown;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

const attributeMap = (attributes: OtlpAttribute[] = []) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue))]));

/** Every span the receiver got, from the OTLP JSON bodies of POST /v1/traces. */
function spansOf(receiver: Sink): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const request of receiver.requestsTo('/v1/traces')) {
    const body = request.json as { resourceSpans?: any[] };
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = attributeMap(resourceSpans.resource?.attributes)['service.name'];
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: attributeMap(span.attributes),
            service,
          });
        }
      }
    }
  }
  return spans;
}

const runOf = (spans: ReceivedSpan[], ruleId: string) => spans.filter((s) => s.name === 'cepheus.run' && s.attributes['cepheus.rule.id'] === ruleId);
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan, name?: string) =>
  spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId && (name === undefined || s.name === name));

function only<T>(items: T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0]!;
}

describe.each(backends())('tracing (%s)', (backend) => {
  let receiver: Sink;
  let sink: Sink;
  let app: FreshApp | undefined;
  const delay = process.env.OTEL_BSP_SCHEDULE_DELAY;

  beforeAll(async () => {
    receiver = await startSink({ '/v1/traces': { status: 200, body: {} } });
    sink = await startSink();
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
    receiver.reset();
    sink.reset();
    if (delay === undefined) delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    else process.env.OTEL_BSP_SCHEDULE_DELAY = delay;
  });
  afterAll(async () => {
    await receiver.close();
    await sink.close();
  });

  /** An app sending its spans to the receiver, in batches sent every `scheduleDelayMs`. */
  async function tracedApp(scheduleDelayMs: number): Promise<FreshApp> {
    // Read by the SDK's BatchSpanProcessor itself, as in production.
    process.env.OTEL_BSP_SCHEDULE_DELAY = String(scheduleDelayMs);
    app = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '127.0.0.1', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    return app;
  }

  it('a triggerRule cascade is one trace: each child under its parent action, the webhook call under its action, traceparent sent', async () => {
    const t = await tracedApp(50);
    const tag = randomUUID();
    const when = { field: 'kind', op: '==', value: tag };
    const c = await createRule(t, { name: `C ${tag}`, triggerSpec: when, actionSpec: { type: 'webhook', method: 'POST', endpoint: `${sink.url}/hook` } });
    const b = await createRule(t, { name: `B ${tag}`, triggerSpec: when, actionSpec: { type: 'trigger_rule', rule_id: c.id } });
    const a = await createRule(t, { name: `A ${tag}`, triggerSpec: when, actionSpec: { type: 'trigger_rule', rule_id: b.id } });

    const root = await trigger(t, a.id, { kind: tag }, { wait: true });
    expect(root.status).toBe('SUCCESS');
    const [delivered] = await sink.waitForRequests(1, '/hook');

    // The run spans end with their executions and the operation's span after them; each batch
    // goes out within the schedule delay, so wait until the operation's span has arrived too.
    const operationArrived = (all: ReceivedSpan[]) => {
      const rootRun = runOf(all, a.id)[0];
      return rootRun !== undefined && all.some((s) => s.spanId === rootRun.parentSpanId);
    };
    const spans = await poll(
      () => spansOf(receiver),
      (all) => [a, b, c].every((rule) => runOf(all, rule.id).length === 1) && all.some((s) => s.kind === SPAN_KIND_CLIENT) && operationArrived(all),
      10_000,
      'the spans of the cascade',
    );
    const runA = only(runOf(spans, a.id), 'run span of A');
    const runB = only(runOf(spans, b.id), 'run span of B');
    const runC = only(runOf(spans, c.id), 'run span of C');
    const actionA = only(childrenOf(spans, runA, 'cepheus.action'), 'action span of A');
    const actionB = only(childrenOf(spans, runB, 'cepheus.action'), 'action span of B');
    const actionC = only(childrenOf(spans, runC, 'cepheus.action'), 'action span of C');

    // One trace, from the GraphQL operation down to the webhook call.
    const trace = runA.traceId;
    for (const span of [runB, runC, actionA, actionB, actionC]) expect(span.traceId).toBe(trace);
    const operation = only(
      spans.filter((s) => s.spanId === runA.parentSpanId),
      'parent of the root run',
    );
    expect(operation).toMatchObject({ traceId: trace, kind: SPAN_KIND_SERVER, parentSpanId: '' });
    expect(operation.name).toMatch(/^mutation\./);

    // Each child rule's run under its parent's action; a condition span under every run.
    expect(runB.parentSpanId).toBe(actionA.spanId);
    expect(runC.parentSpanId).toBe(actionB.spanId);
    for (const run of [runA, runB, runC]) expect(childrenOf(spans, run, 'cepheus.condition').map((s) => s.attributes['cepheus.condition.met'])).toEqual([true]);
    expect(actionA.attributes).toMatchObject({ 'cepheus.action.type': 'trigger_rule', 'cepheus.action.status': 'SUCCESS' });
    expect(actionC.attributes).toMatchObject({ 'cepheus.action.type': 'webhook', 'cepheus.action.status': 'SUCCESS' });
    expect(runA.attributes).toMatchObject({
      'cepheus.execution.id': root.id,
      'cepheus.cascade.id': root.id,
      'cepheus.execution.depth': 0,
      'cepheus.execution.status': 'SUCCESS',
    });
    expect(runC.attributes).toMatchObject({
      'cepheus.rule.name': `C ${tag}`,
      'cepheus.cascade.id': root.id,
      'cepheus.execution.depth': 2,
      'cepheus.executed_by': 'cascade',
    });

    // The webhook call: an HTTP client span under C's action, whose context the receiver got.
    const call = only(childrenOf(spans, actionC), 'webhook call span');
    expect(call).toMatchObject({ name: 'POST', kind: SPAN_KIND_CLIENT });
    expect(call.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.full': `${sink.url}/hook`, 'http.response.status_code': 200 });
    expect(delivered!.headers.traceparent).toBe(`00-${trace}-${call.spanId}-01`);
    expect(spans.every((s) => s.service === 'cepheus')).toBe(true);
  });

  it('each event of POST /events is a trace of its own; spans still waiting are sent when the app stops', async () => {
    // A delay far past the test: the spans can only arrive with the flush of app.stop().
    const t = await tracedApp(600_000);
    const tag = randomUUID();
    const rule = await createRule(t, {
      triggerSpec: { field: 'kind', op: '==', value: tag, concurrency: { mode: 'parallel' } },
      actionSpec: { type: 'webhook', method: 'POST', endpoint: `${sink.url}/event-hook` },
    });
    const response = await fetch(`${t.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { kind: tag, n: 1 },
        { kind: tag, n: 2 },
      ]),
    });
    expect(await response.json()).toMatchObject({ accepted: 2, matched: 2 });
    const delivered = await sink.waitForRequests(2, '/event-hook');
    await poll(
      () => t.gql(`query($id: ID!) { executions(ruleId: $id, status: SUCCESS, first: 0) { totalCount } }`, { id: rule.id }),
      (r) => r.data?.executions.totalCount === 2,
      10_000,
      'both runs finished',
    );
    await t.stop();
    app = undefined;

    const spans = spansOf(receiver);
    const events = spans.filter((s) => s.name === 'cepheus.event');
    expect(events).toHaveLength(2);
    expect(new Set(events.map((e) => e.traceId)).size).toBe(2);
    for (const event of events) {
      expect(event.parentSpanId).toBe('');
      expect(event.attributes['cepheus.event.matched']).toBe(1);
      const run = only(childrenOf(spans, event, 'cepheus.run'), 'run span of the event');
      expect(run.attributes).toMatchObject({ 'cepheus.rule.id': rule.id, 'cepheus.executed_by': 'event', 'cepheus.execution.status': 'SUCCESS' });
      const action = only(childrenOf(spans, run, 'cepheus.action'), 'action span');
      const call = only(childrenOf(spans, action), 'webhook call span');
      const received = delivered.filter((r) => r.headers.traceparent === `00-${event.traceId}-${call.spanId}-01`);
      expect(received, 'the webhook request carrying this trace').toHaveLength(1);
    }
  });

  it('without an endpoint nothing is traced: no traceparent is sent, nothing reaches the receiver', async () => {
    app = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '127.0.0.1' });
    expect(app.app.config.tracing).toBeNull();
    const tag = randomUUID();
    const c = await createRule(app, { triggerSpec: { field: 'kind', op: '==', value: tag }, actionSpec: { type: 'webhook', endpoint: `${sink.url}/hook` } });
    const a = await createRule(app, { triggerSpec: { field: 'kind', op: '==', value: tag }, actionSpec: { type: 'trigger_rule', rule_id: c.id } });
    expect((await trigger(app, a.id, { kind: tag }, { wait: true })).status).toBe('SUCCESS');
    const [delivered] = await sink.waitForRequests(1, '/hook');
    expect(delivered!.headers).not.toHaveProperty('traceparent');
    expect(delivered!.headers).not.toHaveProperty('tracestate');
    await app.stop();
    app = undefined;
    expect(receiver.requests).toEqual([]);
  });
});
