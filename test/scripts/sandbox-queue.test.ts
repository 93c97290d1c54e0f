import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, type ScriptLogLine, type ScriptRun } from '../../src/engine/scripts/sandbox/index.js';
import { poll } from '../support/wait.js';
import { ALWAYS, createRule, trigger } from '../support/rules.js';
import { backends, ok, startFreshApp, type GraphQLResponse, type TestApp, unique } from '../support/harness.js';

/*
 * The wait for a free isolate (SPEC.md "Limits"): it counts toward the run's timeout, and at most
 * SCRIPT_MAX_QUEUED runs wait; one more fails at once with SANDBOX_BUSY. The pool is filled with
 * scripts that loop until their timeout, each known to hold its isolate once its first log line
 * has come back.
 */

const LOOP = 'function main(params, input, ctx) { ctx.log("looping"); for (;;) {} }';
const STARTED = 'function main(params, input, ctx) { ctx.log("started"); return { ran: true }; }';

let keySeq = 0;

function script(source: string, timeoutMs: number, lines: ScriptLogLine[] = []): ScriptRun {
  return {
    key: { id: `queue-${++keySeq}`, updatedAt: 1 },
    source,
    params: {},
    input: null,
    context: { payload: null, rule: null, execution: null },
    policy: { timeoutMs, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] },
    onLog: (line) => lines.push(line),
    onHttp: async () => ({ failed: true, message: 'no http in this test' }),
  };
}

/** A run and whether it has answered yet. */
function tracked<T>(promise: Promise<T>) {
  const state = { settled: false, result: promise };
  void promise.then(() => (state.settled = true));
  return state;
}

/** Starts `count` loopers (each until `timeoutMs`) and resolves once every one holds an isolate. */
async function fillPool(sandbox: Sandbox, count: number, timeoutMs: number) {
  const lines: ScriptLogLine[] = [];
  const runs = Array.from({ length: count }, () => tracked(sandbox.run(script(LOOP, timeoutMs, lines))));
  await poll(
    async () => lines.length,
    (n) => n >= count,
  );
  return runs;
}

describe('Sandbox queue', () => {
  const sandboxes: Sandbox[] = [];
  const start = async (options: { poolSize: number; maxQueued?: number }) => {
    const sandbox = Sandbox.create({ ...options, outputMaxBytes: 1024 * 1024, logger: pino({ level: 'silent' }), startNow: true });
    sandboxes.push(sandbox);
    await sandbox.whenReady();
    return sandbox;
  };
  afterEach(async () => {
    await Promise.all(sandboxes.splice(0).map((s) => s.close()));
  });

  it('takes the first runs of a sandbox started by them, one per isolate, even with SCRIPT_MAX_QUEUED 0', async () => {
    const sandbox = Sandbox.create({ poolSize: 2, maxQueued: 0, outputMaxBytes: 1024 * 1024, logger: pino({ level: 'silent' }), startNow: false });
    sandboxes.push(sandbox);
    const results = await Promise.all([sandbox.run(script(STARTED, 5000)), sandbox.run(script(STARTED, 5000)), sandbox.run(script(STARTED, 5000))]);
    expect(results.map((r) => (r.ok ? 'SUCCESS' : r.code))).toEqual(['SUCCESS', 'SUCCESS', 'SANDBOX_BUSY']);
  });

  it('fails a run whose timeout passes while it waits for an isolate with SCRIPT_TIMEOUT, without running it', async () => {
    const sandbox = await start({ poolSize: 2 });
    const loopers = await fillPool(sandbox, 2, 4000);
    const lines: ScriptLogLine[] = [];
    const queued = await sandbox.run(script(STARTED, 300, lines));
    expect(queued).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    if (!queued.ok) expect(queued.message).toMatch(/waited its whole 300 ms timeout for a free isolate and did not run/);
    expect(lines).toEqual([]);
    // It answered at its own deadline, not once an isolate was free.
    expect(loopers.every((l) => !l.settled)).toBe(true);
    expect(sandbox.queueDepth).toBe(0);

    for (const looper of loopers) expect(await looper.result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    expect(await sandbox.run(script(STARTED, 2000, lines))).toMatchObject({ ok: true, output: { ran: true } });
    expect(lines.map((l) => l.message)).toEqual(['started']);
  });

  it('gives a run that starts late only what is left of its timeout', async () => {
    const sandbox = await start({ poolSize: 2 });
    // One isolate frees at about 1.5 s, the other at about 4.5 s; the queued looper's 3 s count from
    // its call, so it ends at about 3 s: before the second isolate frees (it would end at about
    // 4.5 s if its time started only once it had an isolate).
    const lines: ScriptLogLine[] = [];
    const first = tracked(sandbox.run(script(LOOP, 1500, lines)));
    const second = tracked(sandbox.run(script(LOOP, 4500, lines)));
    await poll(
      async () => lines.length,
      (n) => n >= 2,
    );
    const lateLines: ScriptLogLine[] = [];
    const late = await sandbox.run(script(LOOP, 3000, lateLines));
    expect(first.settled).toBe(true);
    expect(lateLines.map((l) => l.message)).toEqual(['looping']);
    expect(late).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    if (!late.ok) expect(late.message).toMatch(/ran past its 3000 ms timeout \(\d+ ms of it waiting for a free isolate\)/);
    expect(second.settled).toBe(false);
    await second.result;
  });

  it('lets at most maxQueued runs wait: one more fails at once with SANDBOX_BUSY', async () => {
    const sandbox = await start({ poolSize: 1, maxQueued: 1 });
    const [looper] = await fillPool(sandbox, 1, 3000);
    const lines: ScriptLogLine[] = [];
    const waiting = tracked(sandbox.run(script(STARTED, 20_000, lines)));
    const over = await Promise.all([sandbox.run(script(STARTED, 20_000, lines)), sandbox.run(script(STARTED, 20_000, lines))]);
    for (const result of over) {
      expect(result).toMatchObject({ ok: false, code: 'SANDBOX_BUSY', durationMs: 0 });
      if (!result.ok) expect(result.message).toMatch(/1 run\(s\) are already waiting \(SCRIPT_MAX_QUEUED\)/);
    }
    expect(sandbox.queueDepth).toBe(1);
    expect(looper!.settled).toBe(false);
    expect(waiting.settled).toBe(false);

    expect(await looper!.result).toMatchObject({ ok: false, code: 'SCRIPT_TIMEOUT' });
    expect(await waiting.result).toMatchObject({ ok: true, output: { ran: true } });
    expect(lines.map((l) => l.message)).toEqual(['started']);
  });

  it('with maxQueued 0 runs only what finds a free isolate', async () => {
    const sandbox = await start({ poolSize: 1, maxQueued: 0 });
    expect(await sandbox.run(script(STARTED, 2000))).toMatchObject({ ok: true });
    const [looper] = await fillPool(sandbox, 1, 1500);
    expect(await sandbox.run(script(STARTED, 2000))).toMatchObject({ ok: false, code: 'SANDBOX_BUSY' });
    await looper!.result;
    expect(await sandbox.run(script(STARTED, 2000))).toMatchObject({ ok: true });
  });
});

// ---- through the API, one isolate and SCRIPT_MAX_QUEUED=1 ----

const RUN_FIELDS = 'id status error { code message } logs { level message }';
const CREATE_API = `mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }`;
const EXECUTE = `mutation($apiId: ID!) { executeApi(apiId: $apiId) { ${RUN_FIELDS} } }`;
const RUNS = `query($id: ID!) { apiDefinition(id: $id) { executions(first: 20) { edges { node { ${RUN_FIELDS} } } } } }`;

interface RunData {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  logs: { level: string; message: string }[];
}

async function createScript(t: TestApp, source: string, timeoutMs: number): Promise<string> {
  return ok<{ createApiDefinition: { id: string } }>(
    await t.gql(CREATE_API, { input: { name: unique('queue'), kind: 'SCRIPT', source, runtimePolicy: { timeoutMs } } }),
  ).createApiDefinition.id;
}

function execute(t: TestApp, apiId: string): Promise<RunData> {
  return t.gql(EXECUTE, { apiId }).then((res: GraphQLResponse) => ok<{ executeApi: RunData }>(res).executeApi);
}

/** Starts a looper through executeApi and resolves once it holds the isolate (its line is stored). */
async function busyIsolate(t: TestApp, looperId: string) {
  const known = new Set((await runsOf(t, looperId)).map((r) => r.id));
  const run = tracked(execute(t, looperId));
  await poll(
    () => runsOf(t, looperId),
    (runs) => runs.some((r) => !known.has(r.id) && r.logs.some((l) => l.message === 'looping')),
  );
  return run;
}

async function runsOf(t: TestApp, apiId: string): Promise<RunData[]> {
  return ok<{ apiDefinition: { executions: { edges: { node: RunData }[] } } }>(await t.gql(RUNS, { id: apiId })).apiDefinition.executions.edges.map(
    (e) => e.node,
  );
}

describe.each(backends())('script runs waiting for an isolate (%s)', (backend) => {
  let t: Awaited<ReturnType<typeof startFreshApp>>;
  let looperId: string;

  beforeAll(async () => {
    t = await startFreshApp(backend, { SCRIPT_MAX_QUEUED: '1' }, { sandboxPoolSize: 1 });
    looperId = await createScript(t, LOOP, 3000);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('fails a run still waiting at its timeout with SCRIPT_TIMEOUT; it never starts', async () => {
    const quickId = await createScript(t, STARTED, 300);
    const looper = await busyIsolate(t, looperId);
    const run = await execute(t, quickId);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ code: 'SCRIPT_TIMEOUT', message: expect.stringMatching(/free isolate and did not run/) });
    expect(run.logs.map((l) => l.message)).not.toContain('started');
    expect(looper.settled).toBe(false);
    expect((await looper.result).error?.code).toBe('SCRIPT_TIMEOUT');
  });

  it('fails runs over SCRIPT_MAX_QUEUED with SANDBOX_BUSY, from executeApi and from a rule', async () => {
    const quickId = await createScript(t, STARTED, 20_000);
    const rule = await createRule(t, { triggerSpec: ALWAYS, actionSpec: { type: 'api_script', api_id: quickId } });
    const looper = await busyIsolate(t, looperId);

    const answered: RunData[] = [];
    const runs = [1, 2, 3].map(() =>
      execute(t, quickId).then((run) => {
        answered.push(run);
        return run;
      }),
    );
    // One of the three waits for the isolate; the other two answer at once.
    await poll(
      async () => answered.length,
      (n) => n >= 2,
    );
    for (const run of answered) {
      expect(run.status).toBe('FAILED');
      expect(run.error).toMatchObject({ code: 'SANDBOX_BUSY', message: expect.stringContaining('SCRIPT_MAX_QUEUED') });
    }
    const fromRule = await trigger(t, rule.id, { n: 1 });
    expect(fromRule.status).toBe('FAILED');
    expect(fromRule.error?.code).toBe('SANDBOX_BUSY');
    expect(looper.settled).toBe(false);

    const all = await Promise.all(runs);
    expect(all.filter((r) => r.status === 'SUCCESS')).toHaveLength(1);
    expect(all.filter((r) => r.error?.code === 'SANDBOX_BUSY')).toHaveLength(2);
    expect((await looper.result).error?.code).toBe('SCRIPT_TIMEOUT');
    // Every run was written, the refused ones too.
    expect((await runsOf(t, quickId)).map((r) => r.status).sort()).toEqual(['FAILED', 'FAILED', 'FAILED', 'SUCCESS']);
  });
});
