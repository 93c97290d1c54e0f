import { describe, expect, it } from 'vitest';
import { createSql } from '../../src/db/sqlAdapter.js';
import type { Sql } from '../../src/engine/store/sqlClient.js';
import { backends, ok, type TestApp, unique } from '../support/harness.js';
import type { Sink } from '../support/sink.js';
import { poll } from '../support/wait.js';
import { appWithSink, createRule, getExecution, LOG_FIELDS, trigger, waitFinished, type FreshApp } from '../support/rules.js';

/**
 * SPEC.md "Limits": no answer from outside or database refusal leaves a run RUNNING (and its
 * rule locked) while the process lives. Text PostgreSQL cannot store (U+0000, lone surrogates)
 * is stored as U+FFFD; a final write the database still refuses (here a real trigger added to the
 * test database raises) is written FAILED with STORE_FAILED. `references` stay within 64 KiB.
 */

const NUL = '\u0000';
const LONE = '\ud800';
const FFFD = '\uFFFD';
/** What the refusing triggers below look for in a row. */
const MARKER = 'REFUSE-THIS-ROW';
const MAX_REFERENCES_BYTES = 64 * 1024;

const CREATE_API = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id name } }`;
const API_LOG_FIELDS = 'apiExecutionId seq level message data';
const RUN_FIELDS = `id status output error { code message } logs { ${API_LOG_FIELDS} }`;
const EXECUTE = `mutation($apiId: ID!, $input: JSON) { executeApi(apiId: $apiId, input: $input) { ${RUN_FIELDS} } }`;
const RUNS = `query($id: ID!) { apiDefinition(id: $id) { executions(first: 10) { edges { node { ${RUN_FIELDS} } } } } }`;
const CASCADE = `query($id: ID!) { cascade(id: $id) { status events { seq kind status message executionId } } }`;

/** A script whose output and log lines hold U+0000 and a lone surrogate, made at run time (a spec may not hold them). */
const DIRTY_SCRIPT = `async function main(params, input, ctx) {
  const nul = String.fromCharCode(0);
  const lone = String.fromCharCode(0xd800);
  ctx.log('line' + nul + 'and' + lone, { ['key' + nul]: lone });
  return { text: 'a' + nul + 'b' + lone, [lone]: [nul], marker: (input && input.marker) || null };
}`;

/**
 * A BEFORE UPDATE trigger on `table` that raises when `column` holds MARKER: the database itself
 * refuses the run's final write, whatever the engine makes of the value.
 */
async function refuseMarked(sql: Sql, table: string, column: string): Promise<() => Promise<void>> {
  const name = `refuse_${table}`;
  await sql.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.${column}::text LIKE '%${MARKER}%' THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END IF;
      RETURN NEW;
    END $$`);
  await sql.query(`CREATE TRIGGER ${name} BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return async () => {
    await sql.query(`DROP TRIGGER ${name} ON ${table}`);
    await sql.query(`DROP FUNCTION ${name}()`);
  };
}

async function createScript(t: TestApp, source: string) {
  return ok<{ createApiDefinition: { id: string; name: string } }>(await t.gql(CREATE_API, { input: { name: unique('script'), kind: 'SCRIPT', source } }))
    .createApiDefinition;
}

async function storedRuns(t: TestApp, apiId: string) {
  return ok(await t.gql(RUNS, { id: apiId })).apiDefinition.executions.edges.map((e: { node: any }) => e.node);
}

/** The rule is free: one more trigger runs it (not SKIPPED with RULE_ALREADY_RUNNING). */
async function expectFree(t: TestApp, ruleId: string) {
  const next = await trigger(t, ruleId, { again: true });
  expect(next.skipReason, JSON.stringify(next)).toBeNull();
  expect(next.status).not.toBe('SKIPPED');
  return next;
}

/** Whether a value holds U+0000 or a lone surrogate (JSON text writes both as escapes). */
const hasUnstorable = (value: unknown) => /\\u(0000|d[89a-f])/.test(JSON.stringify(value));

describe.each(backends())('store safety (%s)', (backend) => {
  let t: FreshApp;
  let sink: Sink;
  let sql: Sql;

  appWithSink(backend, {}, (app, s) => {
    t = app;
    sink = s;
    sql = createSql(app.app.database.orm);
  });

  describe('text PostgreSQL cannot store is stored as U+FFFD', () => {
    it('a webhook answering U+0000 and a lone surrogate in JSON (values and keys) finishes, and the rule runs again', async () => {
      sink.route('/dirty-json', { status: 200, body: { text: `a${NUL}b${LONE}c`, [`key${NUL}`]: [LONE, 1] } });
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/dirty-json` } });
      const e = await trigger(t, rule.id, { n: 1 });
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      const expected = { status: 200, body: { text: `a${FFFD}b${FFFD}c`, [`key${FFFD}`]: [FFFD, 1] } };
      expect(e.result).toEqual(expected);
      const stored = await getExecution(t, e.id);
      expect(stored!.status).toBe('SUCCESS');
      expect(stored!.result).toEqual(expected);
      await expectFree(t, rule.id);
    });

    it('a webhook answering U+0000 in text finishes with U+FFFD stored', async () => {
      sink.route('/dirty-text', { status: 200, body: `plain${NUL}text`, contentType: 'text/plain; charset=utf-8' });
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/dirty-text` } });
      const e = await trigger(t, rule.id);
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      expect((await getExecution(t, e.id))!.result).toEqual({ status: 200, body: `plain${FFFD}text` });
      await expectFree(t, rule.id);
    });

    it('a payload and an event holding U+0000 and a lone surrogate are stored with U+FFFD', async () => {
      const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
      const e = await trigger(t, rule.id, { note: `x${NUL}y${LONE}`, [`k${NUL}`]: 1 });
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      const payload = { note: `x${FFFD}y${FFFD}`, [`k${FFFD}`]: 1 };
      expect(e.payload).toEqual(payload);
      expect((await getExecution(t, e.id))!.payload).toEqual(payload);

      const tag = unique('dirty');
      const eventRule = await createRule(t, {
        triggerSpec: { conditions: [{ field: 'tag', op: '==', value: tag }] },
        actionSpec: { endpoint: `${sink.url}/json` },
      });
      const published = ok(
        await t.gql(`mutation($event: JSON!) { publishEvent(event: $event) { executions { id ruleId } } }`, { event: { tag, text: `e${NUL}${LONE}` } }),
      ).publishEvent;
      // Rules of the other tests meet every event; this one is the tag's.
      const started = published.executions.find((x: { ruleId: string }) => x.ruleId === eventRule.id);
      expect(started).toBeDefined();
      const run = await waitFinished(t, started.id);
      expect(run.status).toBe('SUCCESS');
      expect(run.payload).toEqual({ tag, text: `e${FFFD}${FFFD}` });
    });

    it('a script whose output and log lines hold U+0000 and a lone surrogate: the API run is final, with U+FFFD stored, lines included', async () => {
      const api = await createScript(t, DIRTY_SCRIPT);
      const run = ok(await t.gql(EXECUTE, { apiId: api.id })).executeApi;
      expect(run.status, JSON.stringify(run)).toBe('SUCCESS');
      const output = { text: `a${FFFD}b${FFFD}`, [FFFD]: [FFFD], marker: null };
      expect(run.output).toEqual(output);
      const [stored] = await storedRuns(t, api.id);
      expect(stored).toMatchObject({ id: run.id, status: 'SUCCESS', output });
      expect(stored.logs.map((l: { message: string; data: unknown }) => [l.message, l.data])).toEqual([[`line${FFFD}and${FFFD}`, { [`key${FFFD}`]: FFFD }]]);

      // The same script from a rule: the rule's run and its lines too.
      const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id } });
      const e = await trigger(t, rule.id, { n: 1 });
      expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
      const again = await getExecution(t, e.id, `logs { ${LOG_FIELDS} }`);
      expect(again!.result.output).toEqual(output);
      expect(again!.logs!.map((l) => l.message)).toContain(`line${FFFD}and${FFFD}`);
      expect(hasUnstorable(again)).toBe(false);
      await expectFree(t, rule.id);
    });
  });

  describe('a final write the database refuses', () => {
    it('is written FAILED with STORE_FAILED, with its events, and the rule is free again', async () => {
      const restore = await refuseMarked(sql, 'executions', 'result');
      try {
        sink.route('/marked', { status: 200, body: { marker: MARKER } });
        const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/marked` } });
        const e = await trigger(t, rule.id);
        expect(e.status, JSON.stringify(e)).toBe('FAILED');
        expect(e.error).toEqual({ code: 'STORE_FAILED', message: expect.stringContaining('could not be stored') });
        expect(e.error!.message).not.toMatch(/UPDATE|executions|refused by the test/);
        const stored = await getExecution(t, e.id);
        expect(stored).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' }, result: null });
        expect(stored!.finishedAt).not.toBeNull();

        const cascade = ok(await t.gql(CASCADE, { id: e.cascadeId })).cascade;
        expect(cascade.status).toBe('FAILED');
        const kinds = cascade.events.map((ev: { kind: string }) => ev.kind);
        expect(kinds).toEqual(['RULE_STARTED', 'CONDITION_EVALUATED', 'ACTION_STARTED', 'ACTION_FINISHED', 'RULE_FINISHED', 'CASCADE_FINISHED']);
        expect(cascade.events.at(-2)).toMatchObject({ status: 'FAILED', message: expect.stringContaining('STORE_FAILED') });
        expect(cascade.events.at(-1)).toMatchObject({ status: 'FAILED' });

        sink.route('/marked', { status: 200, body: { fine: true } });
        expect((await expectFree(t, rule.id)).status).toBe('SUCCESS');
      } finally {
        await restore();
      }
    });

    it('a webhook attempt that would go RETRYING ends FAILED with STORE_FAILED, its cascade finished', async () => {
      const restore = await refuseMarked(sql, 'executions', 'result');
      try {
        sink.route('/marked-503', { status: 503, body: { marker: MARKER } });
        const rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/marked-503`, retry: { maxAttempts: 3, delayMs: 100 } } });
        const e = await trigger(t, rule.id);
        expect(e.status, JSON.stringify(e)).toBe('FAILED');
        expect(e.error).toMatchObject({ code: 'STORE_FAILED' });
        const stored = await getExecution(t, e.id, 'nextAttemptAt');
        expect(stored).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' }, nextAttemptAt: null });
        expect(stored!.finishedAt).not.toBeNull();

        const cascade = ok(await t.gql(CASCADE, { id: e.cascadeId })).cascade;
        expect(cascade.status).toBe('FAILED');
        const kinds = cascade.events.map((ev: { kind: string }) => ev.kind);
        expect(kinds).toEqual(['RULE_STARTED', 'CONDITION_EVALUATED', 'ACTION_STARTED', 'RULE_FINISHED', 'CASCADE_FINISHED']);
        expect(cascade.events.map((ev: { seq: number }) => ev.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(sink.requestsTo('/marked-503')).toHaveLength(1);
        await expectFree(t, rule.id);
      } finally {
        await restore();
      }
    });

    it('a child webhook that would go RETRYING ends FAILED with STORE_FAILED, and its cascade still finishes', async () => {
      const restore = await refuseMarked(sql, 'executions', 'result');
      try {
        sink.route('/marked-child-503', { status: 503, body: { marker: MARKER } });
        const child = await createRule(t, { actionSpec: { endpoint: `${sink.url}/marked-child-503`, retry: { maxAttempts: 3, delayMs: 100 } } });
        const root = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id } });
        const e = await trigger(t, root.id);
        const cascade = ok(await t.gql(CASCADE, { id: e.cascadeId })).cascade;
        expect(cascade.status).toBe('FAILED');
        const last = cascade.events.at(-1);
        expect(last).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'FAILED', executionId: e.id });
        expect(cascade.events.map((ev: { seq: number }) => ev.seq)).toEqual(cascade.events.map((_: unknown, i: number) => i + 1));
        const rows = ok(
          await t.gql(`query($c: ID!) { executions(cascadeId: $c) { edges { node { ruleId status error { code } } } } }`, { c: e.cascadeId }),
        ).executions.edges.map((edge: { node: any }) => edge.node);
        expect(rows.find((r: any) => r.ruleId === child.id)).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' } });
        await expectFree(t, child.id);
      } finally {
        await restore();
      }
    });

    it('in a cascade, only the refused row is written FAILED with STORE_FAILED; every rule is free again', async () => {
      const restore = await refuseMarked(sql, 'executions', 'result');
      try {
        sink.route('/marked-child', { status: 200, body: { marker: MARKER } });
        const child = await createRule(t, { actionSpec: { endpoint: `${sink.url}/marked-child` } });
        const root = await createRule(t, { actionSpec: { type: 'trigger_rule', rule_id: child.id } });
        const e = await trigger(t, root.id);
        expect(e.status, JSON.stringify(e)).toBe('SUCCESS');
        const rows = ok(
          await t.gql(`query($c: ID!) { executions(cascadeId: $c) { edges { node { ruleId status finishedAt error { code } } } } }`, { c: e.cascadeId }),
        ).executions.edges.map((edge: { node: any }) => edge.node);
        expect(rows).toHaveLength(2);
        expect(rows.find((r: any) => r.ruleId === child.id)).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' } });
        expect(rows.find((r: any) => r.ruleId === root.id)).toMatchObject({ status: 'SUCCESS', error: null });
        expect(rows.every((r: any) => r.finishedAt !== null)).toBe(true);

        sink.route('/marked-child', { status: 200, body: { fine: true } });
        await expectFree(t, child.id);
        await expectFree(t, root.id);
      } finally {
        await restore();
      }
    });

    it('an API run is written FAILED with STORE_FAILED, direct or from a rule', async () => {
      const restore = await refuseMarked(sql, 'api_executions', 'output');
      try {
        const api = await createScript(t, DIRTY_SCRIPT);
        const run = ok(await t.gql(EXECUTE, { apiId: api.id, input: { marker: MARKER } })).executeApi;
        expect(run).toMatchObject({ status: 'FAILED', output: null, error: { code: 'STORE_FAILED' } });
        const [stored] = await storedRuns(t, api.id);
        expect(stored).toMatchObject({ id: run.id, status: 'FAILED', output: null, error: { code: 'STORE_FAILED' } });

        const rule = await createRule(t, { actionSpec: { type: 'api_script', api_id: api.id, input: { marker: MARKER } } });
        const e = await trigger(t, rule.id);
        expect(e).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' } });
        expect((await getExecution(t, e.id))!.finishedAt).not.toBeNull();
        expect((await storedRuns(t, api.id)).every((r: { status: string }) => r.status !== 'RUNNING')).toBe(true);
        await expectFree(t, rule.id);
      } finally {
        await restore();
      }
    });
  });

  describe('a STORE_FAILED write the database refuses too (an outage)', () => {
    /**
     * Refuses every final write of `table` (the marked one and the STORE_FAILED one alike),
     * counting the refusals in a sequence (which a raised error does not roll back).
     */
    async function refuseAll(table: string) {
      const name = `refuse_all_${table}`;
      await sql.query(`CREATE SEQUENCE ${name}_count`);
      await sql.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.status <> 'RUNNING' THEN PERFORM nextval('${name}_count'); RAISE EXCEPTION 'refused by the test' USING ERRCODE = '08006'; END IF;
          RETURN NEW;
        END $$`);
      await sql.query(`CREATE TRIGGER ${name} BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
      const refusals = async () => Number((await sql.query<{ n: string }>(`SELECT last_value AS n FROM ${name}_count`))[0]!.n);
      const restore = async () => {
        await sql.query(`DROP TRIGGER IF EXISTS ${name} ON ${table}`);
        await sql.query(`DROP FUNCTION IF EXISTS ${name}()`);
        await sql.query(`DROP SEQUENCE IF EXISTS ${name}_count`);
      };
      return { refusals, restore };
    }

    it('is tried again until the database takes it: the row ends FAILED with STORE_FAILED and the rule is free', async () => {
      const { refusals, restore } = await refuseAll('executions');
      let rule: { id: string };
      let started: { id: string };
      try {
        rule = await createRule(t, { actionSpec: { endpoint: `${sink.url}/json` } });
        started = await trigger(t, rule.id, { n: 1 }, { wait: false });
        // The final write, its step alone, then the STORE_FAILED write and at least one more try.
        await poll(async () => (await refusals()) >= 4, Boolean, 15_000, 'four refused writes', 50);
        expect((await getExecution(t, started.id))!.status).toBe('RUNNING');
      } finally {
        await restore();
      }
      const done = await waitFinished(t, started.id);
      expect(done).toMatchObject({ status: 'FAILED', error: { code: 'STORE_FAILED' }, result: null });
      // What the start wrote stays: the condition's trace.
      expect(done.references.trigger).not.toBeNull();
      await expectFree(t, rule.id);
    });
  });

  describe('references', () => {
    it('of a 900-leaf condition, every leaf evaluated, stay within 64 KiB with truncated: true and the top of the trace', async () => {
      const value = 'v'.repeat(120);
      const conditions = Array.from({ length: 900 }, (_, i) => ({ field: `f${i % 10}`, op: '==', value }));
      const payload = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, value]));
      const rule = await createRule(t, { triggerSpec: { conditions }, actionSpec: { endpoint: `${sink.url}/json` } });
      const e = await trigger(t, rule.id, payload);
      expect(e.status).toBe('SUCCESS');
      const stored = await getExecution(t, e.id);
      for (const references of [e.references, stored!.references]) {
        expect(Buffer.byteLength(JSON.stringify(references))).toBeLessThanOrEqual(MAX_REFERENCES_BYTES);
        expect(references.truncated).toBe(true);
        expect(references.trigger).toEqual({ composite_logic: 'AND', final_result: true });
        expect(references.action).toMatchObject({ action_type: 'webhook', status_code: 200 });
      }
    });

    it('of a small condition are whole, without a truncated key', async () => {
      const rule = await createRule(t, { triggerSpec: { conditions: [{ field: 'n', op: '>', value: 1 }] }, actionSpec: { endpoint: `${sink.url}/json` } });
      const e = await getExecution(t, (await trigger(t, rule.id, { n: 2 })).id);
      expect(e!.references).not.toHaveProperty('truncated');
      expect(e!.references.trigger.conditions_evaluated).toHaveLength(1);
    });
  });
});
