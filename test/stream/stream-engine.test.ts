import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, ok, startApp, startFreshApp, type TestApp, type TestDatabase, refusal } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { ManualClock } from '../support/clock.js';
import { poll } from '../support/wait.js';
import { EXECUTION_FIELDS, createRule, getExecution, trigger, updateRule, waitFinished, type ExecutionData, type FreshApp } from '../support/rules.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * The stream engine end to end on a real server and database (SPEC.md "Throttling, concurrency
 * and counters", "Running, locks and cascades", "publishEvent", "Windows, sequences, absence"):
 * throttle and Rule.stats, queue and parallel concurrency, rule changes reaching the matcher,
 * stream rules fed by publishEvent, POST /events and publishEvents. The stream processors, the
 * matcher and the scheduler have their own unit suites (test/stream, test/events/matcher.test.ts,
 * test/jobs/scheduledRules.test.ts).
 *
 * Every rule here matches only events carrying its own random `tag`, so the rules of one test
 * never see the events of another on the shared app.
 */

const PUBLISH = `mutation($event: JSON!, $source: String) { publishEvent(event: $event, source: $source) { eventId matched executions { ${EXECUTION_FIELDS} } } }`;
const PUBLISH_MANY = `mutation($events: [JSON!]!, $source: String) { publishEvents(events: $events, source: $source) { accepted matched refused { index reason } } }`;
const STATS = `query($id: ID!) { rule(id: $id) { stats { matched ran held failed } } }`;
const RULE_EXECUTIONS = `query($id: ID!) { executions(ruleId: $id, first: 100) { totalCount edges { node { ${EXECUTION_FIELDS} } } } }`;

interface Published {
  eventId: string;
  matched: number;
  executions: ExecutionData[];
}

const tagOf = () => `t-${randomUUID()}`;
const tagged = (tag: string) => ({ field: 'tag', op: '==', value: tag });

async function publish(app: TestApp, event: unknown, source?: string): Promise<Published> {
  return ok(await app.gql(PUBLISH, { event, source })).publishEvent;
}

async function publishMany(app: TestApp, events: unknown[], source?: string) {
  return ok(await app.gql(PUBLISH_MANY, { events, source })).publishEvents as {
    accepted: number;
    matched: number;
    refused: { index: number; reason: string }[];
  };
}

async function statsOf(app: TestApp, id: string) {
  return ok(await app.gql(STATS, { id })).rule.stats as { matched: number; ran: number; held: number; failed: number };
}

/** Every execution of a rule, oldest first. */
async function executionsOf(app: TestApp, id: string): Promise<ExecutionData[]> {
  const data = ok(await app.gql(RULE_EXECUTIONS, { id })).executions;
  return (data.edges as { node: ExecutionData }[]).map((e) => e.node).reverse();
}

/** POST /events with a raw body. */
async function postEvents(app: TestApp, body: string, contentType: string, query = '') {
  const response = await fetch(`${app.base}/events${query}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

describe.each(backends())('stream engine (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink();
    t = await startFreshApp(backend);
  });

  afterAll(async () => {
    await t?.stop();
    await sink?.close();
  });

  describe('throttle and Rule.stats', () => {
    // The cooldowns and the Rule.stats flush run on this app's clock, which the tests move. The
    // other tests stay on the system clock: a frozen one gives their rows equal startedAt values.
    const clock = new ManualClock();
    let clocked: FreshApp;

    beforeAll(async () => {
      clocked = await startFreshApp(backend, {}, { clock });
    });

    afterAll(async () => {
      await clocked?.stop();
    });

    it('holds a key during its cooldown, lets other keys through, releases after it; triggerRule is never throttled', async () => {
      const tag = tagOf();
      // parallel: the lock of skip mode would turn a quick second match into a SKIPPED row and blur what the throttle does.
      const rule = await createRule(clocked, {
        triggerSpec: { ...tagged(tag), throttle: { cooldownSeconds: 1, key: ['host'] }, concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });

      const first = await publish(clocked, { tag, host: 'a' });
      expect(first.matched).toBe(1);
      expect(first.executions).toHaveLength(1);
      const held = await publish(clocked, { tag, host: 'a' });
      expect(held).toMatchObject({ matched: 0, executions: [] });
      const other = await publish(clocked, { tag, host: 'b' });
      expect(other.matched).toBe(1);
      expect(other.executions).toHaveLength(1);

      for (const e of [...first.executions, ...other.executions]) expect((await waitFinished(clocked, e.id)).status).toBe('SUCCESS');
      // A held match leaves no row.
      expect(await executionsOf(clocked, rule.id)).toHaveLength(2);
      // Counts are read with this instance's unflushed ones: exact at once.
      expect(await statsOf(clocked, rule.id)).toEqual({ matched: 3, ran: 2, held: 1, failed: 0 });

      // The cooldown was reserved no later than the first row was written: 1 s after that it is over.
      const wait = new Date(first.executions[0]!.startedAt).getTime() + 1100 - clock.now().getTime();
      if (wait > 0) clock.advance(wait);
      const again = await publish(clocked, { tag, host: 'a' });
      expect(again.matched).toBe(1);
      expect(again.executions).toHaveLength(1);
      expect((await waitFinished(clocked, again.executions[0]!.id)).status).toBe('SUCCESS');

      // Within the new cooldown of host a, triggerRule still runs...
      const manual = await trigger(clocked, rule.id, { tag, host: 'a' });
      expect(manual).toMatchObject({ status: 'SUCCESS', conditionMet: true, executedBy: 'manual' });
      // ...and an event of host a is still held.
      expect(await publish(clocked, { tag, host: 'a' })).toMatchObject({ matched: 0, executions: [] });

      expect(await executionsOf(clocked, rule.id)).toHaveLength(4);
      expect(await statsOf(clocked, rule.id)).toEqual({ matched: 5, ran: 4, held: 2, failed: 0 });
      // Still exact once the counters have been flushed (every 2 s) to the database.
      clock.advance(2200);
      expect(await statsOf(clocked, rule.id)).toEqual({ matched: 5, ran: 4, held: 2, failed: 0 });
    });

    it('counts failed runs', async () => {
      const tag = tagOf();
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/fail` },
      });
      const published = await publish(t, { tag });
      expect(published.matched).toBe(1);
      expect((await waitFinished(t, published.executions[0]!.id)).status).toBe('FAILED');
      expect(await statsOf(t, rule.id)).toEqual({ matched: 1, ran: 1, held: 0, failed: 1 });
    });
  });

  describe('concurrency', () => {
    it('queue: runs every queued match first in, first out, refuses past maxQueued, and triggerRule still skips', async () => {
      const tag = tagOf();
      const path = `/queue-${randomUUID()}`;
      sink.route(path, { status: 200, body: { ok: true }, delayMs: 400 });
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'queue', maxQueued: 2 } },
        actionSpec: { type: 'webhook', method: 'POST', endpoint: `${sink.url}${path}`, body: { seq: '{{payload.seq}}' } },
      });

      const result = await publishMany(
        t,
        [1, 2, 3, 4].map((seq) => ({ tag, seq })),
      );
      expect(result).toEqual({ accepted: 4, matched: 4, refused: [] });

      const rows = await executionsOf(t, rule.id);
      const bySeq = new Map(rows.map((e) => [e.payload.seq as number, e]));
      expect(rows).toHaveLength(4);
      expect(bySeq.get(1)).toMatchObject({ status: 'RUNNING', executedBy: 'event' });
      expect(bySeq.get(2)).toMatchObject({ status: 'QUEUED' });
      expect(bySeq.get(3)).toMatchObject({ status: 'QUEUED' });
      expect(bySeq.get(4)).toMatchObject({ status: 'SKIPPED', skipReason: 'QUEUE_FULL', durationMs: 0, conditionMet: false });

      // triggerRule on the busy rule is skipped, not queued.
      const manual = await trigger(t, rule.id, { tag, seq: 99 }, { wait: false });
      expect(manual).toMatchObject({ status: 'SKIPPED', skipReason: 'RULE_ALREADY_RUNNING' });

      for (const seq of [1, 2, 3]) {
        const done = await waitFinished(t, bySeq.get(seq)!.id);
        expect(done).toMatchObject({ status: 'SUCCESS', conditionMet: true });
      }
      const received = await sink.waitForRequests(3, path);
      expect(received.map((r) => (r.json as { seq: number }).seq)).toEqual([1, 2, 3]);
      // One at a time: each run started once the one before it had finished.
      const finished = await Promise.all([1, 2, 3].map((seq) => getExecution(t, bySeq.get(seq)!.id)));
      for (let i = 1; i < finished.length; i++) {
        expect(new Date(finished[i]!.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(finished[i - 1]!.finishedAt!).getTime());
      }
      expect((await executionsOf(t, rule.id)).filter((e) => e.status === 'QUEUED' || e.status === 'RUNNING')).toEqual([]);
    });

    it('queue: a run waiting when its rule is deleted fails with RULE_NOT_FOUND and frees the queue', async () => {
      const tag = tagOf();
      const path = `/queue-deleted-${randomUUID()}`;
      sink.route(path, { status: 200, body: { ok: true }, delayMs: 400 });
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'queue', maxQueued: 5 } },
        actionSpec: { type: 'webhook', method: 'POST', endpoint: `${sink.url}${path}`, body: { seq: '{{payload.seq}}' } },
      });
      expect(
        await publishMany(
          t,
          [1, 2, 3].map((seq) => ({ tag, seq })),
        ),
      ).toMatchObject({ matched: 3 });
      const rows = await executionsOf(t, rule.id);
      const bySeq = new Map(rows.map((e) => [e.payload.seq as number, e]));
      expect(bySeq.get(2)).toMatchObject({ status: 'QUEUED' });
      ok(await t.gql('mutation($id: ID!) { deleteRule(id: $id) }', { id: rule.id }));

      expect(await waitFinished(t, bySeq.get(1)!.id)).toMatchObject({ status: 'SUCCESS' });
      for (const seq of [2, 3]) {
        expect(await waitFinished(t, bySeq.get(seq)!.id)).toMatchObject({ status: 'FAILED', error: { code: 'RULE_NOT_FOUND' } });
      }
    });

    it('parallel: overlapping runs of one rule', async () => {
      const tag = tagOf();
      const path = `/parallel-${randomUUID()}`;
      sink.route(path, { status: 200, body: { ok: true }, delayMs: 500 });
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}${path}` },
      });
      const a = await publish(t, { tag, n: 1 });
      const b = await publish(t, { tag, n: 2 });
      expect(a.executions[0]!.status).toBe('RUNNING');
      expect(b.executions[0]!.status).toBe('RUNNING');
      const [x, y] = await Promise.all([waitFinished(t, a.executions[0]!.id), waitFinished(t, b.executions[0]!.id)]);
      expect([x.status, y.status]).toEqual(['SUCCESS', 'SUCCESS']);
      // The second started before the first finished.
      expect(new Date(y.startedAt).getTime()).toBeLessThan(new Date(x.finishedAt!).getTime());
      expect(new Date(x.startedAt).getTime()).toBeLessThan(new Date(y.finishedAt!).getTime());
      expect(await statsOf(t, rule.id)).toEqual({ matched: 2, ran: 2, held: 0, failed: 0 });
    });

    it('parallel: A -> B -> A still ends with the second A skipped', async () => {
      const tag = tagOf();
      const b = await createRule(t, { triggerSpec: tagged(tag), actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } });
      const a = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'trigger_rule', rule_id: b.id },
      });
      ok(
        await t.gql(`mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`, {
          id: b.id,
          input: { actionSpec: { type: 'trigger_rule', rule_id: a.id } },
        }),
      );

      const root = await trigger(t, a.id, { tag });
      expect(root).toMatchObject({ ruleId: a.id, status: 'SUCCESS', depth: 0 });
      const tree = await getExecution(t, root.id, 'children { id ruleId status depth skipReason children { id ruleId status depth skipReason conditionMet } }');
      const child = tree!.children![0]!;
      expect(child).toMatchObject({ ruleId: b.id, status: 'SUCCESS', depth: 1 });
      expect(child.children).toEqual([
        expect.objectContaining({ ruleId: a.id, status: 'SKIPPED', skipReason: 'RULE_ALREADY_RUNNING', depth: 2, conditionMet: false }),
      ]);
    });
  });

  describe('rule changes and the matcher', () => {
    it('sees create, update, deactivate and delete at once, without restart', async () => {
      const tag = tagOf();
      const cond = (v: number) => ({ conditions: [tagged(tag), { field: 'v', op: '==', value: v }] });
      const rule = await createRule(t, { triggerSpec: cond(1), actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } });
      const first = await publish(t, { tag, v: 1 });
      expect(first.matched).toBe(1);
      expect(first.executions[0]!.ruleId).toBe(rule.id);
      await waitFinished(t, first.executions[0]!.id);

      await updateRule(t, rule.id, { triggerSpec: cond(2) });
      expect((await publish(t, { tag, v: 1 })).matched).toBe(0);
      const second = await publish(t, { tag, v: 2 });
      expect(second.matched).toBe(1);
      await waitFinished(t, second.executions[0]!.id);

      await updateRule(t, rule.id, { active: false });
      expect(await publish(t, { tag, v: 2 })).toMatchObject({ matched: 0, executions: [] });
      await updateRule(t, rule.id, { active: true });
      const third = await publish(t, { tag, v: 2 });
      expect(third.matched).toBe(1);
      await waitFinished(t, third.executions[0]!.id);

      expect(ok(await t.gql(`mutation($id: ID!) { deleteRule(id: $id) }`, { id: rule.id })).deleteRule).toBe(rule.id);
      expect(await publish(t, { tag, v: 2 })).toMatchObject({ matched: 0, executions: [] });
    });
  });

  describe('stream rules through publishEvent', () => {
    it('a sliding count window fires on the Nth event of a group, edge-triggered', async () => {
      const tag = tagOf();
      const rule = await createRule(t, {
        triggerSpec: { filter: tagged(tag), window: { type: 'sliding', sizeSeconds: 60 }, aggregate: { fn: 'count' }, groupBy: ['host'], op: '>=', value: 3 },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });
      expect((await publish(t, { tag, host: 'a' })).matched).toBe(0);
      expect((await publish(t, { tag, host: 'a' })).matched).toBe(0);
      // Another group does not add to a's count.
      expect((await publish(t, { tag, host: 'b' })).matched).toBe(0);
      const fired = await publish(t, { tag, host: 'a' });
      expect(fired.matched).toBe(1);
      expect(fired.executions).toHaveLength(1);
      const run = await waitFinished(t, fired.executions[0]!.id);
      expect(run).toMatchObject({ ruleId: rule.id, status: 'SUCCESS', conditionMet: true, executedBy: 'event' });
      expect(run.payload).toEqual({ group: { host: 'a' }, value: 3, count: 3, windowStart: expect.any(String), windowEnd: expect.any(String) });
      expect(new Date(run.payload.windowEnd).getTime() - new Date(run.payload.windowStart).getTime()).toBeLessThanOrEqual(60_000);
      expect(run.references.trigger.window).toMatchObject({ group: { host: 'a' }, value: 3, count: 3 });
      expect(run.references.event).toEqual({ eventId: fired.eventId, source: null });
      // Still over the threshold: no second firing until it has turned false.
      expect((await publish(t, { tag, host: 'a' })).matched).toBe(0);
      expect(await executionsOf(t, rule.id)).toHaveLength(1);
    });

    it('a sequence fires on step order for the same key and consumes its events', async () => {
      const tag = tagOf();
      const step = (name: string) => ({ conditions: [tagged(tag), { field: 'step', op: '==', value: name }] });
      const rule = await createRule(t, {
        triggerSpec: { sequence: [step('login'), step('pay')], within: 60, by: ['user'] },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });
      expect((await publish(t, { tag, user: 'u1', step: 'pay' })).matched).toBe(0);
      expect((await publish(t, { tag, user: 'u1', step: 'login' })).matched).toBe(0);
      // Another key's step does not complete u1's sequence.
      expect((await publish(t, { tag, user: 'u2', step: 'pay' })).matched).toBe(0);
      const fired = await publish(t, { tag, user: 'u1', step: 'pay', n: 4 });
      expect(fired.matched).toBe(1);
      const run = await waitFinished(t, fired.executions[0]!.id);
      expect(run).toMatchObject({ ruleId: rule.id, status: 'SUCCESS' });
      expect(run.payload.key).toEqual({ user: 'u1' });
      expect(run.payload.events).toHaveLength(2);
      expect(run.payload.events[0]).toMatchObject({ step: 'login', user: 'u1' });
      expect(run.payload.events[1]).toMatchObject({ step: 'pay', user: 'u1', n: 4 });
      expect(run.references.trigger.sequence).toMatchObject({ key: { user: 'u1' } });
      // The match consumed the login: another pay does not fire.
      expect((await publish(t, { tag, user: 'u1', step: 'pay' })).matched).toBe(0);
    });

    it('publishEvent.matched counts a stream rule once per event however many windows it closes', async () => {
      const tag = tagOf();
      const rule = await createRule(t, {
        triggerSpec: {
          filter: tagged(tag),
          window: { type: 'tumbling', sizeSeconds: 60 },
          aggregate: { fn: 'count' },
          groupBy: ['host'],
          op: '>=',
          value: 1,
          timeField: 'ts',
        },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });
      expect((await publish(t, { tag, host: 'a', ts: 1_000 })).matched).toBe(0);
      expect((await publish(t, { tag, host: 'b', ts: 2_000 })).matched).toBe(0);
      // Event time jumps past both windows' end: both close on this event.
      const closing = await publish(t, { tag, host: 'c', ts: 200_000 });
      expect(closing.matched).toBe(1);
      expect(closing.executions).toHaveLength(2);
      const runs = await Promise.all(closing.executions.map((e) => waitFinished(t, e.id)));
      expect(runs.map((r) => r.payload.group.host).sort()).toEqual(['a', 'b']);
      for (const r of runs)
        expect(r.payload).toMatchObject({ value: 1, count: 1, windowStart: '1970-01-01T00:00:00.000Z', windowEnd: '1970-01-01T00:01:00.000Z' });
      expect((await statsOf(t, rule.id)).matched).toBe(2);
    });
  });

  describe('POST /events', () => {
    it('NDJSON: a malformed line is refused alone; matched events leave rows with the source', async () => {
      const tag = tagOf();
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });
      const body = `${[JSON.stringify({ tag, n: 1 }), '{"tag": oops', '', JSON.stringify({ tag, n: 2 }), JSON.stringify({ other: true }), '[1, 2]'].join('\n')}\n`;
      const res = await postEvents(t, body, 'application/x-ndjson', '?source=ndjson-test');
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ accepted: 3, matched: 2 });
      expect(res.json.refused).toHaveLength(2);
      expect(res.json.refused[0]).toMatchObject({ index: 1, reason: expect.any(String) });
      expect(res.json.refused[1]).toMatchObject({ index: 4, reason: expect.any(String) });

      const rows = await poll(
        () => executionsOf(t, rule.id),
        (r) => r.length === 2 && r.every((e) => e.finishedAt !== null),
      );
      expect(rows.map((e) => e.payload.n).sort()).toEqual([1, 2]);
      for (const e of rows) {
        expect(e).toMatchObject({ executedBy: 'event', status: 'SUCCESS' });
        expect(e.references.event).toMatchObject({ source: 'ndjson-test', eventId: expect.any(String) });
      }
      expect(rows[0]!.references.event.eventId).not.toBe(rows[1]!.references.event.eventId);
    });

    it('a JSON array; 400 when nothing parses; 413 past 10,000 events; 405 for GET', async () => {
      const tag = tagOf();
      const rule = await createRule(t, { triggerSpec: tagged(tag), actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } });
      const res = await postEvents(t, JSON.stringify([{ tag, n: 1 }, 'not an object', { nothing: 1 }]), 'application/json', '?source=array-test');
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({ accepted: 2, matched: 1, refused: [{ index: 1, reason: expect.any(String) }] });
      const [row] = await poll(
        () => executionsOf(t, rule.id),
        (r) => r.length === 1,
      );
      expect(row!.references.event.source).toBe('array-test');
      expect(row!.executedBy).toBe('event');

      expect((await postEvents(t, '[{"tag": ', 'application/json')).status).toBe(400);
      const noneParse = await postEvents(t, '{nope\n{"also": nope}\n', 'application/x-ndjson');
      expect(noneParse.status).toBe(400);

      const tooMany = Array.from({ length: 10_001 }, () => JSON.stringify({ tag })).join('\n');
      expect((await postEvents(t, tooMany, 'application/x-ndjson')).status).toBe(413);
      const tooManyArray = JSON.stringify(Array.from({ length: 10_001 }, () => ({ tag })));
      expect((await postEvents(t, tooManyArray, 'application/json')).status).toBe(413);
      // Refused whole: nothing ran.
      expect(await executionsOf(t, rule.id)).toHaveLength(1);

      const get = await fetch(`${t.base}/events`);
      expect(get.status).toBe(405);
      await get.text();
    });

    it('415 for any content type but application/json and application/x-ndjson; nothing published', async () => {
      const tag = tagOf();
      const rule = await createRule(t, { triggerSpec: tagged(tag), actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` } });
      for (const type of ['text/plain', 'application/jsonl', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
        const response = await postEvents(t, JSON.stringify([{ tag }]), type);
        expect(response.status, type).toBe(415);
        expect(response.json.error).toMatch(/application\/json/);
      }
      expect(await executionsOf(t, rule.id)).toEqual([]);
      const charset = await postEvents(t, JSON.stringify({ other: 1 }), 'Application/JSON; charset=utf-8');
      expect(charset.status).toBe(200);
    });

    it('413 over EVENTS_MAX_BYTES', async () => {
      const small = await startFreshApp(backend, { EVENTS_MAX_BYTES: '2048' });
      try {
        const ok200 = await postEvents(small, JSON.stringify([{ a: 1 }]), 'application/json');
        expect(ok200.status).toBe(200);
        expect(ok200.json).toEqual({ accepted: 1, matched: 0, refused: [] });
        const big = JSON.stringify([{ pad: 'x'.repeat(3000) }]);
        const tooBig = await postEvents(small, big, 'application/json');
        expect(tooBig.status).toBe(413);
        expect(tooBig.json).toMatchObject({ error: expect.any(String), errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
        const bigLines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i, pad: 'y'.repeat(30) })).join('\n');
        expect((await postEvents(small, bigLines, 'application/x-ndjson')).status).toBe(413);
      } finally {
        await small.stop();
      }
    });
  });

  describe('GraphQL publishEvents', () => {
    it('accepted, matched and refused; more than 10,000 events is BAD_USER_INPUT', async () => {
      const tag = tagOf();
      const rule = await createRule(t, {
        triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
        actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
      });
      const result = await publishMany(t, [{ tag, n: 1 }, { tag, n: 2 }, 'nope', { other: 1 }, { tag, n: 3 }], 'batch-test');
      expect(result.accepted).toBe(4);
      expect(result.matched).toBe(3);
      expect(result.refused).toEqual([{ index: 2, reason: expect.any(String) }]);
      const rows = await poll(
        () => executionsOf(t, rule.id),
        (r) => r.length === 3,
      );
      expect(rows.map((e) => e.payload.n).sort()).toEqual([1, 2, 3]);
      for (const e of rows) expect(e.references.event.source).toBe('batch-test');

      const tooMany = await t.gql(PUBLISH_MANY, { events: Array.from({ length: 10_001 }, () => ({ tag })) });
      refusal(tooMany, 'BAD_USER_INPUT');
      expect(await executionsOf(t, rule.id)).toHaveLength(3);
    });
  });
});

// Real PostgreSQL only: PGlite lives inside one process and cannot be shared by two instances, and
// the change reaches the other instance through LISTEN/NOTIFY (or Redis), not through memory.
describeUnless(withoutPostgres(), 'a rule change reaches a second instance (PostgreSQL; needs DATABASE_URL)', () => {
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let sink: Sink;

  beforeAll(async () => {
    sink = await startSink();
    database = await createTestDatabase('postgres');
    a = await startApp(database);
    b = await startApp(database);
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await database?.drop();
    await sink?.close();
  });

  it('B matches a rule created on A, and stops once A switches it off', async () => {
    const tag = tagOf();
    // B has loaded its rule set before the rule exists, so only the change message can bring it.
    expect((await publish(b, { tag })).matched).toBe(0);
    const rule = await createRule(a, {
      triggerSpec: { ...tagged(tag), concurrency: { mode: 'parallel' } },
      actionSpec: { type: 'webhook', endpoint: `${sink.url}/json` },
    });
    // A generous deadline: the latency itself belongs in the benchmark.
    const seen = await poll(
      () => publish(b, { tag }),
      (p) => p.matched === 1,
      15_000,
    );
    expect(seen.executions[0]!.ruleId).toBe(rule.id);

    await updateRule(a, rule.id, { active: false });
    await poll(
      () => publish(b, { tag }),
      (p) => p.matched === 0,
      15_000,
    );
    // And it stays off.
    expect((await publish(b, { tag })).matched).toBe(0);
    expect((await publish(a, { tag })).matched).toBe(0);
  });
});
