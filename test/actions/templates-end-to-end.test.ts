import { describe, expect, it } from 'vitest';
import { backends, ok } from '../support/harness.js';
import type { Sink } from '../support/sink.js';
import { appWithSink, countExecutions, createRule, trigger, updateRule, type FreshApp } from '../support/rules.js';

/**
 * Templates end to end (SPEC.md "Templates"): filled in by a real run (triggerRule, and a
 * trigger_rule child), and resolved without running by simulateRule, which writes nothing.
 */

const SIMULATE = `mutation($ruleId: ID!, $payload: JSON) { simulateRule(ruleId: $ruleId, payload: $payload) { conditionMet wouldExecute resolvedAction references } }`;

const TEMPLATED_BODY = {
  num: '{{payload.n}}',
  obj: '{{ payload.obj }}',
  list: '{{payload.list}}',
  item: '{{payload.list.1}}',
  deep: '{{payload.obj.inner.flag}}',
  text: 'n={{ payload.n }} obj={{payload.obj}} s={{payload.s}}',
  missing: '{{payload.nope}}',
  missingText: 'a{{payload.nope}}b',
  nullValue: '{{payload.nothing}}',
  all: '{{payload}}',
  ruleId: '{{rule.id}}',
  ruleName: '{{rule.name}}',
  executionId: '{{execution.id}}',
  depth: '{{execution.depth}}',
  cascadeId: '{{cascade.id}}',
  depthText: 'depth {{execution.depth}} of {{cascade.id}}',
  nested: { array: ['{{payload.n}}', 'x{{payload.s}}', 3], literal: 'no placeholders' },
};

const PAYLOAD = { n: 42, s: 'hi', obj: { a: 1, inner: { flag: true } }, list: [10, 20], nothing: null };

function expected(ids: { ruleId: string; ruleName: string; executionId: string | null; depth: number | null; cascadeId: string | null }) {
  return {
    num: 42,
    obj: { a: 1, inner: { flag: true } },
    list: [10, 20],
    item: 20,
    deep: true,
    text: 'n=42 obj={"a":1,"inner":{"flag":true}} s=hi',
    missing: null,
    missingText: 'ab',
    nullValue: null,
    all: PAYLOAD,
    ruleId: ids.ruleId,
    ruleName: ids.ruleName,
    executionId: ids.executionId,
    depth: ids.depth,
    cascadeId: ids.cascadeId,
    depthText: `depth ${ids.depth ?? ''} of ${ids.cascadeId ?? ''}`,
    nested: { array: [42, 'xhi', 3], literal: 'no placeholders' },
  };
}

describe.each(backends())('templates (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;

  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
  });

  it('a real run fills every placeholder: typed whole strings, text inside strings, missing paths, ids', async () => {
    const rule = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/t/{{payload.s}}`,
        method: 'POST',
        headers: { 'X-N': '{{payload.n}}', 'X-Rule': 'rule {{rule.name}}' },
        body: TEMPLATED_BODY,
      },
    });
    const e = await trigger(t, rule.id, PAYLOAD);
    expect(e.status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/t/hi');
    expect(req!.json).toEqual(expected({ ruleId: rule.id, ruleName: rule.name, executionId: e.id, depth: 0, cascadeId: e.id }));
    expect(req!.headers['x-n']).toBe('42');
    expect(req!.headers['x-rule']).toBe(`rule ${rule.name}`);
    expect(e.references.action.endpoint).toBe(`${sink.url}/t/hi`);
  });

  it('GET params are templated into the query string', async () => {
    const rule = await createRule(t, {
      actionSpec: { endpoint: `${sink.url}/q`, params: { n: '{{payload.n}}', missing: '{{payload.nope}}', text: 'v={{payload.nope}}' } },
    });
    expect((await trigger(t, rule.id, PAYLOAD)).status).toBe('SUCCESS');
    const [req] = await sink.waitForRequests(1, '/q');
    expect(req!.query.get('n')).toBe('42');
    expect(req!.query.get('text')).toBe('v=');
    // A whole-string placeholder that finds nothing is null; a null param is left out.
    expect(req!.query.has('missing')).toBe(false);
  });

  it('a child run sees its own execution id, depth 1 and the root cascade id; trigger_rule payload is templated', async () => {
    const child = await createRule(t, {
      actionSpec: {
        endpoint: `${sink.url}/child`,
        method: 'POST',
        body: { payload: '{{payload}}', executionId: '{{execution.id}}', depth: '{{execution.depth}}', cascadeId: '{{cascade.id}}', ruleId: '{{rule.id}}' },
      },
    });
    const parent = await createRule(t, {
      actionSpec: {
        type: 'trigger_rule',
        rule_id: child.id,
        payload: { from: '{{rule.name}}', n: '{{payload.n}}', parentExecution: '{{execution.id}}', label: 'n is {{payload.n}}' },
      },
    });
    const root = await trigger(t, parent.id, { n: 9 });
    expect(root.status).toBe('SUCCESS');
    const childId = root.result.trigger_result.executionId;
    const [req] = await sink.waitForRequests(1, '/child');
    expect(req!.json).toEqual({
      payload: { from: parent.name, n: 9, parentExecution: root.id, label: 'n is 9' },
      executionId: childId,
      depth: 1,
      cascadeId: root.id,
      ruleId: child.id,
    });
  });

  it('simulateRule resolves the action with execution and cascade null, and writes nothing', async () => {
    const rule = await createRule(t, {
      triggerSpec: { field: 'n', op: '>', value: 10 },
      actionSpec: { endpoint: `${sink.url}/t/{{payload.s}}`, method: 'POST', headers: { 'X-N': '{{payload.n}}' }, body: TEMPLATED_BODY },
    });
    const before = await countExecutions(t);
    const sim = ok(await t.gql(SIMULATE, { ruleId: rule.id, payload: PAYLOAD })).simulateRule;
    expect(sim.conditionMet).toBe(true);
    expect(sim.wouldExecute).toBe(true);
    expect(sim.references.trigger).toMatchObject({ field: 'n', actual: 42, expected: 10, operator: '>', condition_evaluated: true });
    expect(sim.resolvedAction).toMatchObject({ type: 'webhook', endpoint: `${sink.url}/t/hi`, method: 'POST', headers: { 'X-N': 42 } });
    expect(sim.resolvedAction.body).toEqual(expected({ ruleId: rule.id, ruleName: rule.name, executionId: null, depth: null, cascadeId: null }));

    const notMet = ok(await t.gql(SIMULATE, { ruleId: rule.id, payload: { n: 1 } })).simulateRule;
    expect(notMet.conditionMet).toBe(false);
    expect(notMet.wouldExecute).toBe(false);
    expect(notMet.resolvedAction.body.num).toBe(1);

    // An inactive rule can be simulated; it would not execute.
    await updateRule(t, rule.id, { active: false });
    const inactive = ok(await t.gql(SIMULATE, { ruleId: rule.id, payload: PAYLOAD })).simulateRule;
    expect(inactive.conditionMet).toBe(true);
    expect(inactive.wouldExecute).toBe(false);

    expect(await countExecutions(t)).toBe(before);
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(0);
    // Nothing was called either: a real run afterwards reaches the sink, and is all it received.
    const barrier = await createRule(t, { actionSpec: { endpoint: `${sink.url}/barrier` } });
    await trigger(t, barrier.id, {});
    expect(sink.requests.map((r) => r.path)).toEqual(['/barrier']);
  });

  it('simulateRule of a trigger_rule resolves its payload without starting the child', async () => {
    const child = await createRule(t, { actionSpec: { endpoint: `${sink.url}/child` } });
    const parent = await createRule(t, {
      actionSpec: { type: 'trigger_rule', rule_id: child.id, payload: { e: '{{execution.id}}', c: '{{cascade.id}}', n: '{{payload.n}}' } },
    });
    const before = await countExecutions(t);
    const sim = ok(await t.gql(SIMULATE, { ruleId: parent.id, payload: { n: 3 } })).simulateRule;
    expect(sim.resolvedAction).toEqual({ type: 'trigger_rule', rule_id: child.id, payload: { e: null, c: null, n: 3 } });
    expect(await countExecutions(t)).toBe(before);
    expect(sink.requests).toHaveLength(0);
  });

  it('simulateRule on an unknown rule is NOT_FOUND', async () => {
    const res = await t.gql(SIMULATE, { ruleId: '00000000-0000-4000-8000-000000000000', payload: {} });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const bad = await t.gql(SIMULATE, { ruleId: 'not-a-uuid', payload: {} });
    expect(bad.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
