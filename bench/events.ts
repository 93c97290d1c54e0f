import { request } from 'undici';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { freshDatabase, startSink } from './engine.js';

export interface EventsBenchResult {
  ingestEventsPerSecond: number;
  ingestEvents: number;
  ingestMatches: number;
  executionsPerSecond: number;
  executions: number;
  ruleChangeDelayMs: number[];
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('timed out');
}

const countFinished = async (app: App, ruleId: string) => Number((await app.engine.executions({ ruleId, status: 'SUCCESS', limit: 0, after: null })).total);

/**
 * POST /events end to end (NDJSON batches of 10,000; one match per 1,000 events, each a webhook,
 * persisted), executions run and persisted per second, and how long a rule change takes to reach
 * a second instance.
 */
export async function runEventsBench(adminUrl: string, options: { batches: number; executions: number }): Promise<EventsBenchResult> {
  const sink = await startSink();
  const database = await freshDatabase(adminUrl);
  const env = { DATABASE_URL: database.url, PORT: '0', LOG_LEVEL: 'warn', OUTBOUND_ALLOWLIST: '127.0.0.1' };
  const a = createApp(loadConfig(env));
  // The second instance starts only for the rule-change delay: in this process it would share
  // the CPU with the instance being measured (and, as a peer, turn on NOTIFY for every write).
  let b: App | undefined;
  const { url } = await a.start();
  try {
    const webhook = { type: 'webhook', endpoint: `${sink.url}/hook`, method: 'POST', body: { seq: '{{payload.seq}}' } };
    // 1,000 rules on 1,000 event types in parallel mode (a rule may run for several events at once).
    for (let i = 0; i < 1000; i++) {
      await a.services.rules.create({
        name: `ingest-${i}`,
        triggerSpec: { field: 'type', op: '==', value: `t${i}`, concurrency: { mode: 'parallel' } },
        actionSpec: webhook,
      });
    }
    const eventsUrl = url.replace(/\/graphql$/, '/events');
    // Each batch: 10,000 events over 10,000 distinct types, so 10 of them meet a rule (1 in 1,000).
    const batch = (n: number) =>
      Array.from({ length: 10_000 }, (_, i) =>
        JSON.stringify({ type: i % 1000 === 0 ? `t${(n * 10 + i / 1000) % 1000}` : `other-${i}`, seq: i, host: `h${i % 50}`, cpu: i % 100 }),
      ).join('\n');
    const bodies = Array.from({ length: options.batches }, (_, n) => batch(n));
    let matches = 0;
    const started = performance.now();
    await Promise.all(
      [0, 1].map(async (lane) => {
        for (let n = lane; n < bodies.length; n += 2) {
          const response = await request(eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: bodies[n] });
          const result = (await response.body.json()) as { accepted: number; matched: number };
          matches += result.matched;
        }
      }),
    );
    const ingestSeconds = (performance.now() - started) / 1000;

    // Executions run and persisted per second: every event meets one parallel-mode rule. A final
    // row is published on the bus only once its write has committed, so counting finished rows
    // there times "run and persisted" without polling the table; the count is checked after.
    const hot = await a.services.rules.create({
      name: 'hot',
      triggerSpec: { field: 'hot', op: '==', value: true, concurrency: { mode: 'parallel' } },
      actionSpec: webhook,
    });
    const runExecutions = async (count: number) => {
      let succeeded = 0;
      let failed = 0;
      let resolveAll!: () => void;
      const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
      const unsubscribe = a.engine.subscribe('execution', (e) => {
        if (e.ruleId !== hot.id || !e.finishedAt) return;
        if (e.status === 'SUCCESS') succeeded++;
        else failed++;
        if (succeeded + failed === count) resolveAll();
      });
      const body = Array.from({ length: count }, (_, i) => JSON.stringify({ hot: true, seq: i })).join('\n');
      const t0 = performance.now();
      await request(eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).then((r) => r.body.text());
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('executions did not finish within 120 s')), 120_000).unref());
      await Promise.race([allDone, timeout]).finally(unsubscribe);
      const seconds = (performance.now() - t0) / 1000;
      if (failed > 0) throw new Error(`${failed} of ${count} executions did not succeed`);
      return count / seconds;
    };
    // A warm-up round first, so the timed one measures the steady state rather than the JIT.
    const warmup = Math.min(2_000, options.executions);
    await runExecutions(warmup);
    const executionsPerSecond = await runExecutions(options.executions);
    if ((await countFinished(a, hot.id)) !== warmup + options.executions) throw new Error('not every execution row is SUCCESS in the database');

    // A rule change reaching a second instance: created on A, matched by publishEvent on B.
    const second = createApp(loadConfig(env));
    b = second;
    await second.start();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const rule = await a.services.rules.create({ name: `delay-${i}`, triggerSpec: { field: 'probe', op: '==', value: i }, actionSpec: webhook });
      await waitUntil(async () => (await second.services.executions.publishEvent({ probe: i, ignore: true }, 'bench')).matched > 0, 10_000);
      delays.push(performance.now() - t0);
      await a.services.rules.delete(rule.id);
    }
    return {
      ingestEventsPerSecond: (options.batches * 10_000) / ingestSeconds,
      ingestEvents: options.batches * 10_000,
      ingestMatches: matches,
      executionsPerSecond,
      executions: options.executions,
      ruleChangeDelayMs: delays,
    };
  } finally {
    await b?.stop();
    await a.stop();
    sink.stop();
    await database.drop();
  }
}
