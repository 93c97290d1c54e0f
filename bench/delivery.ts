import pg from 'pg';
import { request } from 'undici';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { freshDatabase, startSink } from './engine.js';
import { postgresCpuMs, processCpuMs } from './support/cpu.js';

/** Per attempt, over one phase: this process's CPU (where the service runs), PostgreSQL's, commits. */
export interface AttemptCost {
  processCpuMs: number;
  postgresCpuMs: number;
  commits: number;
}

export interface RetryRound {
  delayMs: number;
  /** First attempts per second: from the first POST /events until every execution is past its first attempt. */
  firstPerSecond: number;
  firstSeconds: number;
  /** Second attempts per second: from the first retry due until every execution is SUCCESS. */
  retriesPerSecond: number;
  retrySeconds: number;
  /** Executions already SUCCESS when the last first attempt was written (the phases overlap at short delays). */
  retriedDuringFirst: number;
  /** Executions SUCCESS with exactly two attempts, checked in the table after. */
  successWithTwoAttempts: number;
  firstCost: AttemptCost;
  retryCost: AttemptCost;
}

export interface RetryThroughput {
  executions: number;
  /** Retries due 100 ms after their first attempt: the phases overlap. */
  overlapped: RetryRound;
  /** Retries due after every first attempt: each phase alone. */
  apart: RetryRound;
}

export interface RetryingHeap {
  executions: number;
  /** heapUsed after gc with no execution waiting, and with `executions` RETRYING, each read once the burst has settled. */
  idleBytes: number;
  retryingBytes: number;
  /** heapUsed after gc 1 s after the last became RETRYING, while calls that timed out in the outbound queue are still held. */
  burstBytes: number;
  /** How their first attempts ended: answered 503, or timed out (5 s) while waiting for a connection. */
  answered503: number;
  timedOut: number;
  /** How long publishing them and their first attempts took. */
  seconds: number;
}

export interface DeliveryBenchResult {
  retry: RetryThroughput;
  heap: RetryingHeap;
}

const RETRY_DELAY_MS = 100;
/**
 * How long a burst takes to leave the heap: a webhook call that timed out (5 s) while waiting for
 * a connection stays in the outbound client's queue, with its timer and error, until a
 * connection takes it and drops it.
 */
const SETTLE_MS = 15_000;
/** A retry delay longer than all first attempts take, so that the two phases do not overlap. */
const APART_DELAY_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** heapUsed after full collections (run with --expose-gc, as `npm run bench` does). */
async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench does)');
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    await sleep(50);
    gc();
    readings.push(process.memoryUsage().heapUsed);
  }
  return Math.min(...readings);
}

type Service = Awaited<ReturnType<typeof startService>>;

async function startService(adminUrl: string, sinkScriptArgs: string[]) {
  const sink = await startSink('support/flakySink.ts', sinkScriptArgs);
  const database = await freshDatabase(adminUrl);
  // The receiver is on 127.0.0.1, which the outbound guard refuses unless it is allowed.
  const app = createApp(loadConfig({ DATABASE_URL: database.url, PORT: '0', LOG_LEVEL: 'warn', OUTBOUND_ALLOWLIST: '127.0.0.1' }));
  const { url } = await app.start();
  const db = new pg.Pool({ connectionString: database.url, max: 1 });
  return {
    app,
    url,
    sinkUrl: sink.url,
    db,
    async stop() {
      await db.end();
      await app.stop();
      sink.stop();
      await database.drop();
    },
  };
}

async function countsByStatus(db: pg.Pool, ruleId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM executions WHERE rule_id = $1 GROUP BY status', [ruleId]);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

const parallelRule = (app: App, name: string, kind: string, actionSpec: Record<string, unknown>) =>
  app.services.rules.create({ name, triggerSpec: { field: 'kind', op: '==', value: kind, concurrency: { mode: 'parallel' } }, actionSpec });

/**
 * Posts `count` events of `kind` to POST /events in NDJSON batches from `lanes` clients, each
 * sending its next batch once fewer than `inFlight` executions of `ruleId` are RUNNING: a burst
 * far over what the receiver takes would time first attempts out in the outbound queue.
 */
async function feedEvents(
  target: { url: string; db: pg.Pool; ruleId: string },
  kind: string,
  count: number,
  options: { batch: number; lanes: number; inFlight: number },
): Promise<void> {
  const eventsUrl = target.url.replace(/\/graphql$/, '/events');
  const { batch, lanes, inFlight } = options;
  const batches = Math.ceil(count / batch);
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let n = lane; n < batches; n += lanes) {
        while (((await countsByStatus(target.db, target.ruleId)).RUNNING ?? 0) >= inFlight) await sleep(10);
        const size = Math.min(batch, count - n * batch);
        const body = Array.from({ length: size }, (_, i) => JSON.stringify({ kind, seq: n * batch + i })).join('\n');
        const response = await request(eventsUrl, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const result = (await response.body.json()) as { matched?: number };
        if (response.statusCode !== 200 || result.matched !== size) throw new Error(`POST /events answered ${response.statusCode} ${JSON.stringify(result)}`);
      }
    }),
  );
}

const FEED = { batch: 500, lanes: 2, inFlight: 1_000 };

/** Process CPU, PostgreSQL CPU (NaN where /proc does not show it) and commits so far. */
async function meter(db: pg.Pool): Promise<{ cpu: number; pg: number; commits: number }> {
  const { rows } = await db.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
  return { cpu: processCpuMs(), pg: postgresCpuMs() ?? Number.NaN, commits: Number(rows[0]!.n) };
}

type Meter = Awaited<ReturnType<typeof meter>>;

const perAttempt = (from: Meter, to: Meter, attempts: number): AttemptCost => ({
  processCpuMs: (to.cpu - from.cpu) / attempts,
  postgresCpuMs: (to.pg - from.pg) / attempts,
  commits: (to.commits - from.commits) / attempts,
});

/**
 * One round of `executions` webhooks whose first attempt fails (503) and second succeeds,
 * `delayMs` apart, timed from the table's counts: first attempts from the first POST until all
 * are past their first attempt, second attempts from the first one due until all are SUCCESS.
 */
async function retryRound(service: Service, name: string, executions: number, delayMs: number): Promise<RetryRound> {
  const { app, url, sinkUrl, db } = service;
  const rule = await parallelRule(app, name, name, {
    type: 'webhook',
    endpoint: `${sinkUrl}/hook`,
    method: 'POST',
    body: { seq: '{{payload.seq}}' },
    retry: { maxAttempts: 3, backoff: 'fixed', delayMs },
  });
  const startMeter = await meter(db);
  const started = Date.now();
  const posting = feedEvents({ url, db, ruleId: rule.id }, name, executions, FEED);
  let firstDue = Number.POSITIVE_INFINITY;
  let allFirst = 0;
  let allFirstMeter = startMeter;
  let dueMeter: Meter | null = null;
  let retriedDuringFirst = 0;
  let allSuccess = 0;
  const deadline = started + 300_000 + delayMs;
  while (allSuccess === 0) {
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(await countsByStatus(db, rule.id))}`);
    const now = Date.now();
    const counts = await countsByStatus(db, rule.id);
    const due = await db.query<{ at: Date | null }>("SELECT min(next_attempt_at) AS at FROM executions WHERE rule_id = $1 AND status = 'RETRYING'", [rule.id]);
    if (due.rows[0]?.at) firstDue = Math.min(firstDue, due.rows[0].at.getTime());
    const success = counts.SUCCESS ?? 0;
    const pastFirst = (counts.RETRYING ?? 0) + success + (counts.FAILED ?? 0);
    if (!allFirst && pastFirst === executions) {
      allFirst = now;
      allFirstMeter = await meter(db);
      retriedDuringFirst = success;
    }
    if (!dueMeter && now >= firstDue) dueMeter = await meter(db);
    if (success + (counts.FAILED ?? 0) === executions) allSuccess = now;
    else await sleep(allFirst && !dueMeter ? Math.max(1, Math.min(50, firstDue - Date.now())) : 50);
  }
  const endMeter = await meter(db);
  await posting;
  const { rows } = await db.query<{ n: string }>(
    "SELECT count(*) AS n FROM executions WHERE rule_id = $1 AND status = 'SUCCESS' AND jsonb_array_length(attempts) = 2",
    [rule.id],
  );
  const successWithTwoAttempts = Number(rows[0]!.n);
  if (successWithTwoAttempts !== executions) throw new Error(`${successWithTwoAttempts} of ${executions} executions are SUCCESS with two attempts`);
  const firstSeconds = (allFirst - started) / 1000;
  const retrySeconds = (allSuccess - firstDue) / 1000;
  return {
    delayMs,
    firstPerSecond: executions / firstSeconds,
    firstSeconds,
    retriesPerSecond: executions / retrySeconds,
    retrySeconds,
    retriedDuringFirst,
    successWithTwoAttempts,
    firstCost: perAttempt(startMeter, allFirstMeter, executions),
    retryCost: perAttempt(dueMeter ?? allFirstMeter, endMeter, executions),
  };
}

/**
 * Webhooks retried once: first with the phases overlapping as they do in use (retries due
 * 100 ms after their first attempt), then with the retries due only after every first attempt,
 * so each phase is timed and metered alone.
 */
async function retryThroughput(adminUrl: string, executions: number): Promise<RetryThroughput> {
  const service = await startService(adminUrl, ['first-fails']);
  try {
    // A warm-up round first, so the timed ones measure the steady state rather than the JIT.
    await retryRound(service, 'warmup', Math.min(2_000, executions), RETRY_DELAY_MS);
    const overlapped = await retryRound(service, 'overlapped', executions, RETRY_DELAY_MS);
    const apart = await retryRound(service, 'apart', executions, APART_DELAY_MS);
    return { executions, overlapped, apart };
  } finally {
    await service.stop();
  }
}

/**
 * The service's heap with no execution waiting, then with `executions` RETRYING for an hour
 * (published through publishEvents in batches of 10,000 to a parallel-mode rule, each webhook
 * answered 503). The service runs in this process, so its heap is this process's.
 */
async function retryingHeap(adminUrl: string, executions: number): Promise<RetryingHeap> {
  const service = await startService(adminUrl, ['always-fails']);
  try {
    const { app, url, sinkUrl, db } = service;
    const webhook = { type: 'webhook', endpoint: `${sinkUrl}/hook`, method: 'POST', body: { seq: '{{payload.seq}}' } };
    const waiting = await parallelRule(app, 'heap-retrying', 'wait', { ...webhook, retry: { maxAttempts: 2, backoff: 'fixed', delayMs: 3_600_000 } });
    // The same path warmed up (pools, JIT) by executions that fail at once and leave nothing waiting.
    const once = await parallelRule(app, 'heap-warmup', 'once', webhook);
    await publishBatches(url, 'once', 10_000);
    await waitForCounts(db, once.id, { FAILED: 10_000 }, 120_000);
    await sleep(SETTLE_MS);
    const idleBytes = await heapAfterGc();

    const started = Date.now();
    await publishBatches(url, 'wait', executions);
    await waitForCounts(db, waiting.id, { RETRYING: executions }, 600_000);
    const seconds = (Date.now() - started) / 1000;
    await sleep(1_000);
    const burstBytes = await heapAfterGc();
    await sleep(SETTLE_MS);
    const retryingBytes = await heapAfterGc();
    const { rows } = await db.query<{ status: string | null; n: string }>(
      "SELECT attempts->0->>'httpStatus' AS status, count(*) AS n FROM executions WHERE rule_id = $1 AND status = 'RETRYING' AND jsonb_array_length(attempts) = 1 GROUP BY 1",
      [waiting.id],
    );
    const answered503 = Number(rows.find((r) => r.status === '503')?.n ?? 0);
    const timedOut = Number(rows.find((r) => r.status === null)?.n ?? 0);
    if (answered503 + timedOut !== executions) throw new Error(`${answered503 + timedOut} of ${executions} executions wait RETRYING after one attempt`);
    return { executions, idleBytes, retryingBytes, burstBytes, answered503, timedOut, seconds };
  } finally {
    await service.stop();
  }
}

/** publishEvents (GraphQL) in calls of 10,000 events, one after another. */
async function publishBatches(url: string, kind: string, count: number): Promise<void> {
  const query = 'mutation($e: [JSON!]!){ publishEvents(events: $e, source: "bench") { accepted matched } }';
  for (let n = 0; n * 10_000 < count; n++) {
    const events = Array.from({ length: Math.min(10_000, count - n * 10_000) }, (_, i) => ({ kind, seq: n * 10_000 + i }));
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables: { e: events } }),
    });
    const json = (await response.body.json()) as { data?: { publishEvents: { matched: number } }; errors?: unknown };
    if (json.errors || json.data?.publishEvents.matched !== events.length) throw new Error(`publishEvents failed: ${JSON.stringify(json.errors ?? json.data)}`);
  }
}

async function waitForCounts(db: pg.Pool, ruleId: string, want: Record<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await countsByStatus(db, ruleId);
    if (Object.entries(want).every(([status, n]) => counts[status] === n)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(want)}: ${JSON.stringify(counts)}`);
    await sleep(100);
  }
}

export async function runDeliveryBench(adminUrl: string, options: { retryExecutions: number; heapExecutions: number }): Promise<DeliveryBenchResult> {
  const retry = await retryThroughput(adminUrl, options.retryExecutions);
  const heap = await retryingHeap(adminUrl, options.heapExecutions);
  return { retry, heap };
}
