import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends, ok, refusal } from '../support/harness.js';
import type { Sink } from '../support/sink.js';
import { EXECUTION_FIELDS, appWithSink, countExecutions, createRule, updateRule, waitFinished, type ExecutionData, type FreshApp } from '../support/rules.js';

/**
 * publishEvent end to end (SPEC.md "publishEvent", "References"): which rules an event runs, on
 * a real server and database with a real local HTTP sink.
 */

describe.each(backends())('publishEvent (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  const PUBLISH = `mutation($event: JSON!, $source: String) { publishEvent(event: $event, source: $source) {
    eventId matched executions { ${EXECUTION_FIELDS} } } }`;
  const publish = async (event: unknown, source?: string) => ok(await t.gql(PUBLISH, { event, source })).publishEvent;

  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
  });

  it('refuses an event that is not a JSON object', async () => {
    for (const event of ['text', 5, [1, 2], true]) refusal(await t.gql(PUBLISH, { event }), 'BAD_USER_INPUT');
  });

  it('runs only the active EVENT rules the event meets, counting them in matched', async () => {
    const tag = randomUUID();
    const cond = { field: 'kind', op: '==', value: tag };
    const hit1 = await createRule(t, { triggerSpec: cond, actionSpec: { endpoint: `${sink.url}/json`, params: { rule: '1', v: '{{payload.v}}' } } });
    const hit2 = await createRule(t, {
      triggerSpec: { conditions: [cond, { field: 'v', op: '>=', value: '3' }] },
      actionSpec: { endpoint: `${sink.url}/json`, params: { rule: '2' } },
    });
    const inactive = await createRule(t, { triggerSpec: cond, actionSpec: { endpoint: `${sink.url}/json` }, active: false });
    const other = await createRule(t, { triggerSpec: { field: 'kind', op: '==', value: 'something else' }, actionSpec: { endpoint: `${sink.url}/json` } });
    const schedule = await createRule(t, { triggerType: 'SCHEDULE', triggerSpec: { cron: '0 0 1 1 *' }, actionSpec: { endpoint: `${sink.url}/json` } });
    const metric = await createRule(t, {
      triggerType: 'METRIC',
      // Its poll (whenever the scheduler makes it) reads 1, which does not meet the threshold: no row.
      triggerSpec: { endpoint: `${sink.url}/metric`, valuePath: 'data.cpu', op: '>', threshold: 100, pollIntervalSeconds: 3600 },
      actionSpec: { endpoint: `${sink.url}/json` },
    });

    const result = await publish({ kind: tag, v: 5 }, 'sensor-7');
    expect(result.matched).toBe(2);
    expect(result.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.executions.map((e: ExecutionData) => e.ruleId).sort()).toEqual([hit1.id, hit2.id].sort());
    for (const e of result.executions as ExecutionData[]) {
      expect(['RUNNING', 'SUCCESS']).toContain(e.status);
      expect(e).toMatchObject({ executedBy: 'event', conditionMet: true, depth: 0, cascadeId: e.id, payload: { kind: tag, v: 5 } });
      expect(e.references.event).toEqual({ eventId: result.eventId, source: 'sensor-7' });
      expect(e.references.trigger).not.toBeNull();
      const done = await waitFinished(t, e.id);
      expect(done.status).toBe('SUCCESS');
      expect(done.references.event).toEqual({ eventId: result.eventId, source: 'sensor-7' });
    }
    await sink.waitForRequests(2, '/json');
    expect(
      sink
        .requestsTo('/json')
        .map((r) => r.query.get('rule'))
        .sort(),
    ).toEqual(['1', '2']);
    expect(
      sink
        .requestsTo('/json')
        .find((r) => r.query.get('rule') === '1')!
        .query.get('v'),
    ).toBe('5');
    for (const rule of [inactive, other, schedule, metric]) expect(await countExecutions(t, { ruleId: rule.id })).toBe(0);

    // Only one of the two conditions now: matched 1; no source gives null.
    const fewer = await publish({ kind: tag, v: 1 });
    expect(fewer.matched).toBe(1);
    expect(fewer.executions).toHaveLength(1);
    expect(fewer.executions[0].ruleId).toBe(hit1.id);
    expect(fewer.executions[0].references.event).toEqual({ eventId: fewer.eventId, source: null });
    expect(fewer.eventId).not.toBe(result.eventId);
    await waitFinished(t, fewer.executions[0].id);
  });

  it('an event that matches nothing leaves no row', async () => {
    const before = await countExecutions(t);
    const result = await publish({ kind: randomUUID() });
    expect(result).toMatchObject({ matched: 0, executions: [] });
    expect(await countExecutions(t)).toBe(before);
  });

  it('answers without waiting for actions, and counts a SKIPPED match', async () => {
    const tag = randomUUID();
    const rule = await createRule(t, { triggerSpec: { field: 'kind', op: '==', value: tag }, actionSpec: { endpoint: `${sink.url}/slow` } });
    const first = await publish({ kind: tag });
    expect(first.matched).toBe(1);
    expect(first.executions[0].status).toBe('RUNNING');
    const second = await publish({ kind: tag });
    expect(second.matched).toBe(1);
    expect(second.executions[0]).toMatchObject({
      status: 'SKIPPED',
      skipReason: 'RULE_ALREADY_RUNNING',
      conditionMet: false,
      durationMs: 0,
      executedBy: 'event',
    });
    expect(second.executions[0].references).toMatchObject({ trigger: null, event: { eventId: second.eventId, source: null } });
    expect((await waitFinished(t, first.executions[0].id)).status).toBe('SUCCESS');
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(2);
  });

  it('sees a rule created just before, and stops seeing it once deactivated', async () => {
    const tag = randomUUID();
    // A publish first, so that the instance holds a loaded set of active rules to go stale.
    expect((await publish({ kind: tag })).matched).toBe(0);
    const rule = await createRule(t, { triggerSpec: { field: 'kind', op: '==', value: tag }, actionSpec: { endpoint: `${sink.url}/json` } });
    const seen = await publish({ kind: tag });
    expect(seen.matched).toBe(1);
    expect(seen.executions[0].ruleId).toBe(rule.id);
    await waitFinished(t, seen.executions[0].id);
    expect((await publish({ kind: randomUUID() })).matched).toBe(0);
    await updateRule(t, rule.id, { active: false });
    const unseen = await publish({ kind: tag });
    expect(unseen).toMatchObject({ matched: 0, executions: [] });
    expect(await countExecutions(t, { ruleId: rule.id })).toBe(1);
    // Again and again, each right after the write that answered (no time for a notice to travel).
    for (let i = 0; i < 8; i++) {
      const each = `${tag}-loop-${i}`;
      const created = await createRule(t, { triggerSpec: { field: 'kind', op: '==', value: each }, actionSpec: { endpoint: `${sink.url}/json` } });
      const hit = await publish({ kind: each });
      expect(hit.matched, `publish ${i} right after createRule`).toBe(1);
      await updateRule(t, created.id, { active: false });
      expect((await publish({ kind: each })).matched, `publish ${i} right after deactivation`).toBe(0);
      await waitFinished(t, hit.executions[0].id);
    }
    // A changed condition is seen at once too.
    await updateRule(t, rule.id, { active: true, triggerSpec: { field: 'kind', op: '==', value: `${tag}-2` } });
    expect((await publish({ kind: tag })).matched).toBe(0);
    const changed = await publish({ kind: `${tag}-2` });
    expect(changed.matched).toBe(1);
    await waitFinished(t, changed.executions[0].id);
  });
});
