import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/sqlAdapter.js';
import { backends, ok, refusal } from '../support/harness.js';
import type { Sink } from '../support/sink.js';
import { poll } from '../support/wait.js';
import {
  appWithSink,
  countExecutions,
  createRule,
  getExecution,
  trigger,
  triggerRaw,
  updateRule,
  waitFinished,
  type ExecutionData,
  type FreshApp,
} from '../support/rules.js';

/**
 * Runs, locks and cascades end to end (SPEC.md "trigger_rule", "Running, locks and cascades",
 * "Events of a cascade", "References"), on a real server and database with a real local HTTP
 * sink. publishEvent has its own file, publish-event.test.ts.
 */

interface EventData {
  cascadeId: string;
  seq: number;
  kind: string;
  executionId: string;
  ruleId: string;
  ruleName: string | null;
  depth: number;
  status: string | null;
  message: string | null;
}

interface CascadeData {
  id: string;
  status: string;
  root: { id: string };
  startedAt: string;
  finishedAt: string | null;
  executions: { id: string; depth: number; ruleId: string; status: string; parentId: string | null }[];
  events: EventData[];
}

const CASCADE = `query($id: ID!) { cascade(id: $id) {
  id status root { id } startedAt finishedAt
  executions { id depth ruleId status parentId }
  events { cascadeId seq kind executionId ruleId ruleName depth status message }
} }`;

async function getCascade(t: FreshApp, id: string): Promise<CascadeData | null> {
  return ok(await t.gql(CASCADE, { id })).cascade;
}

const TREE = `query($id: ID!) { execution(id: $id) {
  id ruleId depth cascadeId parentId status executedBy payload
  children { id ruleId depth cascadeId parentId status executedBy payload conditionMet skipReason durationMs references
    children { id ruleId depth cascadeId parentId status executedBy payload conditionMet skipReason durationMs references
      children { id }
    }
  }
} }`;

/** The events an execution emits around its child's (SPEC.md "Events of a cascade"). */
const ran = (id: string, inner: [string, string][] = []): [string, string][] => [
  ['RULE_STARTED', id],
  ['CONDITION_EVALUATED', id],
  ['ACTION_STARTED', id],
  ...inner,
  ['ACTION_FINISHED', id],
  ['RULE_FINISHED', id],
];

function expectSeqWithoutGaps(events: EventData[]) {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

describe.each(backends())('runs and cascades (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  const hook = () => ({ endpoint: `${sink.url}/json` });

  // MAX_CASCADE_DEPTH=2: depths 0, 1 and 2 run, depth 3 is skipped.
  appWithSink(backend, { MAX_CASCADE_DEPTH: '2' }, (app, s) => {
    t = app;
    sink = s;
  });

  it('A -> B -> C with wait: true: tree, depths, cascade status, events in order, trigger_result', async () => {
    const c = await createRule(t, { name: `C ${randomUUID().slice(0, 6)}`, actionSpec: hook() });
    const b = await createRule(t, { name: `B ${randomUUID().slice(0, 6)}`, actionSpec: { type: 'trigger_rule', rule_id: c.id } });
    const a = await createRule(t, { name: `A ${randomUUID().slice(0, 6)}`, actionSpec: { type: 'TRIGGER_RULE', rule_id: b.id } });

    const root = await trigger(t, a.id, { k: 1 });
    expect(root).toMatchObject({
      ruleId: a.id,
      status: 'SUCCESS',
      conditionMet: true,
      depth: 0,
      cascadeId: root.id,
      parentId: null,
      executedBy: 'manual',
      actionType: 'TRIGGER_RULE',
    });
    expect(root.finishedAt).not.toBeNull();
    await sink.waitForRequests(1, '/json');

    const tree = ok(await t.gql(TREE, { id: root.id })).execution;
    expect(tree.children).toHaveLength(1);
    const bRow = tree.children[0];
    expect(bRow).toMatchObject({ ruleId: b.id, depth: 1, cascadeId: root.id, parentId: root.id, status: 'SUCCESS', executedBy: 'cascade', payload: { k: 1 } });
    expect(bRow.children).toHaveLength(1);
    const cRow = bRow.children[0];
    expect(cRow).toMatchObject({ ruleId: c.id, depth: 2, cascadeId: root.id, parentId: bRow.id, status: 'SUCCESS', executedBy: 'cascade', payload: { k: 1 } });
    expect(cRow.children).toEqual([]);

    expect(root.result).toEqual({ trigger_result: { executionId: bRow.id, status: 'SUCCESS', conditionMet: true, durationMs: expect.any(Number) } });
    expect(root.references.action).toMatchObject({ action_type: 'trigger_rule', target_rule_id: b.id, trigger_status: 'SUCCESS' });
    expect(bRow.references.action).toMatchObject({ action_type: 'trigger_rule', target_rule_id: c.id, trigger_status: 'SUCCESS' });
    // trigger_rule writes one line naming the target and the child's execution id.
    const info = root.logs!.filter((l) => l.level === 'INFO');
    expect(info).toHaveLength(1);
    expect(info[0]!.message).toContain(b.id);
    expect(info[0]!.message).toContain(bRow.id);

    // The chain unwinds in one write: C's, B's and A's final rows commit in one transaction.
    const xmins = await createSql(t.app.database.orm).query<{ id: string; xmin: string }>(
      'SELECT id, xmin::text AS xmin FROM executions WHERE cascade_id = ?',
      [root.id],
    );
    expect(xmins).toHaveLength(3);
    expect(new Set(xmins.map((r) => r.xmin)).size).toBe(1);

    const cascade = (await getCascade(t, root.id))!;
    expect(cascade.status).toBe('SUCCESS');
    expect(cascade.root.id).toBe(root.id);
    expect(cascade.finishedAt).not.toBeNull();
    expect(cascade.executions.map((e) => [e.id, e.depth])).toEqual([
      [root.id, 0],
      [bRow.id, 1],
      [cRow.id, 2],
    ]);
    const events = cascade.events;
    expectSeqWithoutGaps(events);
    expect(events.map((e) => [e.kind, e.executionId])).toEqual([...ran(root.id, ran(bRow.id, ran(cRow.id))), ['CASCADE_FINISHED', root.id]]);
    expect(events.every((e) => e.cascadeId === root.id)).toBe(true);
    for (const e of events) {
      const row = [root, bRow, cRow].find((r) => r.id === e.executionId)!;
      expect(e.depth).toBe(row.depth);
      expect(e.ruleId).toBe(row.ruleId);
      if (e.kind === 'RULE_FINISHED' || e.kind === 'CASCADE_FINISHED') expect(e.status).toBe('SUCCESS');
      if (e.kind === 'RULE_STARTED' || e.kind === 'CONDITION_EVALUATED' || e.kind === 'ACTION_STARTED') expect(e.status).toBeNull();
    }
    const last = events.at(-1)!;
    expect(last).toMatchObject({ kind: 'CASCADE_FINISHED', executionId: root.id, ruleId: a.id, ruleName: a.name, depth: 0, status: 'SUCCESS' });

    expect(await countExecutions(t, { cascadeId: root.id })).toBe(3);
  });

  it('A -> B -> A: the second A is SKIPPED with RULE_ALREADY_RUNNING without evaluating its condition', async () => {
    const a = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
    const b = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: a.id } });
    await updateRule(t, a.id, { actionSpec: { type: 'trigger_rule', rule_id: b.id } });

    const root = await trigger(t, a.id, { loop: true });
    expect(root.status).toBe('SUCCESS');
    const tree = ok(await t.gql(TREE, { id: root.id })).execution;
    const bRow = tree.children[0];
    expect(bRow).toMatchObject({ ruleId: b.id, status: 'SUCCESS', depth: 1 });
    const again = bRow.children[0];
    expect(again).toMatchObject({
      ruleId: a.id,
      depth: 2,
      parentId: bRow.id,
      cascadeId: root.id,
      status: 'SKIPPED',
      skipReason: 'RULE_ALREADY_RUNNING',
      conditionMet: false,
      durationMs: 0,
      executedBy: 'cascade',
    });
    expect(again.references.trigger).toBeNull();
    expect(again.references.action).toBeUndefined();
    expect(bRow.references.action.trigger_status).toBe('SKIPPED');

    const skippedRow = (await getExecution(t, again.id))!;
    expect(skippedRow.actionType).toBe('TRIGGER_RULE');
    expect(skippedRow.error).toBeNull();
    expect(skippedRow.finishedAt).not.toBeNull();

    const cascade = (await getCascade(t, root.id))!;
    expect(cascade.status).toBe('SUCCESS');
    expectSeqWithoutGaps(cascade.events);
    expect(cascade.events.map((e) => [e.kind, e.executionId])).toEqual([
      ...ran(root.id, ran(bRow.id, [['RULE_SKIPPED', again.id]])),
      ['CASCADE_FINISHED', root.id],
    ]);
    expect(cascade.events.find((e) => e.kind === 'RULE_SKIPPED')!.status).toBe('SKIPPED');
    expect(sink.requests).toHaveLength(0);

    // The rule is free again once the cascade is over.
    expect((await trigger(t, b.id, {})).status).toBe('SUCCESS');
  });

  it('the depth limit is off by none: depth MAX_CASCADE_DEPTH runs, one deeper is SKIPPED', async () => {
    const d3 = await createRule(t, { actionSpec: hook() });
    const d2 = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: d3.id } });
    const d1 = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: d2.id } });
    const d0 = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: d1.id } });

    const root = await trigger(t, d0.id, {});
    expect(root.status).toBe('SUCCESS');
    const cascade = (await getCascade(t, root.id))!;
    expect(cascade.executions.map((e) => [e.ruleId, e.depth, e.status])).toEqual([
      [d0.id, 0, 'SUCCESS'],
      [d1.id, 1, 'SUCCESS'],
      [d2.id, 2, 'SUCCESS'],
      [d3.id, 3, 'SKIPPED'],
    ]);
    const deepest = (await getExecution(t, cascade.executions[3]!.id))!;
    expect(deepest).toMatchObject({ skipReason: 'CASCADE_DEPTH_EXCEEDED', conditionMet: false, durationMs: 0, parentId: cascade.executions[2]!.id });
    expect(deepest.references.trigger).toBeNull();
    const depth2 = (await getExecution(t, cascade.executions[2]!.id))!;
    expect(depth2.result.trigger_result).toMatchObject({ executionId: deepest.id, status: 'SKIPPED', conditionMet: false, durationMs: 0 });
    expect(cascade.status).toBe('SUCCESS');
    expectSeqWithoutGaps(cascade.events);
    expect(cascade.events.filter((e) => e.kind === 'RULE_SKIPPED').map((e) => e.executionId)).toEqual([deepest.id]);
    expect(sink.requests).toHaveLength(0);

    // Started one level down, the same chain fits.
    const fromD1 = await trigger(t, d1.id, {});
    expect(fromD1.status).toBe('SUCCESS');
    expect(await countExecutions(t, { cascadeId: fromD1.id, status: 'SUCCESS' })).toBe(3);
    await sink.waitForRequests(1, '/json');
  });

  it('a missing target (unknown uuid or not a uuid) fails the parent with RULE_NOT_FOUND and writes no child', async () => {
    for (const target of [randomUUID(), 'not-a-uuid']) {
      const parent = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: target } });
      const root = await trigger(t, parent.id, {});
      expect(root.status).toBe('FAILED');
      expect(root.error?.code).toBe('RULE_NOT_FOUND');
      expect(root.result).toBeNull();
      expect(root.references.action).toMatchObject({ action_type: 'trigger_rule', target_rule_id: target });
      expect(root.logs!.some((l) => l.level === 'ERROR' && l.message.includes(target))).toBe(true);
      expect(await countExecutions(t, { cascadeId: root.id })).toBe(1);
      const tree = ok(await t.gql(TREE, { id: root.id })).execution;
      expect(tree.children).toEqual([]);
      const cascade = (await getCascade(t, root.id))!;
      expect(cascade.status).toBe('FAILED');
      expectSeqWithoutGaps(cascade.events);
      expect(cascade.events.map((e) => e.kind)).toEqual([
        'RULE_STARTED',
        'CONDITION_EVALUATED',
        'ACTION_STARTED',
        'ACTION_FINISHED',
        'RULE_FINISHED',
        'CASCADE_FINISHED',
      ]);
      expect(cascade.events.at(-1)!.status).toBe('FAILED');
    }
  });

  it('an inactive target fails the parent with RULE_INACTIVE and writes no child', async () => {
    const target = await createRule(t, { actionSpec: hook(), active: false });
    const parent = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: target.id } });
    const root = await trigger(t, parent.id, {});
    expect(root.status).toBe('FAILED');
    expect(root.error?.code).toBe('RULE_INACTIVE');
    expect(await countExecutions(t, { cascadeId: root.id })).toBe(1);
    expect(await countExecutions(t, { ruleId: target.id })).toBe(0);
    expect((await getCascade(t, root.id))!.status).toBe('FAILED');
    expect(sink.requests).toHaveLength(0);
  });

  it('a failing child leaves its parent SUCCESS, with the failure in trigger_result and the cascade FAILED', async () => {
    const child = await createRule(t, { actionSpec: { endpoint: `${sink.url}/fail` } });
    const parent = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id } });
    const root = await trigger(t, parent.id, {});
    expect(root.status).toBe('SUCCESS');
    expect(root.error).toBeNull();
    expect(root.result.trigger_result).toMatchObject({ status: 'FAILED', conditionMet: true });
    expect(root.references.action.trigger_status).toBe('FAILED');
    const childRow = (await getExecution(t, root.result.trigger_result.executionId))!;
    expect(childRow).toMatchObject({ status: 'FAILED', error: { code: 'WEBHOOK_FAILED' }, result: { status: 500, body: { error: 'boom' } } });
    const cascade = (await getCascade(t, root.id))!;
    expect(cascade.status).toBe('FAILED');
    expect(cascade.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'FAILED', executionId: root.id });
    expect(cascade.events.find((e) => e.kind === 'RULE_FINISHED' && e.executionId === root.id)!.status).toBe('SUCCESS');
  });

  it('trigger_rule hands over its own payload when it has the key (even {}), else the parent payload', async () => {
    const child = await createRule(t, { actionSpec: hook() });
    const inherit = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id } });
    const empty = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id, payload: {} } });
    const own = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id, payload: { v: '{{payload.x}}', fixed: 1 } } });
    const childPayload = async (ruleId: string) => {
      const root = await trigger(t, ruleId, { x: 5, y: 'z' });
      expect(root.status).toBe('SUCCESS');
      return (await getExecution(t, root.result.trigger_result.executionId))!.payload;
    };
    expect(await childPayload(inherit.id)).toEqual({ x: 5, y: 'z' });
    expect(await childPayload(empty.id)).toEqual({});
    expect(await childPayload(own.id)).toEqual({ v: 5, fixed: 1 });
  });

  it('two concurrent triggerRule calls of one slow rule: one runs, the other is SKIPPED', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/slow` } });
    const [first, second] = await Promise.all([trigger(t, rule.id, { n: 1 }), trigger(t, rule.id, { n: 2 })]);
    const rows = [first, second];
    const ranRows = rows.filter((r) => r.status === 'SUCCESS');
    const skipped = rows.filter((r) => r.status === 'SKIPPED');
    expect(ranRows).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({
      skipReason: 'RULE_ALREADY_RUNNING',
      conditionMet: false,
      durationMs: 0,
      depth: 0,
      cascadeId: skipped[0]!.id,
      executedBy: 'manual',
    });
    expect(skipped[0]!.references.trigger).toBeNull();
    expect(sink.requestsTo('/slow')).toHaveLength(1);
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(2);
    // A skipped root is a cascade of its own: RULE_SKIPPED then CASCADE_FINISHED.
    const cascade = (await getCascade(t, skipped[0]!.id))!;
    expect(cascade.status).toBe('SKIPPED');
    expect(cascade.events.map((e) => [e.seq, e.kind, e.status])).toEqual([
      [1, 'RULE_SKIPPED', 'SKIPPED'],
      [2, 'CASCADE_FINISHED', 'SKIPPED'],
    ]);
  });

  it('wait: false answers RUNNING at once, then the row finishes', async () => {
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/slow` } });
    const started = await trigger(t, rule.id, { q: 1 }, { wait: false });
    expect(started.status).toBe('RUNNING');
    expect(started.finishedAt).toBeNull();
    expect(started.durationMs).toBeNull();
    expect(started.conditionMet).toBe(true);
    expect((await getCascade(t, started.id))!.status).toBe('RUNNING');
    const done = await waitFinished(t, started.id);
    expect(done.status).toBe('SUCCESS');
    expect(done.finishedAt).not.toBeNull();
    expect(done.result).toEqual({ status: 200, body: { slow: true } });
    const cascade = await poll(
      () => getCascade(t, started.id),
      (c) => c?.status === 'SUCCESS',
    );
    expect(cascade!.events.at(-1)!.kind).toBe('CASCADE_FINISHED');
  });

  it('triggerRule refuses an inactive rule (RULE_INACTIVE, no row) and an unknown one (NOT_FOUND)', async () => {
    const rule = await createRule(t, { actionSpec: hook(), active: false });
    refusal(await triggerRaw(t, rule.id, {}), 'RULE_INACTIVE');
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(0);
    refusal(await triggerRaw(t, randomUUID(), {}), 'NOT_FOUND');
    refusal(await triggerRaw(t, 'nope', {}), 'NOT_FOUND');
    expect(sink.requests).toHaveLength(0);
  });

  it('a condition that is not met leaves a NOT_MATCHED row without running the action', async () => {
    const rule = await createRule(t, { triggerSpec: { field: 'cpu', op: '>', value: 80 }, actionSpec: hook() });
    const e = await trigger(t, rule.id, { cpu: 10 });
    expect(e).toMatchObject({ status: 'NOT_MATCHED', conditionMet: false, result: null, error: null });
    expect(e.references.trigger).toMatchObject({ field: 'cpu', actual: 10, expected: 80, operator: '>', condition_evaluated: false });
    expect(e.references.action).toBeUndefined();
    const cascade = (await getCascade(t, e.id))!;
    expect(cascade.events.map((x) => x.kind)).toEqual(['RULE_STARTED', 'CONDITION_EVALUATED', 'RULE_FINISHED', 'CASCADE_FINISHED']);
    expect(cascade.status).toBe('NOT_MATCHED');
    expect(sink.requests).toHaveLength(0);
  });

  it('a METRIC rule needs a payload and reads valuePath from it', async () => {
    const rule = await createRule(t, {
      triggerType: 'METRIC',
      triggerSpec: { endpoint: `${sink.url}/metric`, valuePath: 'data.cpu', op: '>', threshold: 80, pollIntervalSeconds: 3600 },
      actionSpec: { endpoint: `${sink.url}/metric-hook` },
    });
    refusal(await triggerRaw(t, rule.id), 'BAD_USER_INPUT');
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(0);
    const hot = await trigger(t, rule.id, { data: { cpu: 95 } });
    expect(hot).toMatchObject({ status: 'SUCCESS', conditionMet: true, payload: { data: { cpu: 95 } } });
    expect(hot.references.trigger).toMatchObject({ field: 'data.cpu', actual: 95, expected: 80, operator: '>', condition_evaluated: true });
    const cold = await trigger(t, rule.id, { data: { cpu: 5 } });
    expect(cold).toMatchObject({ status: 'NOT_MATCHED', conditionMet: false });
    const missing = await trigger(t, rule.id, { other: 1 });
    expect(missing.status).toBe('NOT_MATCHED');
    expect(missing.references.trigger).toMatchObject({ reason: 'field missing', actual: null });
    expect(sink.requestsTo('/metric-hook')).toHaveLength(1);
  });

  it('a SCHEDULE rule always meets its condition on triggerRule', async () => {
    const rule = await createRule(t, { triggerType: 'SCHEDULE', triggerSpec: { cron: '0 0 1 1 *', payload: { from: 'spec' } }, actionSpec: hook() });
    const plain = await trigger(t, rule.id);
    expect(plain).toMatchObject({ status: 'SUCCESS', conditionMet: true });
    expect(plain.references.trigger.schedule).toMatchObject({ cron: '0 0 1 1 *' });
    const withPayload = await trigger(t, rule.id, { anything: true });
    expect(withPayload).toMatchObject({ status: 'SUCCESS', conditionMet: true, payload: { anything: true } });
  });

  it('triggerRule on a window rule tests its filter', async () => {
    const rule = await createRule(t, {
      triggerSpec: {
        filter: { field: 'type', op: '==', value: 'request' },
        window: { type: 'tumbling', sizeSeconds: 60 },
        aggregate: { fn: 'count' },
        op: '>',
        value: 1000,
      },
      actionSpec: hook(),
    });
    const met = await trigger(t, rule.id, { type: 'request', latency_ms: 5 });
    expect(met).toMatchObject({ status: 'SUCCESS', conditionMet: true });
    expect(met.references.trigger.window).toBeDefined();
    const notMet = await trigger(t, rule.id, { type: 'other' });
    expect(notMet).toMatchObject({ status: 'NOT_MATCHED', conditionMet: false });
    expect(sink.requestsTo('/json')).toHaveLength(1);
  });

  it('executions: filters by ruleId, cascadeId and status, newest first, paginated; Rule.executions', async () => {
    const rule = await createRule(t, { triggerSpec: { field: 'go', op: '==', value: true }, actionSpec: hook() });
    const runs: ExecutionData[] = [];
    for (const go of [true, false, true, false, true]) runs.push(await trigger(t, rule.id, { go }));
    const LIST = `query($ruleId: ID, $cascadeId: ID, $status: ExecutionStatus, $first: Int, $after: String) {
      executions(ruleId: $ruleId, cascadeId: $cascadeId, status: $status, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id ruleId status } }
      } }`;
    const list = async (vars: Record<string, unknown>) => ok(await t.gql(LIST, vars)).executions;

    const all = await list({ ruleId: rule.id });
    expect(all.totalCount).toBe(5);
    expect(all.edges.map((e: any) => e.node.id)).toEqual(runs.map((r) => r.id).reverse());
    expect(all.pageInfo.hasNextPage).toBe(false);

    const matched = await list({ ruleId: rule.id, status: 'SUCCESS' });
    expect(matched.totalCount).toBe(3);
    expect(matched.edges.every((e: any) => e.node.status === 'SUCCESS')).toBe(true);
    expect((await list({ ruleId: rule.id, status: 'NOT_MATCHED' })).totalCount).toBe(2);
    expect((await list({ ruleId: rule.id, status: 'FAILED' })).totalCount).toBe(0);

    const byCascade = await list({ cascadeId: runs[2]!.id });
    expect(byCascade.edges.map((e: any) => e.node.id)).toEqual([runs[2]!.id]);
    expect((await list({ ruleId: randomUUID() })).totalCount).toBe(0);
    expect((await list({ ruleId: 'not-a-uuid' })).totalCount).toBe(0);

    const page1 = await list({ ruleId: rule.id, first: 2 });
    expect(page1.edges).toHaveLength(2);
    expect(page1.totalCount).toBe(5);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = await list({ ruleId: rule.id, first: 2, after: page1.pageInfo.endCursor });
    const page3 = await list({ ruleId: rule.id, first: 2, after: page2.pageInfo.endCursor });
    expect(page3.pageInfo.hasNextPage).toBe(false);
    expect([...page1.edges, ...page2.edges, ...page3.edges].map((e: any) => e.node.id)).toEqual(runs.map((r) => r.id).reverse());

    refusal(await t.gql(LIST, { first: 101 }), 'BAD_USER_INPUT');
    refusal(await t.gql(LIST, { first: -1 }), 'BAD_USER_INPUT');
    refusal(await t.gql(LIST, { after: 'garbage!' }), 'BAD_USER_INPUT');

    const viaRule = ok(
      await t.gql(
        `query($id: ID!) { rule(id: $id) {
        all: executions { totalCount edges { node { id } } }
        ok: executions(status: SUCCESS, first: 1) { totalCount pageInfo { hasNextPage } edges { node { id status } } }
      } }`,
        { id: rule.id },
      ),
    ).rule;
    expect(viaRule.all.totalCount).toBe(5);
    expect(viaRule.all.edges.map((e: any) => e.node.id)).toEqual(runs.map((r) => r.id).reverse());
    expect(viaRule.ok).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
    expect(viaRule.ok.edges[0].node).toEqual({ id: runs[4]!.id, status: 'SUCCESS' });
  });

  it('history outlives a deleted rule: Execution.rule is null, the rows stay', async () => {
    const rule = await createRule(t, { actionSpec: hook() });
    const e = await trigger(t, rule.id, {});
    const before = ok(await t.gql(`query($id: ID!) { execution(id: $id) { rule { id name } } }`, { id: e.id })).execution;
    expect(before.rule).toEqual({ id: rule.id, name: rule.name });
    expect(ok(await t.gql(`mutation($id: ID!) { deleteRule(id: $id) }`, { id: rule.id })).deleteRule).toBe(rule.id);
    const after = ok(await t.gql(`query($id: ID!) { execution(id: $id) { id ruleId status rule { id } logs { seq } } }`, { id: e.id })).execution;
    expect(after).toMatchObject({ id: e.id, ruleId: rule.id, status: 'SUCCESS', rule: null });
    expect(after.logs.length).toBeGreaterThanOrEqual(1);
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(1);
    const cascade = (await getCascade(t, e.id))!;
    expect(cascade.events.length).toBeGreaterThan(0);
    refusal(await triggerRaw(t, rule.id, {}), 'NOT_FOUND');
  });

  it('unknown ids: execution and cascade answer null', async () => {
    expect(await getExecution(t, randomUUID())).toBeNull();
    expect(await getExecution(t, 'not-a-uuid')).toBeNull();
    expect(await getCascade(t, randomUUID())).toBeNull();
    expect(await getCascade(t, 'not-a-uuid')).toBeNull();
  });
});
