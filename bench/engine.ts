import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { startFloorServer } from './floor.js';
import { postgresCpuMs, processCpuMs } from './support/cpu.js';
import { graphqlClient, latency, latencyInterleaved, throughput, throughputInterleaved, type LatencyStats, type MeteredStats } from './support/measure.js';

export interface EngineBenchResult {
  /** `p50One.perRequest`: [this process's CPU ms, PostgreSQL's CPU ms (NaN when unreadable)] per request. */
  floor: { p50One: MeteredStats; rps16: number };
  trigger: { p50One: MeteredStats; rps16: number };
  cascade: { p50One: LatencyStats };
  publish: { rules: number; p50One: LatencyStats; rps16: number; matchedPerEvent: number };
}

/** Starts a webhook receiver in a process of its own: `script` (under bench/) with `args`. */
export async function startSink(script = 'support/sink.ts', args: string[] = []): Promise<{ url: string; stop(): void }> {
  const child = fork(path.join(import.meta.dirname, script), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('error', reject);
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

export async function freshDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cepheus_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789abcdef-0123456789';

const mutation = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });

export async function runEngineBench(adminUrl: string, options: { samples: number; seconds: number; rules: number }): Promise<EngineBenchResult> {
  const sink = await startSink();
  const database = await freshDatabase(adminUrl);
  const floor = await startFloorServer(database.url, sink.url);
  // The sink is on 127.0.0.1, which the outbound guard refuses unless it is allowed.
  // KEYS mode, every request with a stored key (SPEC.md, 'Access'): the check is part of what is timed.
  const app = createApp(
    loadConfig({
      DATABASE_URL: database.url,
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATABASE_POOL_MAX: '10',
      OUTBOUND_ALLOWLIST: '127.0.0.1',
      ADMIN_KEY: BENCH_ADMIN_KEY,
    }),
  );
  const { url } = await app.start();
  try {
    const floorClient = graphqlClient(floor.url, 32);
    const floorBody = mutation('mutation($p: JSON){ run(payload: $p) }', { p: { cpu: 90 } });
    const admin = graphqlClient(url, 1, { authorization: `Bearer ${BENCH_ADMIN_KEY}` });
    const created = (await admin.post(
      mutation('mutation($i: CreateApiKeyInput!){ createApiKey(input: $i) { secret } }', { i: { name: 'bench', role: 'EDITOR' } }),
    )) as { createApiKey: { secret: string } };
    await admin.close();
    const client = graphqlClient(url, 32, { authorization: `Bearer ${created.createApiKey.secret}` });
    const create = async (name: string, triggerSpec: unknown, actionSpec: unknown) =>
      (
        (await client.post(mutation('mutation($i: CreateRuleInput!){ createRule(input: $i) { id } }', { i: { name, triggerSpec, actionSpec } }))) as {
          createRule: { id: string };
        }
      ).createRule.id;
    const webhook = { type: 'webhook', endpoint: `${sink.url}/hook`, method: 'POST', body: { cpu: '{{payload.cpu}}', rule: '{{rule.name}}' } };
    const triggerQuery = 'mutation($id: ID!, $p: JSON){ triggerRule(ruleId: $id, payload: $p) { id status } }';

    // One rule per client: a rule runs once at a time, so shared rules would mostly be SKIPPED.
    const ruleIds: string[] = [];
    for (let i = 0; i < 16; i++) ruleIds.push(await create(`bench-webhook-${i}`, { field: 'cpu', op: '>', value: 80 }, webhook));
    // Every timed run must have run its webhook: a refused or failed one would look fast.
    const triggered = async (id: string) => {
      const data = (await client.post(mutation(triggerQuery, { id, p: { cpu: 90 } }))) as { triggerRule: { status: string } };
      if (data.triggerRule.status !== 'SUCCESS') throw new Error(`triggerRule answered ${data.triggerRule.status}, not SUCCESS`);
    };
    // The floor and triggerRule are timed in alternating blocks: the ratios are the targets, and
    // a shared machine's speed drifts over a run.
    const cpu = () => [processCpuMs(), postgresCpuMs() ?? Number.NaN];
    const [floorOne, triggerOne] = await latencyInterleaved(
      () => floorClient.post(floorBody),
      () => triggered(ruleIds[0]!),
      50,
      options.samples,
      { meter: cpu },
    );
    const [floorMany, triggerMany] = await throughputInterleaved(
      16,
      options.seconds,
      () => floorClient.post(floorBody),
      (c) => triggered(ruleIds[c]!),
    );
    await floorClient.close();

    const c = await create('bench-cascade-c', { field: 'cpu', op: '>', value: 80 }, webhook);
    const b = await create('bench-cascade-b', { field: 'cpu', op: 'exists' }, { type: 'trigger_rule', rule_id: c });
    const a = await create('bench-cascade-a', { field: 'cpu', op: '>', value: 0 }, { type: 'trigger_rule', rule_id: b });
    const cascadeOne = await latency(() => triggered(a), 20, options.samples);

    // 1,000 active rules over 200 event types; each event meets 5 of them (0.5%).
    for (const id of [...ruleIds, a, b, c]) await client.post(mutation('mutation($id: ID!){ updateRule(id: $id, input: { active: false }) { id } }', { id }));
    for (let i = 0; i < options.rules; i++) {
      const type = `type-${i % 200}`;
      const spec =
        i % 2 === 0
          ? { field: 'type', op: '==', value: type }
          : {
              conditions: [
                { field: 'type', op: '==', value: type },
                { field: 'cpu', op: '>', value: 10 },
              ],
              logic: 'AND',
            };
      await create(`bench-event-${i}`, spec, webhook);
    }
    const publishQuery = 'mutation($e: JSON!){ publishEvent(event: $e, source: "bench") { matched } }';
    let matched = 0;
    const publishOne = await latency(
      async (i) => {
        const data = (await client.post(mutation(publishQuery, { e: { type: `type-${i % 200}`, cpu: 50 } }))) as { publishEvent: { matched: number } };
        matched = data.publishEvent.matched;
      },
      20,
      options.samples,
    );
    const publishMany = await throughput(16, options.seconds, (cl, i) =>
      client.post(mutation(publishQuery, { e: { type: `type-${(cl * 13 + i) % 200}`, cpu: 50 } })),
    );
    await client.close();
    return {
      floor: { p50One: floorOne, rps16: floorMany.rps },
      trigger: { p50One: triggerOne, rps16: triggerMany.rps },
      cascade: { p50One: cascadeOne },
      publish: { rules: options.rules, p50One: publishOne, rps16: publishMany.rps, matchedPerEvent: matched },
    };
  } finally {
    await app.stop();
    await floor.stop();
    sink.stop();
    await database.drop();
  }
}
