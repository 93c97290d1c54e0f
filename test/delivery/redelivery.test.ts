import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends, ok, refusal, unique } from '../support/harness.js';
import { appWithSink, createRule, updateRule, type FreshApp } from '../support/rules.js';
import type { Sink, SinkRoute } from '../support/sink.js';
import { poll, sleep } from '../support/wait.js';
import {
  DELIVERY_FIELDS,
  REDELIVER_FAILED,
  getCascade,
  redeliver,
  redeliverRaw,
  retrying,
  triggerDelivery,
  waitFinal,
  webhookId,
  type DeliveryExecution,
} from '../support/delivery.js';

/**
 * Redelivery end to end (SPEC.md "Delivery", "Running, locks and cascades"): a webhook that ran
 * out of attempts, the receiver then fixed, and redeliver / redeliverFailed sending the request
 * again as new executions, with the same `webhook-id`, the rule's current spec and its refusals.
 */

const EXECUTIONS = `query($ruleId: ID!) { executions(ruleId: $ruleId, first: 100) { totalCount edges { node { ${DELIVERY_FIELDS} } } } }`;

async function executionsOf(t: FreshApp, ruleId: string): Promise<DeliveryExecution[]> {
  return ok(await t.gql(EXECUTIONS, { ruleId })).executions.edges.map((e: { node: DeliveryExecution }) => e.node);
}

describe.each(backends())('redelivery (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  /** A path of the test's own on the sink. */
  const newPath = (route: SinkRoute) => {
    const path = `/${unique('hook').replace(' ', '-')}`;
    sink.route(path, route);
    return path;
  };

  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
  });

  it('a receiver that never recovers: FAILED after maxAttempts; fixed, redeliver sends it again as a new SUCCESS execution', async () => {
    const path = newPath({ status: 503, body: { error: 'down' } });
    const rule = await createRule(t, {
      actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 3, delayMs: 300, backoff: 'fixed' }, { method: 'POST', body: { order: '{{payload.order}}' } }),
    });
    const payload = { order: 42, note: 'kept as sent' };
    const first = await triggerDelivery(t, rule.id, payload);
    expect(first.status).toBe('RETRYING');
    const failed = await waitFinal(t, first.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.code).toBe('WEBHOOK_FAILED');
    expect(failed.nextAttemptAt).toBeNull();
    expect(failed.finishedAt).not.toBeNull();
    expect(failed.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([
      [1, 503, 'WEBHOOK_FAILED'],
      [2, 503, 'WEBHOOK_FAILED'],
      [3, 503, 'WEBHOOK_FAILED'],
    ]);
    expect(failed.logs!.map((l) => l.level)).toEqual(['WARN', 'WARN', 'ERROR']);
    const failedCascade = (await getCascade(t, failed.cascadeId))!;
    expect(failedCascade.status).toBe('FAILED');
    expect(failedCascade.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'FAILED' });
    expect(sink.requestsTo(path)).toHaveLength(3);

    sink.route(path, { status: 200, body: { ok: true } });
    const again = await redeliver(t, failed.id);
    expect(again.id).not.toBe(failed.id);
    expect(again).toMatchObject({
      status: 'SUCCESS',
      ruleId: rule.id,
      redeliveryOf: failed.id,
      executedBy: 'redeliver',
      cascadeId: again.id,
      parentId: null,
      depth: 0,
      payload,
      error: null,
    });
    expect(again.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([[1, 200, null]]);
    expect(again.finishedAt).not.toBeNull();
    // The original is left as it was.
    const original = (await waitFinal(t, failed.id))!;
    expect(original).toMatchObject({ status: 'FAILED', redeliveryOf: null });
    expect(original.attempts).toHaveLength(3);
    const cascade = (await getCascade(t, again.id))!;
    expect(cascade.status).toBe('SUCCESS');
    expect(cascade.events.every((e) => e.executionId === again.id)).toBe(true);

    // Every request, the retries and the redelivery, carries the original's id as webhook-id and a fresh timestamp.
    const received = sink.requestsTo(path);
    expect(received).toHaveLength(4);
    expect(received.map(webhookId)).toEqual([failed.id, failed.id, failed.id, failed.id]);
    for (const request of received) {
      expect(request.json).toEqual({ order: 42 });
      const stamp = String(request.headers['webhook-timestamp']);
      expect(stamp).toMatch(/^\d+$/);
      expect(Math.abs(Number(stamp) - request.at / 1000)).toBeLessThanOrEqual(5);
    }
  });

  it('redeliver uses the rule current spec: a fixed endpoint applies, and an execution may be redelivered more than once', async () => {
    const broken = newPath({ status: 500 });
    const fixed = newPath({ status: 200, body: { fixed: true } });
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}${broken}`, params: { v: '{{payload.v}}' } } });
    const failed = await triggerDelivery(t, rule.id, { v: 'x' });
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts).toHaveLength(1);

    await updateRule(t, rule.id, { actionSpec: { endpoint: `${sink.url}${fixed}`, params: { v: 'new {{payload.v}}' } } });
    const first = await redeliver(t, failed.id);
    expect(first).toMatchObject({ status: 'SUCCESS', redeliveryOf: failed.id, result: { status: 200, body: { fixed: true } } });
    const second = await redeliver(t, failed.id);
    expect(second).toMatchObject({ status: 'SUCCESS', redeliveryOf: failed.id });
    expect(second.id).not.toBe(first.id);

    expect(sink.requestsTo(broken)).toHaveLength(1);
    const sent = sink.requestsTo(fixed);
    expect(sent).toHaveLength(2);
    expect(sent.map((r) => r.query.get('v'))).toEqual(['new x', 'new x']);
    expect(sent.map(webhookId)).toEqual([failed.id, failed.id]);
  });

  it('redeliver uses the rule current retry policy and answers RETRYING while it retries', async () => {
    let calls = 0;
    const path = newPath(() => (++calls <= 2 ? { status: 503 } : { status: 200 }));
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}${path}` } });
    const failed = await triggerDelivery(t, rule.id, {});
    expect(failed.status).toBe('FAILED');
    await updateRule(t, rule.id, { actionSpec: retrying(`${sink.url}${path}`, { maxAttempts: 3, delayMs: 300, backoff: 'fixed' }) });
    const again = await redeliver(t, failed.id);
    expect(again.status).toBe('RETRYING');
    expect(again.nextAttemptAt).not.toBeNull();
    expect(again.redeliveryOf).toBe(failed.id);
    const done = await waitFinal(t, again.id);
    expect(done.status).toBe('SUCCESS');
    expect(done.attempts.map((a) => a.httpStatus)).toEqual([503, 200]);
    expect(sink.requestsTo(path).map(webhookId)).toEqual([failed.id, failed.id, failed.id]);
  });

  it('refuses an unknown execution, a SUCCESS one, a rule now chaining, a deleted rule and an inactive rule', async () => {
    refusal(await redeliverRaw(t, randomUUID()), 'NOT_FOUND');

    const good = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
    const success = await triggerDelivery(t, good.id, {});
    expect(success.status).toBe('SUCCESS');
    refusal(await redeliverRaw(t, success.id), 'BAD_USER_INPUT');

    const failedRun = async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/fail` } });
      const e = await triggerDelivery(t, rule.id, {});
      expect(e.status).toBe('FAILED');
      return { rule, e };
    };

    const chaining = await failedRun();
    await updateRule(t, chaining.rule.id, { actionSpec: { type: 'trigger_rule', rule_id: good.id } });
    refusal(await redeliverRaw(t, chaining.e.id), 'BAD_USER_INPUT');

    const deleted = await failedRun();
    expect(ok(await t.gql(`mutation($id: ID!) { deleteRule(id: $id) }`, { id: deleted.rule.id })).deleteRule).toBe(deleted.rule.id);
    refusal(await redeliverRaw(t, deleted.e.id), 'NOT_FOUND');

    const inactive = await failedRun();
    await updateRule(t, inactive.rule.id, { active: false });
    refusal(await redeliverRaw(t, inactive.e.id), 'RULE_INACTIVE');

    // None of the refusals ran anything.
    const sent = sink.requestsTo('/fail').length;
    expect(sent).toBe(3);
    for (const ruleId of [chaining.rule.id, inactive.rule.id]) {
      expect((await executionsOf(t, ruleId)).map((e) => e.executedBy)).toEqual(['manual']);
    }
  });

  it('redeliver keeps the rule concurrency: SKIPPED with RULE_ALREADY_RUNNING while the rule runs', async () => {
    let calls = 0;
    const path = newPath(() => (++calls === 1 ? { status: 500 } : { status: 200, delayMs: 1500 }));
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}${path}`, params: { n: '{{payload.n}}' } } });
    const failed = await triggerDelivery(t, rule.id, { n: 1 });
    expect(failed.status).toBe('FAILED');
    const busy = await triggerDelivery(t, rule.id, { n: 2 }, false);
    expect(busy.status).toBe('RUNNING');
    await sink.waitForRequests(2, path);
    const skipped = await redeliver(t, failed.id);
    expect(skipped).toMatchObject({ status: 'SKIPPED', skipReason: 'RULE_ALREADY_RUNNING', redeliveryOf: failed.id, executedBy: 'redeliver' });
  });

  it('redeliverFailed redelivers every FAILED webhook execution since a time, once, oldest first', async () => {
    let up = false;
    const path = newPath(() => (up ? { status: 200 } : { status: 500 }));
    // parallel: the redeliveries may run side by side.
    const rule = await createRule(t, {
      triggerSpec: { conditions: [], concurrency: { mode: 'parallel' } },
      actionSpec: { endpoint: `${sink.url}${path}`, params: { n: '{{payload.n}}' } },
    });
    const before = await triggerDelivery(t, rule.id, { n: 0 });
    expect(before.status).toBe('FAILED');
    await sleep(50);
    const since = new Date().toISOString();
    await sleep(50);
    const failed: DeliveryExecution[] = [];
    for (const n of [1, 2, 3]) {
      const e = await triggerDelivery(t, rule.id, { n });
      expect(e.status).toBe('FAILED');
      failed.push(e);
    }

    up = true;
    sink.reset();
    expect(ok(await t.gql(REDELIVER_FAILED, { ruleId: rule.id, since })).redeliverFailed).toBe(3);
    const redeliveries = await poll(
      async () => (await executionsOf(t, rule.id)).filter((e) => e.redeliveryOf !== null),
      (rows) => rows.length === 3 && rows.every((e) => e.status === 'SUCCESS'),
      15_000,
      'three redeliveries SUCCESS',
    );
    expect(redeliveries.map((e) => e.redeliveryOf).sort()).toEqual(failed.map((e) => e.id).sort());
    const of = (original: DeliveryExecution) => redeliveries.find((r) => r.redeliveryOf === original.id)!;
    for (const original of failed) {
      expect(of(original)).toMatchObject({ executedBy: 'redeliver', cascadeId: of(original).id, payload: original.payload, status: 'SUCCESS' });
    }
    // Oldest first: each starts no later than the redelivery of a newer one.
    for (let i = 1; i < failed.length; i++) {
      expect(Date.parse(of(failed[i - 1]!).startedAt)).toBeLessThanOrEqual(Date.parse(of(failed[i]!).startedAt));
    }
    // The one before `since` was not taken; each request carries its original's id.
    expect(redeliveries.some((e) => e.redeliveryOf === before.id)).toBe(false);
    const sent = sink.requestsTo(path);
    expect(sent.map((r) => r.query.get('n')).sort()).toEqual(['1', '2', '3']);
    for (const request of sent) expect(webhookId(request)).toBe(failed[Number(request.query.get('n')) - 1]!.id);

    // Already redelivered: a second call starts nothing.
    expect(ok(await t.gql(REDELIVER_FAILED, { ruleId: rule.id, since })).redeliverFailed).toBe(0);
    await sleep(200);
    expect((await executionsOf(t, rule.id)).filter((e) => e.redeliveryOf !== null)).toHaveLength(3);

    // An earlier since takes the older one too, once.
    expect(ok(await t.gql(REDELIVER_FAILED, { ruleId: rule.id, since: new Date(Date.parse(before.startedAt) - 1000).toISOString() })).redeliverFailed).toBe(1);
    await poll(
      async () => (await executionsOf(t, rule.id)).filter((e) => e.redeliveryOf === before.id),
      (rows) => rows.length === 1 && rows[0]!.status === 'SUCCESS',
      10_000,
      'the older one redelivered',
    );
  });

  it('redeliverFailed refuses an unknown rule and answers 0 when nothing failed', async () => {
    refusal(await t.gql(REDELIVER_FAILED, { ruleId: randomUUID(), since: new Date(0).toISOString() }), 'NOT_FOUND');
    const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
    expect((await triggerDelivery(t, rule.id, {})).status).toBe('SUCCESS');
    expect(ok(await t.gql(REDELIVER_FAILED, { ruleId: rule.id, since: new Date(0).toISOString() })).redeliverFailed).toBe(0);
  });
});
