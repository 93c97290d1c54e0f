import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, ok, startFreshApp, type Backend, type TestApp } from '../support/harness.js';
import { startSink, type Sink } from '../support/sink.js';
import { collectSse, collectWs, subscribeSse, subscribeWs, wsClient, type LiveSubscription } from '../support/ws.js';
import { describeUnless } from '../support/skips.js';

/**
 * Live subscriptions against a real server, a real database and real local webhook sinks, seen
 * through a real graphql-ws client and over SSE (SPEC.md "Events of a cascade", "Action logs").
 */

/** The Redis of the Redis-bus suite: REDIS_URL as given (.ci/run sets it to a Redis it started). */
const REDIS_URL = process.env.REDIS_URL;
/** How long the last webhook of a chain takes, so that a subscriber can join while it runs. */
const SLOW_MS = 1500;

const EVENT_FIELDS = 'cascadeId seq at kind executionId ruleId ruleName depth status message';
const PROGRESS = `subscription($id: ID!) { cascadeProgress(cascadeId: $id) { ${EVENT_FIELDS} } }`;
const LOG_FIELDS = 'executionId cascadeId ruleId apiExecutionId seq at level message data';
const EXECUTION_FIELDS = 'id ruleId status conditionMet skipReason cascadeId parentId depth durationMs finishedAt error { code message }';

interface CascadeEvent {
  cascadeId: string;
  seq: number;
  kind: string;
  executionId: string;
  ruleId: string;
  depth: number;
  status: string | null;
}

interface LogLine {
  executionId: string;
  cascadeId: string | null;
  ruleId: string | null;
  seq: number;
  level: string;
  message: string;
}

interface ExecutionRow {
  id: string;
  ruleId: string;
  status: string;
  skipReason: string | null;
  cascadeId: string;
}

/** The kinds of a finished 3-rule chain A -> B -> C, each condition met (SPEC.md "Events of a cascade"). */
const CHAIN_KINDS = [
  ['RULE_STARTED', 0],
  ['CONDITION_EVALUATED', 0],
  ['ACTION_STARTED', 0],
  ['RULE_STARTED', 1],
  ['CONDITION_EVALUATED', 1],
  ['ACTION_STARTED', 1],
  ['RULE_STARTED', 2],
  ['CONDITION_EVALUATED', 2],
  ['ACTION_STARTED', 2],
  ['ACTION_FINISHED', 2],
  ['RULE_FINISHED', 2],
  ['ACTION_FINISHED', 1],
  ['RULE_FINISHED', 1],
  ['ACTION_FINISHED', 0],
  ['RULE_FINISHED', 0],
  ['CASCADE_FINISHED', 0],
] as const;

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** What every suite needs: an app, a sink, rules and chains. */
function fixture(backend: Backend, env: Record<string, string> = {}) {
  const state = {} as { app: TestApp; sink: Sink; probeCascade: string };
  let counter = 0;

  beforeAll(async () => {
    state.sink = await startSink();
    state.app = await startFreshApp(backend, { OUTBOUND_ALLOWLIST: '127.0.0.1', ...env });
    // A finished cascade, used to know that earlier subscriptions on a socket are in place.
    const probe = await createRule('probe', webhook('/json'));
    state.probeCascade = (await trigger(probe, true)).cascadeId;
  });
  afterAll(async () => {
    await state.app?.stop();
    await state.sink?.close();
  });

  const webhook = (path: string) => ({ type: 'webhook', endpoint: `${state.sink.url}${path}`, method: 'GET' });

  async function createRule(name: string, actionSpec: Record<string, unknown>): Promise<string> {
    const data = ok(
      await state.app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: { name: `${name} ${++counter}`, triggerSpec: { conditions: [] }, actionSpec },
      }),
    );
    return data.createRule.id as string;
  }

  async function trigger(ruleId: string, wait: boolean, app: TestApp = state.app): Promise<ExecutionRow> {
    const data = ok(
      await app.gql(`mutation($id: ID!, $wait: Boolean) { triggerRule(ruleId: $id, payload: { n: 1 }, wait: $wait) { ${EXECUTION_FIELDS} } }`, {
        id: ruleId,
        wait,
      }),
    );
    return data.triggerRule as ExecutionRow;
  }

  /** A sink path of its own that answers after SLOW_MS, so that its requests can be counted. */
  function slowPath(): string {
    const path = `/slow-${++counter}`;
    state.sink.route(path, { status: 200, body: { slow: true }, delayMs: SLOW_MS });
    return path;
  }

  /** A -> B -> C, where C's webhook (at `path`) answers after SLOW_MS unless told otherwise. */
  async function chain(path = slowPath()) {
    const c = await createRule('C', webhook(path));
    const b = await createRule('B', { type: 'trigger_rule', rule_id: c });
    const a = await createRule('A', { type: 'trigger_rule', rule_id: b });
    return { a, b, c, path };
  }

  async function storedEvents(cascadeId: string): Promise<{ status: string; events: CascadeEvent[] }> {
    const data = ok(await state.app.gql(`query($id: ID!) { cascade(id: $id) { status events { ${EVENT_FIELDS} } } }`, { id: cascadeId }));
    return data.cascade;
  }

  /**
   * Resolves once every subscription sent earlier on this socket is in place: the server takes a
   * socket's messages in order, and a replay of a finished cascade (database reads) ends after them.
   */
  async function settled(client: Client) {
    const outcome = await subscribeWs<CascadeEvent>(client, PROGRESS, { id: state.probeCascade }).done;
    expect(outcome.completed).toBe(true);
  }

  return { state, webhook, createRule, trigger, slowPath, chain, storedEvents, settled };
}

/** 1..N exactly once, in order, ending with CASCADE_FINISHED, the same as the stored events. */
function expectWholeCascade(events: CascadeEvent[], cascadeId: string, stored: CascadeEvent[], ids?: { a: string; b: string; c: string; path: string }) {
  expect(events.map((e) => e.seq)).toEqual(range(stored.length));
  expect(events.every((e) => e.cascadeId === cascadeId)).toBe(true);
  expect(events.map((e) => [e.seq, e.kind, e.executionId, e.status])).toEqual(stored.map((e) => [e.seq, e.kind, e.executionId, e.status]));
  expect(events.at(-1)?.kind).toBe('CASCADE_FINISHED');
  if (ids) {
    expect(events.map((e) => [e.kind, e.depth])).toEqual(CHAIN_KINDS.map(([kind, depth]) => [kind, depth]));
    const byDepth = [ids.a, ids.b, ids.c];
    for (const event of events) expect(event.ruleId).toBe(byDepth[event.depth]);
    expect(events.at(-1)).toMatchObject({ executionId: cascadeId, ruleId: ids.a, status: 'SUCCESS' });
  }
}

describe.each(backends())('subscriptions (%s)', (backend) => {
  const { state, webhook, createRule, trigger, slowPath, chain, storedEvents, settled } = fixture(backend);

  describe('cascadeProgress', () => {
    for (const transport of ['graphql-ws', 'SSE'] as const) {
      it(`joined mid-cascade and after it ended gives seq 1..N exactly once, then completes (${transport})`, async () => {
        const ids = await chain();
        const root = await trigger(ids.a, false);
        expect(root.status).toBe('RUNNING');
        const cascadeId = root.cascadeId;
        expect(cascadeId).toBe(root.id);
        // C's webhook is being called: the cascade is past its first events and not finished.
        await state.sink.waitForRequests(1, ids.path, 10_000);
        const subscribe = transport === 'graphql-ws' ? subscribeWs : subscribeSse;
        const live = subscribe<CascadeEvent>(state.app.url, PROGRESS, { id: cascadeId }, 20_000);
        await live.waitFor((events) => events.length > 0);
        // Joined while it ran: the replayed part arrived before the cascade finished.
        const during = await storedEvents(cascadeId);
        expect(during.status).toBe('RUNNING');
        expect(during.events.at(-1)?.kind).not.toBe('CASCADE_FINISHED');
        const outcome = await live.done;
        expect(outcome.errors).toEqual([]);
        expect(outcome.completed).toBe(true);
        const after = await storedEvents(cascadeId);
        expect(after.status).toBe('SUCCESS');
        expectWholeCascade(outcome.events, cascadeId, after.events, ids);

        // Joined after it ended: the same events, then complete.
        const collect = transport === 'graphql-ws' ? collectWs : collectSse;
        const late = await collect<CascadeEvent>(state.app.url, PROGRESS, { id: cascadeId });
        expect(late.errors).toEqual([]);
        expect(late.completed).toBe(true);
        expectWholeCascade(late.events, cascadeId, after.events, ids);
        expect(late.events).toEqual(outcome.events);
      });
    }

    it('joined by several subscribers at different moments, each gets 1..N once', async () => {
      const ids = await chain();
      const root = await trigger(ids.a, false);
      const early = subscribeWs<CascadeEvent>(state.app.url, PROGRESS, { id: root.cascadeId }, 20_000);
      await state.sink.waitForRequests(1, ids.path, 10_000);
      const middle = subscribeSse<CascadeEvent>(state.app.url, PROGRESS, { id: root.cascadeId }, 20_000);
      const [a, b] = await Promise.all([early.done, middle.done]);
      const stored = (await storedEvents(root.cascadeId)).events;
      for (const outcome of [a, b]) {
        expect(outcome.completed).toBe(true);
        expectWholeCascade(outcome.events, root.cascadeId, stored, ids);
      }
    });

    it('a cascade whose root was skipped gives RULE_SKIPPED and CASCADE_FINISHED, then completes', async () => {
      const slow = await createRule('slow', webhook(slowPath()));
      const first = await trigger(slow, false);
      const second = await trigger(slow, false);
      expect(second).toMatchObject({ status: 'SKIPPED', skipReason: 'RULE_ALREADY_RUNNING' });
      const outcome = await collectWs<CascadeEvent>(state.app.url, PROGRESS, { id: second.cascadeId });
      expect(outcome.completed).toBe(true);
      expect(outcome.events.map((e) => [e.seq, e.kind, e.status])).toEqual([
        [1, 'RULE_SKIPPED', 'SKIPPED'],
        [2, 'CASCADE_FINISHED', 'SKIPPED'],
      ]);
      const firstOutcome = await collectWs<CascadeEvent>(state.app.url, PROGRESS, { id: first.cascadeId }, 20_000);
      expect(firstOutcome.events.map((e) => e.seq)).toEqual(range(6));
    });

    for (const transport of ['graphql-ws', 'SSE'] as const) {
      it(`an unknown cascade id is NOT_FOUND (${transport})`, async () => {
        const collect = transport === 'graphql-ws' ? collectWs : collectSse;
        for (const id of [randomUUID(), 'not-a-cascade']) {
          const outcome = await collect<CascadeEvent>(state.app.url, PROGRESS, { id });
          expect(outcome.events).toEqual([]);
          expect(outcome.errors.length).toBeGreaterThan(0);
          expect(outcome.errors[0]?.extensions?.code).toBe('NOT_FOUND');
        }
      });
    }

    it('an execution that is not a root is not a cascade id: NOT_FOUND', async () => {
      const ids = await chain('/json');
      const root = await trigger(ids.a, true);
      const child = ok(await state.app.gql(`query($id: ID!) { execution(id: $id) { children { id } } }`, { id: root.id })).execution.children[0].id;
      const outcome = await collectWs<CascadeEvent>(state.app.url, PROGRESS, { id: child });
      expect(outcome.events).toEqual([]);
      expect(outcome.errors[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });

  describe('actionLogs', () => {
    let client: Client;
    const opened: LiveSubscription<unknown>[] = [];
    beforeAll(() => {
      client = wsClient(state.app.url);
    });
    afterAll(async () => {
      for (const subscription of opened) subscription.dispose();
      await client?.dispose();
    });
    const logs = (filter: Record<string, string>) => {
      const args = Object.keys(filter)
        .map((key) => `${key}: $${key}`)
        .join(', ');
      const params = Object.keys(filter)
        .map((key) => `$${key}: ID`)
        .join(', ');
      const query = params ? `subscription(${params}) { actionLogs(${args}) { ${LOG_FIELDS} } }` : `subscription { actionLogs { ${LOG_FIELDS} } }`;
      const subscription = subscribeWs<LogLine>(client, query, filter, 20_000);
      opened.push(subscription as LiveSubscription<unknown>);
      return subscription;
    };

    it('filtered by ruleId delivers only the lines of that rule', async () => {
      const one = await createRule('logs one', webhook('/json'));
      const two = await createRule('logs two', webhook('/text'));
      const ofOne = logs({ ruleId: one });
      const ofTwo = logs({ ruleId: two });
      const all = logs({});
      await settled(client);
      const runTwo = await trigger(two, true);
      const runOne = await trigger(one, true);
      expect(runOne.status).toBe('SUCCESS');
      expect(runTwo.status).toBe('SUCCESS');
      // Rule one ran last on this instance: once its line is here, rule two's lines were published before.
      await ofOne.waitFor((lines) => lines.some((l) => l.executionId === runOne.id));
      await ofTwo.waitFor((lines) => lines.some((l) => l.executionId === runTwo.id));
      await all.waitFor((lines) => lines.some((l) => l.executionId === runOne.id) && lines.some((l) => l.executionId === runTwo.id));
      expect(ofOne.events.length).toBeGreaterThan(0);
      expect(ofOne.events.every((l) => l.ruleId === one && l.executionId === runOne.id)).toBe(true);
      expect(ofTwo.events.every((l) => l.ruleId === two && l.executionId === runTwo.id)).toBe(true);
      // The webhook's INFO line names method, URL and answer status (SPEC.md "Action logs").
      const line = ofOne.events.find((l) => l.level === 'INFO');
      expect(line?.message).toContain('GET');
      expect(line?.message).toContain(`${state.sink.url}/json`);
      expect(line?.message).toContain('200');
      expect(line).toMatchObject({ cascadeId: runOne.cascadeId, seq: 1 });
      // No line twice.
      const keys = all.events.map((l) => `${l.executionId}/${l.seq}`);
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('filtered by cascadeId and by executionId', async () => {
      const ids = await chain();
      const other = await createRule('other', webhook('/json'));
      const root = await trigger(ids.a, false);
      expect(root.status).toBe('RUNNING');
      const ofCascade = logs({ cascadeId: root.cascadeId });
      const ofRoot = logs({ executionId: root.id });
      await settled(client);
      // Lines of another cascade written meanwhile stay out.
      const otherRun = await trigger(other, true);
      expect(otherRun.status).toBe('SUCCESS');
      // A, B and C each write their lines when they finish; A (the root) finishes last.
      await ofCascade.waitFor((lines) => new Set(lines.map((l) => l.ruleId)).size === 3);
      await ofRoot.waitFor((lines) => lines.length > 0);
      expect(ofCascade.events.every((l) => l.cascadeId === root.cascadeId)).toBe(true);
      expect(new Set(ofCascade.events.map((l) => l.ruleId))).toEqual(new Set([ids.a, ids.b, ids.c]));
      expect(ofCascade.events.some((l) => l.executionId === otherRun.id)).toBe(false);
      expect(ofRoot.events.every((l) => l.executionId === root.id && l.ruleId === ids.a)).toBe(true);
      // trigger_rule's line names the target and the child's execution id.
      const children = ok(await state.app.gql(`query($id: ID!) { execution(id: $id) { children { id } } }`, { id: root.id })).execution.children;
      expect(ofRoot.events.some((l) => l.message.includes(children[0].id))).toBe(true);
    });
  });

  describe('executionUpdates', () => {
    it('sends a row when it starts and when it finishes, and a SKIPPED row once', async () => {
      const slow = await createRule('updates', webhook(slowPath()));
      const other = await createRule('updates other', webhook('/json'));
      const client = wsClient(state.app.url);
      try {
        const updates = subscribeWs<ExecutionRow>(
          client,
          `subscription($id: ID) { executionUpdates(ruleId: $id) { ${EXECUTION_FIELDS} } }`,
          { id: slow },
          20_000,
        );
        await settled(client);
        const running = await trigger(slow, false);
        expect(running.status).toBe('RUNNING');
        const skipped = await trigger(slow, false);
        expect(skipped).toMatchObject({ status: 'SKIPPED', skipReason: 'RULE_ALREADY_RUNNING' });
        await trigger(other, true);
        await updates.waitFor((rows) => rows.some((r) => r.id === running.id && r.status === 'SUCCESS'));
        // A last run of the rule after the others: everything before it has been delivered.
        const last = await trigger(slow, true);
        await updates.waitFor((rows) => rows.some((r) => r.id === last.id && r.status === 'SUCCESS'));
        updates.dispose();
        const rows = updates.events;
        expect(rows.every((r) => r.ruleId === slow)).toBe(true);
        expect(rows.filter((r) => r.id === running.id).map((r) => r.status)).toEqual(['RUNNING', 'SUCCESS']);
        expect(rows.filter((r) => r.id === skipped.id).map((r) => [r.status, r.skipReason])).toEqual([['SKIPPED', 'RULE_ALREADY_RUNNING']]);
        expect(rows.filter((r) => r.id === last.id).map((r) => r.status)).toEqual(['RUNNING', 'SUCCESS']);
        expect(rows.map((r) => r.id)).toEqual([running.id, skipped.id, running.id, last.id, last.id]);
      } finally {
        await client.dispose();
      }
    });
  });
});

// One run of the suite with the Redis bus is enough.
describeUnless(REDIS_URL ? undefined : 'REDIS_URL is unset, so there is no Redis to test against', `subscriptions with REDIS_URL=${REDIS_URL}`, () => {
  const backend = backends().at(-1)!;
  const { state, trigger, chain, storedEvents } = fixture(backend, { REDIS_URL: REDIS_URL! });

  it('the bus goes through Redis', () => {
    expect(state.app.app.engine.busKind).toBe('redis');
  });

  it('cascadeProgress joined mid-cascade and after it ended gives 1..N exactly once', async () => {
    const ids = await chain();
    const root = await trigger(ids.a, false);
    await state.sink.waitForRequests(1, ids.path, 10_000);
    const live = subscribeWs<CascadeEvent>(state.app.url, PROGRESS, { id: root.cascadeId }, 20_000);
    const sse = subscribeSse<CascadeEvent>(state.app.url, PROGRESS, { id: root.cascadeId }, 20_000);
    await live.waitFor((events) => events.length > 0);
    expect((await storedEvents(root.cascadeId)).status).toBe('RUNNING');
    const [outcome, sseOutcome] = await Promise.all([live.done, sse.done]);
    const stored = (await storedEvents(root.cascadeId)).events;
    for (const o of [outcome, sseOutcome]) {
      expect(o.completed).toBe(true);
      expectWholeCascade(o.events, root.cascadeId, stored, ids);
    }
    const late = await collectWs<CascadeEvent>(state.app.url, PROGRESS, { id: root.cascadeId });
    expect(late.completed).toBe(true);
    expectWholeCascade(late.events, root.cascadeId, stored, ids);
  });
});
