import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, ok, startApp, type TestApp, type TestDatabase } from '../support/harness.js';
import { closedPort, startSink, type Sink } from '../support/sink.js';
import { collectWs, subscribeWs } from '../support/ws.js';
import { poll } from '../support/wait.js';
import { describeUnless, withoutPostgres } from '../support/skips.js';

/**
 * Several instances of the service on one database (SPEC.md "Running, locks and cascades"): one
 * run per rule across instances, cascade events across instances, and a process killed mid-action
 * whose row another instance sweeps to INTERRUPTED.
 *
 * Real PostgreSQL only: PGlite runs inside one process (it cannot be shared by two instances), and
 * its files do not survive a kill -9. Skipped when DATABASE_URL is unset.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EVENT_FIELDS = 'cascadeId seq kind executionId ruleId depth status';
const PROGRESS = `subscription($id: ID!) { cascadeProgress(cascadeId: $id) { ${EVENT_FIELDS} } }`;
const EXECUTION_FIELDS = 'id ruleId status skipReason conditionMet cascadeId error { code message } finishedAt';

interface CascadeEvent {
  cascadeId: string;
  seq: number;
  kind: string;
  executionId: string;
  ruleId: string;
  depth: number;
  status: string | null;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function createRule(app: TestApp, name: string, actionSpec: Record<string, unknown>): Promise<string> {
  const data = ok(
    await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, { input: { name, triggerSpec: { conditions: [] }, actionSpec } }),
  );
  return data.createRule.id as string;
}

async function trigger(app: TestApp, ruleId: string, wait: boolean) {
  const data = ok(
    await app.gql(`mutation($id: ID!, $wait: Boolean) { triggerRule(ruleId: $id, payload: {}, wait: $wait) { ${EXECUTION_FIELDS} } }`, { id: ruleId, wait }),
  );
  return data.triggerRule as { id: string; status: string; skipReason: string | null; cascadeId: string; error: { code: string; message: string } | null };
}

describeUnless(
  withoutPostgres(),
  'several instances on one PostgreSQL database (needs DATABASE_URL; PGlite is one process and does not survive a kill)',
  () => {
    let sink: Sink;
    beforeAll(async () => {
      sink = await startSink({ '/slow': { status: 200, body: { slow: true }, delayMs: 1000 }, '/hang': { never: true } });
    });
    afterAll(async () => {
      await sink?.close();
    });
    const webhook = (p: string) => ({ type: 'webhook', endpoint: `${sink.url}${p}`, method: 'GET', timeoutMs: 60_000 });

    describe('two app instances', () => {
      let database: TestDatabase;
      let a: TestApp;
      let b: TestApp;
      beforeAll(async () => {
        database = await createTestDatabase('postgres');
        const env = { OUTBOUND_ALLOWLIST: '127.0.0.1' };
        // One after the other: two first starts at the same moment race on the migrations (reported).
        a = await startApp(database, env);
        b = await startApp(database, env);
      });
      afterAll(async () => {
        await Promise.allSettled([a?.stop(), b?.stop()]);
        await database?.drop();
      });

      it('use the LISTEN/NOTIFY bus', () => {
        expect(a.app.engine.busKind).toBe('postgres');
        expect(b.app.engine.busKind).toBe('postgres');
      });

      it('run one slow rule once when triggered on both at the same moment: the other is SKIPPED', async () => {
        const rule = await createRule(a, 'slow on two', webhook('/slow'));
        for (let round = 0; round < 3; round++) {
          const results = await Promise.all([trigger(a, rule, true), trigger(b, rule, true)]);
          const statuses = results.map((r) => r.status).sort();
          expect(statuses).toEqual(['SKIPPED', 'SUCCESS']);
          const skipped = results.find((r) => r.status === 'SKIPPED')!;
          expect(skipped.skipReason).toBe('RULE_ALREADY_RUNNING');
        }
        const rows = ok(
          await b.gql(`query($id: ID!) { executions(ruleId: $id, first: 50) { totalCount edges { node { status } } } }`, { id: rule }),
        ).executions;
        expect(rows.totalCount).toBe(6);
        expect(rows.edges.filter((e: any) => e.node.status === 'SUCCESS')).toHaveLength(3);
      });

      it('wait: false on both: one RUNNING then SUCCESS, the other SKIPPED', async () => {
        const rule = await createRule(a, 'slow on two, no wait', webhook('/slow'));
        const results = await Promise.all([trigger(a, rule, false), trigger(b, rule, false)]);
        expect(results.map((r) => r.status).sort()).toEqual(['RUNNING', 'SKIPPED']);
        const running = results.find((r) => r.status === 'RUNNING')!;
        const done = await poll(
          async () => ok(await a.gql(`query($id: ID!) { execution(id: $id) { status } }`, { id: running.id })).execution.status as string,
          (status) => status !== 'RUNNING',
          10_000,
          'the running row finishes',
        );
        expect(done).toBe('SUCCESS');
      });

      it('cascadeProgress on instance B follows a cascade running on instance A: 1..N once, then completes', async () => {
        sink.route('/slow-chain', { status: 200, body: {}, delayMs: 1000 });
        const c = await createRule(a, 'chain C', webhook('/slow-chain'));
        const bRule = await createRule(a, 'chain B', { type: 'trigger_rule', rule_id: c });
        const aRule = await createRule(a, 'chain A', { type: 'trigger_rule', rule_id: bRule });
        const root = await trigger(a, aRule, false);
        expect(root.status).toBe('RUNNING');
        // Subscribed on B at once (live) and once C's webhook is called (replay, then live).
        const early = subscribeWs<CascadeEvent>(b.url, PROGRESS, { id: root.cascadeId }, 20_000);
        await sink.waitForRequests(1, '/slow-chain', 10_000);
        const middle = subscribeWs<CascadeEvent>(b.url, PROGRESS, { id: root.cascadeId }, 20_000);
        const [first, second] = await Promise.all([early.done, middle.done]);
        const stored = ok(await a.gql(`query($id: ID!) { cascade(id: $id) { status events { ${EVENT_FIELDS} } } }`, { id: root.cascadeId })).cascade;
        expect(stored.status).toBe('SUCCESS');
        expect(stored.events).toHaveLength(16);
        for (const outcome of [first, second]) {
          expect(outcome.errors).toEqual([]);
          expect(outcome.completed).toBe(true);
          expect(outcome.events.map((e) => e.seq)).toEqual(range(16));
          expect(outcome.events).toEqual(stored.events);
          expect(outcome.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'SUCCESS', executionId: root.id });
        }
      });
    });

    describe('a process killed mid-action', () => {
      let database: TestDatabase;
      let child: ChildProcess | undefined;
      let childStderr = '';
      let survivor: TestApp | undefined;
      beforeAll(async () => {
        database = await createTestDatabase('postgres');
      });
      afterAll(async () => {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await survivor?.stop();
        await database?.drop();
      });

      it('is swept to FAILED/INTERRUPTED by another instance, which frees the rule and finishes the cascade', async () => {
        const port = await closedPort();
        const base = `http://127.0.0.1:${port}`;
        const spawned = spawn(process.execPath, ['--no-node-snapshot', 'dist/main.js'], {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: process.env.HOME ?? tmpdir(),
            TMPDIR: tmpdir(),
            ...database.env,
            HOST: '127.0.0.1',
            PORT: String(port),
            HEARTBEAT_INTERVAL_MS: '200',
            LOG_LEVEL: 'warn',
            LOG_PRETTY: 'false',
            OUTBOUND_ALLOWLIST: '127.0.0.1',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        child = spawned;
        spawned.stderr!.on('data', (chunk: Buffer) => (childStderr += chunk.toString()));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          spawned.once('exit', (code, signal) => resolve({ code, signal })),
        );

        await poll(
          async () => {
            if (spawned.exitCode !== null) throw new Error(`the service exited with ${spawned.exitCode}: ${childStderr}`);
            return fetch(`${base}/ready`).then(
              (r) => r.status,
              () => 0,
            );
          },
          (status) => status === 200,
          60_000,
          'GET /ready of the spawned service',
        );
        const remote: TestApp = {
          url: `${base}/graphql`,
          port,
          base,
          app: undefined as never,
          async gql(query, variables) {
            const response = await fetch(`${base}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query, variables }),
            });
            return { ...((await response.json()) as object), status: response.status };
          },
          stop: async () => undefined,
        };

        const rule = await createRule(remote, 'hangs', webhook('/hang'));
        const root = await trigger(remote, rule, false);
        expect(root.status).toBe('RUNNING');
        // Mid-action: the webhook has been called and not answered.
        await sink.waitForRequests(1, '/hang', 10_000);
        const before = ok(await remote.gql(`query($id: ID!) { execution(id: $id) { status } }`, { id: root.id })).execution;
        expect(before.status).toBe('RUNNING');

        spawned.kill('SIGKILL');
        expect((await exited).signal).toBe('SIGKILL');

        survivor = await startApp(database, { HEARTBEAT_STALE_MS: '1000', HEARTBEAT_INTERVAL_MS: '200', OUTBOUND_ALLOWLIST: '127.0.0.1' });
        // A subscriber of the interrupted cascade: live if it joins before the sweep, replayed after.
        const progress = subscribeWs<CascadeEvent>(survivor.url, PROGRESS, { id: root.cascadeId }, 20_000);

        const swept = await poll(
          async () => ok(await survivor!.gql(`query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} } }`, { id: root.id })).execution,
          (execution) => execution.status !== 'RUNNING',
          15_000,
          'the interrupted row is swept',
        );
        expect(swept.status).toBe('FAILED');
        expect(swept.error?.code).toBe('INTERRUPTED');
        expect(swept.finishedAt).not.toBeNull();

        const cascade = ok(
          await survivor.gql(`query($id: ID!) { cascade(id: $id) { status finishedAt events { ${EVENT_FIELDS} } } }`, { id: root.cascadeId }),
        ).cascade;
        expect(cascade.status).toBe('FAILED');
        expect(cascade.finishedAt).not.toBeNull();
        expect(cascade.events.map((e: CascadeEvent) => e.seq)).toEqual(range(cascade.events.length));
        expect(cascade.events.map((e: CascadeEvent) => e.kind)).toEqual([
          'RULE_STARTED',
          'CONDITION_EVALUATED',
          'ACTION_STARTED',
          'RULE_FINISHED',
          'CASCADE_FINISHED',
        ]);
        expect(cascade.events.at(-1)).toMatchObject({ kind: 'CASCADE_FINISHED', status: 'FAILED', executionId: root.id, ruleId: rule });
        expect(cascade.events.filter((e: CascadeEvent) => e.kind === 'CASCADE_FINISHED')).toHaveLength(1);

        const outcome = await progress.done;
        expect(outcome.completed).toBe(true);
        expect(outcome.events).toEqual(cascade.events);
        const late = await collectWs<CascadeEvent>(survivor.url, PROGRESS, { id: root.cascadeId });
        expect(late.completed).toBe(true);
        expect(late.events).toEqual(cascade.events);

        // The rule's lock is free: a new run runs, not SKIPPED.
        sink.route('/hang', { status: 200, body: { answered: true } });
        const again = await trigger(survivor, rule, true);
        expect(again.status).toBe('SUCCESS');
        expect(again.skipReason).toBeNull();
      });
    });
  },
);
