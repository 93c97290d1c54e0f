/**
 * POST /events and publishEvents answer for every event (SPEC.md, 'Limits'): an event whose run
 * the database refuses, one nested too deep and one holding a number out of range are each
 * refused alone with their index and a reason; the others run, and the answer is a 200 that
 * says so, never a 500 after some of the request has run.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poll } from '../support/wait.js';
import { createRule } from '../support/rules.js';
import { backends, ok, startFreshApp } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';

type App = Awaited<ReturnType<typeof startFreshApp>>;

const PUBLISH_MANY = `mutation($events: [JSON!]!) { publishEvents(events: $events) { accepted matched refused { index reason } } }`;

/** `{"a":{"a":...1}}`, `levels` objects deep, as text (JSON.stringify itself would overflow on deep ones). */
const nestedText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

async function postEvents(app: App, body: string, contentType: string) {
  const response = await fetch(`${app.base}/events`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) };
}

async function payloadsOf(app: App, ruleId: string): Promise<{ n: number }[]> {
  const data = ok(await app.gql(`query($id: ID!) { executions(ruleId: $id, first: 100) { edges { node { payload } } } }`, { id: ruleId }));
  return data.executions.edges.map((e: { node: { payload: { n: number } } }) => e.node.payload);
}

const ns = (payloads: { n: number }[]) => payloads.map((p) => p.n).sort((a, b) => a - b);

describe.each(backends())('events answered one by one (%s)', (backend) => {
  let app: App;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink();
    app = await startFreshApp(backend);
    // A real refusal by the database for one event's row: any payload carrying `boom`.
    await app.app.database.sql.query(`ALTER TABLE executions ADD CONSTRAINT test_no_boom CHECK (payload->>'boom' IS NULL)`);
  });

  afterAll(async () => {
    await app?.stop();
    await sink?.close();
  });

  async function taggedRule() {
    const tag = randomUUID();
    const rule = await createRule(app, {
      triggerSpec: { conditions: [{ field: 'tag', op: '==', value: tag }], concurrency: { mode: 'parallel' } },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
    });
    return { tag, rule };
  }

  it('POST /events: an event the database refuses is refused alone; the others run, and the answer is 200', async () => {
    const { tag, rule } = await taggedRule();
    const body = JSON.stringify([
      { tag, n: 0 },
      { tag, n: 1, boom: true },
      { tag, n: 2 },
    ]);
    const res = await postEvents(app, body, 'application/json');
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ accepted: 2, matched: 2, refused: [{ index: 1, reason: expect.stringContaining('internal error') }] });
    expect(res.json.refused[0].reason).toContain(rule.id);
    expect(res.json.refused[0].reason).toContain('nothing of it ran');
    expect(res.json.refused[0].reason).not.toMatch(/test_no_boom|INSERT|violates/i);
    expect(
      ns(
        await poll(
          () => payloadsOf(app, rule.id),
          (p) => p.length >= 2,
        ),
      ),
    ).toEqual([0, 2]);
  });

  it('publishEvents: the same, as a GraphQL answer without errors', async () => {
    const { tag, rule } = await taggedRule();
    const res = await app.gql(PUBLISH_MANY, {
      events: [
        { tag, n: 0, boom: 1 },
        { tag, n: 1 },
        { tag, n: 2, boom: 2 },
      ],
    });
    expect(ok(res).publishEvents).toEqual({
      accepted: 1,
      matched: 1,
      refused: [
        { index: 0, reason: expect.stringContaining('internal error') },
        { index: 2, reason: expect.stringContaining('internal error') },
      ],
    });
    expect(
      ns(
        await poll(
          () => payloadsOf(app, rule.id),
          (p) => p.length >= 1,
        ),
      ),
    ).toEqual([1]);
  });

  it('an event that ran for one rule and failed for another says which rule ran', async () => {
    const { tag, rule: first } = await taggedRule();
    // A second rule on the same tag whose rows the database refuses (by the rule's name).
    const second = await createRule(app, {
      name: `boom ${randomUUID().slice(0, 8)}`,
      triggerSpec: { conditions: [{ field: 'tag', op: '==', value: tag }], concurrency: { mode: 'parallel' } },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
    });
    await app.app.database.sql.query(`ALTER TABLE executions ADD CONSTRAINT test_no_boom_rule CHECK (rule_name NOT LIKE 'boom %')`);
    try {
      const res = await postEvents(app, JSON.stringify([{ tag, n: 0 }]), 'application/json');
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ accepted: 0, matched: 0, refused: [{ index: 0 }] });
      const reason: string = res.json.refused[0].reason;
      expect(reason).toMatch(
        new RegExp(`runs of "${second.name}" \\(${second.id}\\) could not be started; runs of "${first.name}" \\(${first.id}\\) did start`),
      );
      expect(
        ns(
          await poll(
            () => payloadsOf(app, first.id),
            (p) => p.length >= 1,
          ),
        ),
      ).toEqual([0]);
      expect(await payloadsOf(app, second.id)).toEqual([]);
    } finally {
      await app.app.database.sql.query(`ALTER TABLE executions DROP CONSTRAINT test_no_boom_rule`);
    }
  });

  it('NDJSON and JSON arrays: an event nested deeper than 64 levels or holding 1e400 is refused with where', async () => {
    const { tag, rule } = await taggedRule();
    const deep = nestedText(65).replace('{', `{"tag":"${tag}","n":9,`);
    const veryDeep = nestedText(100_000);
    const atLimit = nestedText(64).replace('{', `{"tag":"${tag}","n":1,`);
    const lines = [JSON.stringify({ tag, n: 0 }), deep, `{"tag":"${tag}","n":3,"x":[1,-1e400]}`, veryDeep, atLimit].join('\n');
    const res = await postEvents(app, lines, 'application/x-ndjson');
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ accepted: 2, matched: 2 });
    expect(res.json.refused).toEqual([
      { index: 1, reason: `event${'.a'.repeat(64)}: nested deeper than 64 levels` },
      { index: 2, reason: 'event.x[1]: a number out of the double range (not finite)' },
      { index: 3, reason: `event${'.a'.repeat(64)}: nested deeper than 64 levels` },
    ]);

    const array = await postEvents(app, `[${veryDeep},{"tag":"${tag}","n":2},{"tag":"${tag}","n":5,"v":1e400}]`, 'application/json');
    expect(array.status, array.text).toBe(200);
    expect(array.json).toMatchObject({
      accepted: 1,
      matched: 1,
      refused: [{ index: 0 }, { index: 2, reason: 'event.v: a number out of the double range (not finite)' }],
    });
    expect(
      ns(
        await poll(
          () => payloadsOf(app, rule.id),
          (p) => p.length >= 3,
        ),
      ),
    ).toEqual([0, 1, 2]);
  });

  it('publishEvents refuses a deep or infinite event alone (the request text holds 1e400 and 70,000 levels)', async () => {
    const { tag, rule } = await taggedRule();
    const text = `{"query":${JSON.stringify(PUBLISH_MANY)},"variables":{"events":[{"tag":"${tag}","n":0,"v":1e400},${nestedText(70_000)},{"tag":"${tag}","n":2}]}}`;
    const response = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.publishEvents).toEqual({
      accepted: 1,
      matched: 1,
      refused: [
        { index: 0, reason: 'event.v: a number out of the double range (not finite)' },
        { index: 1, reason: `event${'.a'.repeat(64)}: nested deeper than 64 levels` },
      ],
    });
    expect(
      ns(
        await poll(
          () => payloadsOf(app, rule.id),
          (p) => p.length >= 1,
        ),
      ),
    ).toEqual([2]);
  });
});
