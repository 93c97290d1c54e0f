import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backends, ok, refusal, unique } from '../support/harness.js';
import { appWithSink, createRule, updateRule, type FreshApp } from '../support/rules.js';
import { closedPort, type Sink } from '../support/sink.js';
import { pollSettled, sleep } from '../support/wait.js';
import { subscribeWs, wsClient } from '../support/ws.js';
import {
  DELIVERY_FIELDS,
  FINAL_STATUSES,
  PROGRESS,
  failingFirst,
  getCascade,
  getDelivery,
  ms,
  retrying,
  triggerDelivery,
  waitFinal,
  type CascadeEventData,
  type DeliveryExecution,
} from '../support/delivery.js';

/**
 * Webhook retries end to end (SPEC.md "Delivery", "webhook", "Running, locks and cascades",
 * "Events of a cascade", "Action logs"): a real server and database, real local receivers that
 * fail their first calls, answer 429 with Retry-After, or hang; the attempts, the RETRYING row,
 * its events, log lines and updates as a client sees them. Retry delays are kept at 100..300 ms.
 */

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
/** One key for every request: the receiver counts a path's calls, whatever their headers. */
const byPath = () => 'path';
const UPDATES = `subscription($id: ID) { executionUpdates(ruleId: $id) { ${DELIVERY_FIELDS} } }`;

describe.each(backends())('webhook retries (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  let path = '';
  /** A path of this test's own on the sink, answered by `route`. */
  const endpoint = (route: Parameters<Sink['route']>[1]) => {
    path = `/${unique('hook').replace(' ', '-')}`;
    sink.route(path, route);
    return `${sink.url}${path}`;
  };

  // SECRETS_KEY: a missing secret must be a missing secret on PostgreSQL too, not a missing key.
  appWithSink(backend, { SECRETS_KEY: randomBytes(32).toString('hex') }, (app, s) => {
    t = app;
    sink = s;
  });

  it('fails twice with 503, then succeeds: RETRYING with nextAttemptAt, three attempts on time, events, logs and updates', async () => {
    const rule = await createRule(t, {
      actionSpec: retrying(endpoint(failingFirst(2, { status: 503, body: 'busy' }, { status: 200, body: { ok: true } }, byPath)), {
        maxAttempts: 5,
        delayMs: 200,
        backoff: 'fixed',
      }),
    });
    // A finished cascade to learn, on the same socket, that the subscription below is in place.
    const probe = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
    const probeRun = await triggerDelivery(t, probe.id);
    const client = wsClient(t.url);
    try {
      const updates = subscribeWs<DeliveryExecution>(client, UPDATES, { id: rule.id }, 20_000);
      expect((await subscribeWs(client, PROGRESS, { id: probeRun.cascadeId }).done).completed).toBe(true);

      const first = await triggerDelivery(t, rule.id, { n: 1 });
      expect(first.status).toBe('RETRYING');
      expect(first.nextAttemptAt).not.toBeNull();
      expect(first.finishedAt).toBeNull();
      expect(first.durationMs).toBeNull();
      expect(first.error).toBeNull();
      expect(first.attempts).toHaveLength(1);
      expect(first.attempts[0]).toMatchObject({ number: 1, httpStatus: 503, errorCode: 'WEBHOOK_FAILED' });
      expect(ms(first.nextAttemptAt)).toBeGreaterThanOrEqual(ms(first.attempts[0]!.at) + 200);

      // Every nextAttemptAt the row shows while RETRYING, in order.
      const shown = [first.nextAttemptAt!];
      const { value: last, reached } = await pollSettled(
        async () => {
          const e = (await getDelivery(t, first.id))!;
          if (e.status === 'RETRYING') {
            expect(e.finishedAt).toBeNull();
            expect(e.durationMs).toBeNull();
            if (e.nextAttemptAt && e.nextAttemptAt !== shown.at(-1)) shown.push(e.nextAttemptAt);
          }
          return e;
        },
        (e) => FINAL_STATUSES.includes(e.status),
        15_000,
        5,
      );
      expect(reached, `still ${last.status}`).toBe(true);
      expect(last.status).toBe('SUCCESS');
      expect(last.error).toBeNull();
      expect(last.nextAttemptAt).toBeNull();
      expect(last.finishedAt).not.toBeNull();
      expect(last.durationMs).not.toBeNull();
      expect(last.attempts.map((a) => a.number)).toEqual([1, 2, 3]);
      expect(last.attempts.map((a) => a.httpStatus)).toEqual([503, 503, 200]);
      expect(last.attempts.map((a) => a.errorCode)).toEqual(['WEBHOOK_FAILED', 'WEBHOOK_FAILED', null]);
      expect(last.result).toEqual({ status: 200, body: { ok: true } });
      // A failed attempt says what happened, with the answer's body.
      expect(last.attempts[0]!.message).toContain('busy');

      // Each retry is sent no earlier than the nextAttemptAt shown before it, and within 1 s after it.
      const received = sink.requestsTo(path);
      expect(received).toHaveLength(3);
      expect(shown).toHaveLength(2);
      for (const n of [1, 2]) {
        const due = ms(shown[n - 1]);
        expect(ms(shown[n - 1]) - ms(last.attempts[n - 1]!.at), `the delay after attempt ${n}`).toBeGreaterThanOrEqual(200);
        expect(ms(last.attempts[n]!.at), `attempt ${n + 1} sent`).toBeGreaterThanOrEqual(due);
        expect(received[n]!.at, `attempt ${n + 1} received`).toBeGreaterThanOrEqual(due);
        expect(received[n]!.at - due, `attempt ${n + 1} received after it was due`).toBeLessThanOrEqual(1000);
      }

      const cascade = (await getCascade(t, first.cascadeId))!;
      expect(cascade.status).toBe('SUCCESS');
      expect(cascade.events.map((e) => e.seq)).toEqual(range(8));
      expect(cascade.events.map((e) => e.kind)).toEqual([
        'RULE_STARTED',
        'CONDITION_EVALUATED',
        'ACTION_STARTED',
        'ACTION_RETRYING',
        'ACTION_RETRYING',
        'ACTION_FINISHED',
        'RULE_FINISHED',
        'CASCADE_FINISHED',
      ]);
      const retryingEvents = cascade.events.filter((e) => e.kind === 'ACTION_RETRYING');
      expect(retryingEvents.map((e) => [e.status, e.executionId])).toEqual([
        ['RETRYING', first.id],
        ['RETRYING', first.id],
      ]);
      for (const e of retryingEvents) expect(e.message).toBeTruthy();
      expect(cascade.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'SUCCESS', executionId: first.id });

      const levels = last.logs!.map((l) => l.level);
      expect(levels).toEqual(['WARN', 'WARN', 'INFO']);
      expect(last.logs!.map((l) => l.seq)).toEqual([1, 2, 3]);

      await updates.waitFor((rows) => rows.some((r) => r.id === first.id && r.status === 'SUCCESS'));
      // The last row of the rule: nothing of the first is still on its way.
      await sleep(300);
      updates.dispose();
      expect(updates.errors).toEqual([]);
      expect(updates.events.filter((r) => r.id === first.id).map((r) => r.status)).toEqual(['RUNNING', 'RETRYING', 'SUCCESS']);
    } finally {
      await client.dispose();
    }
  });

  it('exponential backoff: retry n waits between half and all of delayMs * 2^(n-1), at most maxDelayMs', async () => {
    const rule = await createRule(t, {
      actionSpec: retrying(endpoint(failingFirst(3, { status: 500 }, { status: 200 }, byPath)), {
        maxAttempts: 4,
        delayMs: 200,
        maxDelayMs: 600,
        backoff: 'exponential',
      }),
    });
    const first = await triggerDelivery(t, rule.id);
    expect(first.status).toBe('RETRYING');
    const shown = [first.nextAttemptAt!];
    const { value: last } = await pollSettled(
      async () => {
        const e = (await getDelivery(t, first.id))!;
        if (e.status === 'RETRYING' && e.nextAttemptAt && e.nextAttemptAt !== shown.at(-1)) shown.push(e.nextAttemptAt);
        return e;
      },
      (e) => FINAL_STATUSES.includes(e.status),
      15_000,
      5,
    );
    expect(last.status).toBe('SUCCESS');
    expect(last.attempts.map((a) => a.httpStatus)).toEqual([500, 500, 500, 200]);
    expect(shown).toHaveLength(3);
    // Ceilings: 200, 400, then 800 capped at 600. The delay runs from the failed answer (at + durationMs).
    const slack = 25;
    for (const [i, ceiling] of [200, 400, 600].entries()) {
      const attempt = last.attempts[i]!;
      const failedAt = ms(attempt.at) + attempt.durationMs;
      const delay = ms(shown[i]) - failedAt;
      expect(delay, `delay of retry ${i + 1}`).toBeGreaterThanOrEqual(ceiling / 2 - slack);
      expect(delay, `delay of retry ${i + 1}`).toBeLessThanOrEqual(ceiling + slack);
      expect(ms(last.attempts[i + 1]!.at)).toBeGreaterThanOrEqual(ms(shown[i]));
    }
  });

  it('a 429 with Retry-After: 1 waits that second instead of delayMs; a Retry-After over maxDelayMs is capped', async () => {
    const throttled = await createRule(t, {
      actionSpec: retrying(endpoint(failingFirst(1, { status: 429, headers: { 'Retry-After': '1' } }, { status: 200 }, byPath)), {
        maxAttempts: 3,
        delayMs: 100,
        backoff: 'exponential',
      }),
    });
    const throttledPath = path;
    const first = await triggerDelivery(t, throttled.id);
    expect(first.status).toBe('RETRYING');
    expect(first.attempts[0]).toMatchObject({ number: 1, httpStatus: 429, errorCode: 'WEBHOOK_FAILED' });
    expect(ms(first.nextAttemptAt) - ms(first.attempts[0]!.at)).toBeGreaterThanOrEqual(1000);
    const done = await waitFinal(t, first.id);
    expect(done.status).toBe('SUCCESS');
    expect(done.attempts.map((a) => a.httpStatus)).toEqual([429, 200]);
    const [one, two] = sink.requestsTo(throttledPath);
    expect(two!.at - one!.at).toBeGreaterThanOrEqual(1000);

    // An HTTP date works as well: two seconds ahead, so at least one whole second after the answer.
    const dated = await createRule(t, {
      actionSpec: retrying(
        endpoint(failingFirst(1, { status: 503, headers: { 'Retry-After': new Date(Date.now() + 2500).toUTCString() } }, { status: 200 }, byPath)),
        { maxAttempts: 2, delayMs: 100 },
      ),
    });
    const datedPath = path;
    const datedRun = await triggerDelivery(t, dated.id);
    expect(datedRun.status).toBe('RETRYING');
    expect((await waitFinal(t, datedRun.id)).status).toBe('SUCCESS');
    const [d1, d2] = sink.requestsTo(datedPath);
    expect(d2!.at - d1!.at).toBeGreaterThanOrEqual(1000);

    // Retry-After: 3600 against maxDelayMs 300: the retry comes after at most 300 ms (+1 s of slack).
    const capped = await createRule(t, {
      actionSpec: retrying(endpoint(failingFirst(1, { status: 429, headers: { 'Retry-After': '3600' } }, { status: 200 }, byPath)), {
        maxAttempts: 2,
        delayMs: 100,
        maxDelayMs: 300,
      }),
    });
    const cappedPath = path;
    const cappedRun = await triggerDelivery(t, capped.id);
    expect(cappedRun.status).toBe('RETRYING');
    const attempt = cappedRun.attempts[0]!;
    expect(ms(cappedRun.nextAttemptAt) - ms(attempt.at)).toBeLessThanOrEqual(attempt.durationMs + 300 + 100);
    const cappedDone = await waitFinal(t, cappedRun.id, 5000);
    expect(cappedDone.status).toBe('SUCCESS');
    expect(cappedDone.attempts).toHaveLength(2);
    const [c1, c2] = sink.requestsTo(cappedPath);
    expect(c2!.at - c1!.at).toBeLessThan(300 + 1000 + 200);
  });

  it('a receiver that hangs past timeoutMs fails the attempt as a timeout (no status), and it is retried', async () => {
    let calls = 0;
    const rule = await createRule(t, {
      actionSpec: retrying(
        endpoint(() => (++calls === 1 ? { never: true } : { status: 200, body: { late: false } })),
        { maxAttempts: 3, delayMs: 300 },
        { timeoutMs: 300 },
      ),
    });
    const first = await triggerDelivery(t, rule.id);
    expect(first.status).toBe('RETRYING');
    expect(first.attempts).toHaveLength(1);
    expect(first.attempts[0]).toMatchObject({ number: 1, httpStatus: null, errorCode: 'WEBHOOK_FAILED' });
    expect(first.attempts[0]!.durationMs).toBeGreaterThanOrEqual(250);
    const done = await waitFinal(t, first.id);
    expect(done.status).toBe('SUCCESS');
    expect(done.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([
      [1, null, 'WEBHOOK_FAILED'],
      [2, 200, null],
    ]);
    expect(sink.requestsTo(path)).toHaveLength(2);
  });

  it('a refused connection is worth another attempt: FAILED with WEBHOOK_FAILED after maxAttempts, ERROR last', async () => {
    const port = await closedPort();
    const rule = await createRule(t, { actionSpec: retrying(`http://127.0.0.1:${port}/nobody`, { maxAttempts: 2, delayMs: 300 }) });
    const first = await triggerDelivery(t, rule.id);
    expect(first.status).toBe('RETRYING');
    const done = await waitFinal(t, first.id);
    expect(done.status).toBe('FAILED');
    expect(done.error?.code).toBe('WEBHOOK_FAILED');
    expect(done.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([
      [1, null, 'WEBHOOK_FAILED'],
      [2, null, 'WEBHOOK_FAILED'],
    ]);
    expect(done.logs!.map((l) => l.level)).toEqual(['WARN', 'ERROR']);
  });

  it('a 400 (not in retryOn) is not retried: FAILED after one attempt', async () => {
    const rule = await createRule(t, {
      actionSpec: retrying(endpoint({ status: 400, body: `bad ${'e'.repeat(3000)}` }), { maxAttempts: 3, delayMs: 100 }),
    });
    const e = await triggerDelivery(t, rule.id);
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('WEBHOOK_FAILED');
    expect(e.nextAttemptAt).toBeNull();
    expect(e.finishedAt).not.toBeNull();
    expect(e.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([[1, 400, 'WEBHOOK_FAILED']]);
    // At most 1 KiB of the answer's body in the attempt's message.
    expect(e.attempts[0]!.message).toContain('bad eee');
    expect(e.attempts[0]!.message!.length).toBeLessThan(1024 + 512);
    await sleep(400);
    expect(sink.requestsTo(path)).toHaveLength(1);
    expect((await getDelivery(t, e.id))!.attempts).toHaveLength(1);
  });

  it('a status outside a custom retryOn is not retried, one inside it is', async () => {
    const rule = await createRule(t, {
      actionSpec: retrying(endpoint(failingFirst(1, { status: 418 }, { status: 200 }, byPath)), { maxAttempts: 3, delayMs: 300, retryOn: [418] }),
    });
    const e = await triggerDelivery(t, rule.id);
    expect(e.status).toBe('RETRYING');
    expect((await waitFinal(t, e.id)).attempts.map((a) => a.httpStatus)).toEqual([418, 200]);

    const other = await createRule(t, { actionSpec: retrying(endpoint({ status: 503 }), { maxAttempts: 3, delayMs: 100, retryOn: [418] }) });
    const failed = await triggerDelivery(t, other.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts).toHaveLength(1);
  });

  it('a refusal by the outbound guard is not retried: one attempt, no status', async () => {
    const rule = await createRule(t, { actionSpec: retrying('http://10.255.255.1/hook', { maxAttempts: 3, delayMs: 100 }) });
    const e = await triggerDelivery(t, rule.id);
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('WEBHOOK_FAILED');
    expect(e.attempts.map((a) => [a.number, a.httpStatus, a.errorCode])).toEqual([[1, null, 'WEBHOOK_FAILED']]);
    await sleep(400);
    expect((await getDelivery(t, e.id))!.attempts).toHaveLength(1);
  });

  it('a missing secret is not retried: FAILED with SECRET_NOT_FOUND after one attempt, nothing sent', async () => {
    const rule = await createRule(t, {
      actionSpec: retrying(endpoint({ status: 200 }), { maxAttempts: 3, delayMs: 100 }, { headers: { 'X-T': '{{secrets.NOPE}}' } }),
    });
    const e = await triggerDelivery(t, rule.id);
    expect(e.status).toBe('FAILED');
    expect(e.error?.code).toBe('SECRET_NOT_FOUND');
    expect(e.error?.message).toContain('NOPE');
    expect(e.attempts).toHaveLength(1);
    expect(e.attempts[0]).toMatchObject({ number: 1, httpStatus: null, errorCode: 'SECRET_NOT_FOUND' });
    await sleep(400);
    expect(sink.requestsTo(path)).toHaveLength(0);
    expect((await getDelivery(t, e.id))!.attempts).toHaveLength(1);
  });

  it('a RETRYING execution does not hold its rule: a second triggerRule runs meanwhile (skip mode)', async () => {
    // The first run (n=1) fails twice, 300 ms apart; the second (n=2) succeeds at once.
    let failuresOfFirst = 0;
    const rule = await createRule(t, {
      actionSpec: retrying(
        endpoint((request) => (request.query.get('n') === '1' && ++failuresOfFirst <= 2 ? { status: 503 } : { status: 200 })),
        { maxAttempts: 3, delayMs: 300, backoff: 'fixed' },
        { params: { n: '{{payload.n}}' } },
      ),
    });
    const first = await triggerDelivery(t, rule.id, { n: 1 });
    expect(first.status).toBe('RETRYING');
    const second = await triggerDelivery(t, rule.id, { n: 2 });
    expect(second.skipReason).toBeNull();
    expect(second.status).toBe('SUCCESS');
    expect((await getDelivery(t, first.id))!.status).toBe('RETRYING');
    const done = await waitFinal(t, first.id);
    expect(done.status).toBe('SUCCESS');
    expect(done.attempts).toHaveLength(3);
  });

  it('a run queued before its rule gained a retry policy is promoted with it, and its second attempt sends the same request', async () => {
    const tag = unique('queued');
    let calls = 0;
    const url = endpoint(() => {
      calls++;
      // The first run holds the rule a while; the queued run's first attempt fails, its second succeeds.
      return calls === 1 ? { status: 200, delayMs: 700 } : calls === 2 ? { status: 503 } : { status: 200 };
    });
    const triggerSpec = { conditions: [{ field: 'tag', op: '==', value: tag }], concurrency: { mode: 'queue', maxQueued: 10 } };
    const rule = await createRule(t, { triggerSpec, actionSpec: { endpoint: url, method: 'POST' } });
    // Earlier tests' rules match every event too: this rule's own run is picked out.
    const publish = async () =>
      ok(
        await t.gql(`mutation($event: JSON!) { publishEvent(event: $event) { executions { id ruleId status } } }`, { event: { tag } }),
      ).publishEvent.executions.find((e: { ruleId: string }) => e.ruleId === rule.id);
    const first = await publish();
    const queued = await publish();
    expect([first.status, queued.status]).toEqual(['RUNNING', 'QUEUED']);
    await updateRule(t, rule.id, { actionSpec: { endpoint: url, method: 'POST', retry: { maxAttempts: 3, delayMs: 100, backoff: 'fixed' } } });

    const done = await waitFinal(t, queued.id);
    expect(done.status, JSON.stringify(done.attempts)).toBe('SUCCESS');
    expect(done.attempts.map((a) => a.httpStatus)).toEqual([503, 200]);
    expect(sink.requestsTo(path)).toHaveLength(3);
  });

  it('a cascade A -> B whose webhook retries: A answers with B RETRYING, the cascade runs until B ends, B later events after A', async () => {
    const b = await createRule(t, {
      name: unique('B'),
      actionSpec: retrying(endpoint(failingFirst(2, { status: 503 }, { status: 200 }, byPath)), { maxAttempts: 3, delayMs: 300, backoff: 'fixed' }),
    });
    const a = await createRule(t, { name: unique('A'), actionSpec: { type: 'trigger_rule', rule_id: b.id } });

    const root = await triggerDelivery(t, a.id, { k: 1 });
    expect(root.status).toBe('SUCCESS');
    expect(root.result.trigger_result.status).toBe('RETRYING');
    const childId = root.result.trigger_result.executionId as string;
    expect((await getDelivery(t, childId))!.status).toBe('RETRYING');
    const running = (await getCascade(t, root.id))!;
    expect(running.status).toBe('RUNNING');
    expect(running.finishedAt).toBeNull();
    expect(running.events.some((e) => e.kind === 'CASCADE_FINISHED')).toBe(false);

    // Joins while B is RETRYING: the past events, then the live ones, then completes.
    const progress = subscribeWs<CascadeEventData>(t.url, PROGRESS, { id: root.id }, 20_000);
    const child = await waitFinal(t, childId);
    expect(child.status).toBe('SUCCESS');
    expect(child.attempts).toHaveLength(3);
    const outcome = await progress.done;

    const cascade = (await getCascade(t, root.id))!;
    expect(cascade.status).toBe('SUCCESS');
    expect(cascade.finishedAt).not.toBeNull();
    expect(cascade.events.map((e) => e.seq)).toEqual(range(cascade.events.length));
    expect(cascade.events.map((e) => [e.kind, e.executionId])).toEqual([
      ['RULE_STARTED', root.id],
      ['CONDITION_EVALUATED', root.id],
      ['ACTION_STARTED', root.id],
      ['RULE_STARTED', childId],
      ['CONDITION_EVALUATED', childId],
      ['ACTION_STARTED', childId],
      ['ACTION_RETRYING', childId],
      ['ACTION_FINISHED', root.id],
      ['RULE_FINISHED', root.id],
      ['ACTION_RETRYING', childId],
      ['ACTION_FINISHED', childId],
      ['RULE_FINISHED', childId],
      ['CASCADE_FINISHED', root.id],
    ]);
    expect(cascade.events.at(-1)).toMatchObject({ status: 'SUCCESS', ruleId: a.id });

    expect(outcome.errors).toEqual([]);
    expect(outcome.completed).toBe(true);
    expect(outcome.events.map((e) => [e.seq, e.kind, e.executionId, e.status])).toEqual(cascade.events.map((e) => [e.seq, e.kind, e.executionId, e.status]));
  });

  describe('validation of retry in the action spec', () => {
    const CREATE = `mutation($input: CreateRuleInput!) { createRule(input: $input) { id actionSpec } }`;
    const create = (actionSpec: unknown) => t.gql(CREATE, { input: { name: unique('retry spec'), triggerSpec: { conditions: [] }, actionSpec } });
    const hook = (retry: unknown) => ({ type: 'webhook', endpoint: 'https://example.com/hook', retry });

    it.each([
      ['maxAttempts 0', { maxAttempts: 0 }, 'actionSpec.retry.maxAttempts'],
      ['maxAttempts 26', { maxAttempts: 26 }, 'actionSpec.retry.maxAttempts'],
      ['maxAttempts not a whole number', { maxAttempts: 2.5 }, 'actionSpec.retry.maxAttempts'],
      ['delayMs 99', { maxAttempts: 3, delayMs: 99 }, 'actionSpec.retry.delayMs'],
      ['delayMs over an hour', { maxAttempts: 3, delayMs: 3_600_001 }, 'actionSpec.retry.delayMs'],
      ['maxDelayMs below delayMs', { maxAttempts: 3, delayMs: 500, maxDelayMs: 400 }, 'actionSpec.retry.maxDelayMs'],
      ['maxDelayMs over a day', { maxAttempts: 3, maxDelayMs: 86_400_001 }, 'actionSpec.retry.maxDelayMs'],
      ['backoff linear', { maxAttempts: 3, backoff: 'linear' }, 'actionSpec.retry.backoff'],
      ['retryOn not a list', { maxAttempts: 3, retryOn: 503 }, 'actionSpec.retry.retryOn'],
      ['retryOn holding a word', { maxAttempts: 3, retryOn: [503, 'often'] }, 'actionSpec.retry.retryOn'],
      ['retryOn holding no HTTP status', { maxAttempts: 3, retryOn: [99] }, 'actionSpec.retry.retryOn'],
      ['an unknown key', { maxAttempts: 3, jitter: true }, 'actionSpec.retry.jitter'],
      ['retry not an object', 5, 'actionSpec.retry'],
    ])('refuses %s with BAD_USER_INPUT at its specPath', async (_what, retry, specPath) => {
      const error = refusal(await create(hook(retry)), 'BAD_USER_INPUT');
      expect(String(error.extensions?.specPath)).toMatch(new RegExp(`^${specPath.replaceAll('.', '\\.')}`));
      expect(error.message).toContain('actionSpec.retry');
    });

    it('refuses retry on an action that is not a webhook', async () => {
      const target = await createRule(t, { actionSpec: { endpoint: 'https://example.com/x' } });
      const error = refusal(await create({ type: 'trigger_rule', rule_id: target.id, retry: { maxAttempts: 3 } }), 'BAD_USER_INPUT');
      expect(error.extensions?.specPath).toBe('actionSpec.retry');
      const api = ok(
        await t.gql(`mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`, {
          input: { name: unique('script'), source: 'function main() { return 1; }' },
        }),
      ).createApiDefinition.id;
      const script = refusal(await create({ type: 'api_script', api_id: api, retry: { maxAttempts: 3 } }), 'BAD_USER_INPUT');
      expect(script.extensions?.specPath).toBe('actionSpec.retry');
    });

    it('fills the defaults: maxAttempts alone reads back with exponential backoff, 1 s, 1 h and the default statuses', async () => {
      const created = ok(await create(hook({ maxAttempts: 3 }))).createRule;
      const read = ok(await t.gql(`query($id: ID!) { rule(id: $id) { actionSpec } }`, { id: created.id })).rule;
      const defaults = { maxAttempts: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, retryOn: [408, 425, 429, 500, 502, 503, 504] };
      expect(created.actionSpec.retry).toEqual(defaults);
      expect(read.actionSpec.retry).toEqual(defaults);

      // Bounds are accepted: 1 and 25 attempts, 100 ms, maxDelayMs equal to delayMs, fixed.
      for (const retry of [
        { maxAttempts: 1 },
        { maxAttempts: 25, delayMs: 100, maxDelayMs: 100, backoff: 'fixed', retryOn: [500] },
        { maxAttempts: 2, delayMs: 3_600_000, maxDelayMs: 86_400_000 },
      ]) {
        const rule = ok(await create(hook(retry))).createRule;
        expect(rule.actionSpec.retry).toMatchObject(retry);
      }
      // An update validates the same way.
      const updated = await t.gql(`mutation($id: ID!, $input: UpdateRuleInput!) { updateRule(id: $id, input: $input) { id } }`, {
        id: created.id,
        input: { actionSpec: hook({ maxAttempts: 0 }) },
      });
      expect(refusal(updated, 'BAD_USER_INPUT').extensions?.specPath).toBe('actionSpec.retry.maxAttempts');
    });
  });
});
