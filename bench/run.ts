import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AttemptCost, runDeliveryBench } from './delivery.js';
import { runEngineBench } from './engine.js';
import { runEventsBench } from './events.js';
import { runFanoutBench } from './fanout.js';
import { runMatcherBench } from './matcher.js';
import { IDLE_GAP_MS, runSandboxBench } from './sandbox.js';
import { runStartupBench } from './startup.js';
import { runStreamBench } from './stream.js';

const adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const wanted = (name: string) => only.length === 0 || only.includes(name);
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const file = path.join(import.meta.dirname, '..', 'docs', 'benchmarks.md');

function machine() {
  return `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}${quick ? '; quick run (fewer samples)' : ''}.`;
}

/** Replaces (or appends) one marked section of docs/benchmarks.md. */
async function writeSection(name: string, body: string) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body}\n${end}`;
  let doc = await readFile(file, 'utf8').catch(
    () =>
      '# Benchmarks\n\nProduced by `npm run bench` (`npm run bench -- engine` or `-- sandbox` for one part; `--quick` for fewer samples). Speed targets live here, never as timed assertions in tests.\n',
  );
  const pattern = new RegExp(`${start}[\\s\\S]*${end}`);
  doc = pattern.test(doc) ? doc.replace(pattern, section) : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(file, doc);
}

async function engine() {
  process.stdout.write(`engine benchmark against PostgreSQL at ${new URL(adminUrl).host} ...\n`);
  const r = await runEngineBench(adminUrl, { samples: quick ? 100 : 500, seconds: quick ? 3 : 10, rules: 1000 });
  const ratio = (a: number, b: number) => fmt(a / b);
  const rows = [
    ['floor (insert + webhook + update, bare yoga)', fmt(r.floor.p50One.p50), fmt(r.floor.p50One.p95), fmt(r.floor.rps16, 0), '1.00', '1.00', ''],
    [
      'triggerRule, webhook action',
      fmt(r.trigger.p50One.p50),
      fmt(r.trigger.p50One.p95),
      fmt(r.trigger.rps16, 0),
      ratio(r.trigger.p50One.p50, r.floor.p50One.p50),
      ratio(r.trigger.rps16, r.floor.rps16),
      'p50 <= 1.25x, rps >= 0.8x',
    ],
    [
      'triggerRule, 3-rule cascade (A -> B -> C webhook)',
      fmt(r.cascade.p50One.p50),
      fmt(r.cascade.p50One.p95),
      '',
      ratio(r.cascade.p50One.p50, r.floor.p50One.p50),
      '',
      'p50 <= 3x',
    ],
    [
      `publishEvent, ${r.publish.rules} active rules (${r.publish.matchedPerEvent} matches/event)`,
      fmt(r.publish.p50One.p50),
      fmt(r.publish.p50One.p95),
      fmt(r.publish.rps16, 0),
      ratio(r.publish.p50One.p50, r.floor.p50One.p50),
      ratio(r.publish.rps16, r.floor.rps16),
      '',
    ],
  ];
  const table = [
    '| scenario | p50 ms (1 client) | p95 ms | requests/s (16 clients) | p50 / floor | rps / floor | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  const [floorCpu, triggerCpu] = [r.floor.p50One.perRequest, r.trigger.p50One.perRequest];
  const cpuCell = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : fmt(ms, 3));
  const cpuDelta = (k: number) => {
    const delta = triggerCpu[k]! - floorCpu[k]!;
    return Number.isNaN(delta) ? 'n/a' : `${delta >= 0 ? '+' : ''}${fmt(delta, 3)}`;
  };
  const cpuTable = [
    '| CPU per request, one client | this process, ms (servers and load generator) | PostgreSQL, ms |',
    '| --- | --- | --- |',
    `| floor | ${cpuCell(floorCpu[0])} | ${cpuCell(floorCpu[1])} |`,
    `| triggerRule, webhook action | ${cpuCell(triggerCpu[0])} | ${cpuCell(triggerCpu[1])} |`,
    `| triggerRule minus floor | ${cpuDelta(0)} | ${cpuDelta(1)} |`,
  ].join('\n');
  await writeSection(
    'engine-bench',
    [
      `## Engine: triggerRule, cascades, publishEvent (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `${machine()} PostgreSQL at ${new URL(adminUrl).host}.`,
      '',
      table,
      '',
      cpuTable,
      '',
      'Timed spans: from the client sending the mutation to the full answer, over keep-alive connections; server and load generator share one process, the webhook sink runs in another. The floor and triggerRule are timed in alternating blocks (5 blocks of single-client samples, 3 blocks of 16-client throughput each), so that drift in the speed of this shared machine weighs on both alike.',
      '- floor: one INSERT, one pooled undici POST to the sink, one UPDATE (2 commits).',
      '- triggerRule: rule read, the start statement (row + RULE_STARTED, CONDITION_EVALUATED, ACTION_STARTED events, with their NOTIFY), the webhook, the finish statement (row + log line + ACTION_FINISHED, RULE_FINISHED, CASCADE_FINISHED): 2 commits; the answer waits for the whole cascade (wait: true). 16 clients use 16 rules, since a rule runs once at a time.',
      '- 3-rule cascade: 3 rule reads (cached), 4 commits (3 starts; the three final rows in one statement), 16 cascade events, one webhook.',
      "- publishEvent: answers once the matching rules' root rows are written; their webhooks run after the answer. Rules are found through the rule index.",
      "- CPU per request: read before and after each single-client block and charged to the side that ran it. This process's CPU (`process.cpuUsage`) covers both servers and the load generator; PostgreSQL's is that of every postgres process on this machine, from /proc (n/a where /proc does not show them). CPU is steadier than time on a shared machine, and says where a gap in p50 comes from.",
    ].join('\n'),
  );
  process.stdout.write(`${table}\n\n${cpuTable}\n`);
}

async function sandbox() {
  process.stdout.write('sandbox benchmark ...\n');
  const r = await runSandboxBench({ samples: quick ? 300 : 2000, seconds: quick ? 3 : 10, databaseUrl: process.env.DATABASE_URL ?? adminUrl });
  const table = [
    '| measure | p50 ms | p95 ms | p99 ms | target |',
    '| --- | --- | --- | --- | --- |',
    `| warm round trip, sandbox only (one run at a time, ${IDLE_GAP_MS} ms idle before each) | ${fmt(r.warmRoundTrip.p50, 3)} | ${fmt(r.warmRoundTrip.p95, 3)} | ${fmt(r.warmRoundTrip.p99, 3)} | p50 <= 0.5 |`,
    `| back to back, sandbox only (each run sent as the last one answers) | ${fmt(r.backToBack.p50, 3)} | ${fmt(r.backToBack.p95, 3)} | ${fmt(r.backToBack.p99, 3)} | |`,
    `| warm run with its ApiExecution rows (API runner, ${IDLE_GAP_MS} ms idle before each) | ${fmt(r.withApiExecution.p50, 3)} | ${fmt(r.withApiExecution.p95, 3)} | ${fmt(r.withApiExecution.p99, 3)} | |`,
    '',
    `Cold first run (new sandbox: child process start, isolated-vm load, first isolate and context): ${fmt(r.coldFirstRunMs, 0)} ms.`,
    `Runs per second, 8 concurrent callers on ${os.cpus().length} cores: ${fmt(r.runsPerSecond, 0)}.`,
  ].join('\n');
  await writeSection(
    'sandbox-bench',
    [
      `## Sandbox: api_script overhead (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      machine(),
      '',
      table,
      '',
      'Timed spans: the script is `return params.a + input.b`, so the time is the sandbox\'s own: the queue, the IPC message to the child process, a fresh context in a pooled isolate, the call, the JSON answer back. "With its ApiExecution rows" adds the RUNNING insert and the finishing update (2 commits) through the API runner, without GraphQL.',
      '',
      `Every run gets a new context, and making one costs about 0.5 ms of CPU on the isolate's thread. The sandbox makes it ahead of time, after each run, while the isolate is idle; a run that finds it ready pays none of it. "Warm" runs leave ${IDLE_GAP_MS} ms between one answer and the next run, the time a sandbox that is not saturated has. Back to back, the next run arrives before its context is made and waits for part of it: that row is the sandbox at saturation, where the throughput line is the measure that counts.`,
    ].join('\n'),
  );
  process.stdout.write(`${table}\n`);
}

async function stream() {
  process.stdout.write('matcher and stream benchmark ...\n');
  const m = await runMatcherBench({ seconds: quick ? 1 : 3, jsonRulesEngineEvents: quick ? 100 : 300 });
  const w = await runStreamBench();
  process.stdout.write(`events benchmark against PostgreSQL at ${new URL(adminUrl).host} ...\n`);
  const e = await runEventsBench(adminUrl, { batches: quick ? 6 : 20, executions: quick ? 2000 : 10_000 });
  const delays = [...e.ruleChangeDelayMs].sort((x, y) => x - y);
  const rows = [
    [
      'matcher: 1,000 rules (leaf and AND/OR over 100 event types), one core',
      `${fmt(m.matcherEventsPerSecond, 0)} events/s (wall clock ${fmt(m.matcherEventsPerSecondWall, 0)})`,
      '>= 1,000,000 events/s',
    ],
    ['json-rules-engine 7.3.1, same rules and events', `${fmt(m.jsonRulesEngineEventsPerSecond, 1)} events/s`, ''],
    ['matcher / json-rules-engine', `${fmt(m.ratio, 0)}x`, ''],
    ['matches per event', fmt(m.matchesPerEvent, 2), '~5 (0.5%)'],
    ['sliding count/sum/avg aggregates, one core', `${fmt(w.slidingAggregatesPerSecond, 0)} events/s`, '>= 300,000'],
    ['sliding percentile (p95), one core', `${fmt(w.percentilePerSecond, 0)} events/s`, ''],
    [
      `POST /events end to end (NDJSON, 10,000 a request, 1 match per 1,000, each a webhook, persisted; ${e.ingestEvents} events)`,
      `${fmt(e.ingestEventsPerSecond, 0)} events/s (${e.ingestMatches} matches)`,
      '>= 50,000 events/s',
    ],
    [`executions run and persisted (${e.executions} webhook runs from one POST)`, `${fmt(e.executionsPerSecond, 0)} executions/s`, '>= 5,000/s'],
    [
      'a rule change reaching a second instance (created on A, matched on B; 5 tries)',
      `median ${fmt(delays[2] ?? 0, 0)} ms, max ${fmt(delays.at(-1) ?? 0, 0)} ms`,
      'a few seconds',
    ],
    ['memory per 1,000 rules (index and compiled predicates)', `${fmt(m.bytesPer1000Rules / 1_048_576, 2)} MiB`, ''],
    ['memory per 100k sliding window groups', `${fmt(w.bytesPer100kGroups / 1_048_576, 1)} MiB`, ''],
  ];
  const table = ['| measure | result | target |', '| --- | --- | --- |', ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  await writeSection(
    'stream-bench',
    [
      `## Stream engine: matching, windows, ingestion (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `${machine()} PostgreSQL at ${new URL(adminUrl).host}.`,
      '',
      table,
      '',
      "Timed spans: the matcher and json-rules-engine rates are per second of process CPU time on the same rules and events (json-rules-engine on a few hundred events so it ends); the aggregates run in process on one core; POST /events is timed from the first request to the last answer (two requests in flight; the answer comes once the matches' rows are written, their webhooks after); executions per second from the POST until the bus has carried every final row (published only after its write commits; all SUCCESS, checked in the table after), after a warm-up round of 2,000; the rule-change delay from createRule on A to the first publishEvent on B that matches it (B polls every 20 ms). Instance B starts after the throughput measures: in this one process it would share the CPU with A.",
    ].join('\n'),
  );
  process.stdout.write(`${table}\n`);
}

async function fanout() {
  process.stdout.write('fan-out benchmark (graphql-ws subscribers of actionLogs) ...\n');
  const counts = quick ? [1000] : [1000, 5000];
  const rows = await runFanoutBench(adminUrl, { subscriberCounts: counts, runs: 3, rounds: quick ? 3 : 5, burst: 10 });
  const ratio = (a: number, b: number) => `${fmt(a / b)}x`;
  const table = [
    '| subscribers | floor p50 ms | floor p99 ms | Cepheus p50 ms | Cepheus p99 ms | p50 / floor | p99 / floor | delivered (floor / Cepheus) | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.subscribers} | ${fmt(r.floor.p50, 1)} | ${fmt(r.floor.p99, 1)} | ${fmt(r.cepheus.p50, 1)} | ${fmt(r.cepheus.p99, 1)} | ${ratio(r.cepheus.p50, r.floor.p50)} | ${ratio(r.cepheus.p99, r.floor.p99)} | ${fmt(r.floor.delivered, 1)}% / ${fmt(r.cepheus.delivered, 1)}% | each <= 1.1x, 100% |`,
    ),
  ].join('\n');
  await writeSection(
    'fanout-bench',
    [
      `## Fan-out: one message to many graphql-ws subscribers (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `${machine()} PostgreSQL at ${new URL(adminUrl).host} (idle: messages are published straight on the bus).`,
      '',
      table,
      '',
      "Timed spans: from publishing a log line (Cepheus: on the app's event bus, as the log sink does; floor: yoga's in-process pubsub) to its receipt at each subscriber, every subscriber on a socket of its own, all subscribed to `actionLogs(ruleId)` of the same rule with the same selection. A run connects the subscribers, waits until each has received a probe, then publishes 10 lines at once and waits for their delivery, 5 times; the floor (a bare graphql-yoga + graphql-ws server with the same type and subscription, started by the bench) and Cepheus run alternately, 3 runs each, and each figure is the median of the runs' p50 or p99. The subscribers live in a process of their own: raw `ws` sockets that read only the marker of each frame. Servers and subscribers share the machine's cores, so the absolute times depend on it; the ratios are the targets.",
    ].join('\n'),
  );
  process.stdout.write(`${table}\n`);
}

async function delivery() {
  process.stdout.write(`delivery benchmark against PostgreSQL at ${new URL(adminUrl).host} ...\n`);
  const r = await runDeliveryBench(adminUrl, { retryExecutions: quick ? 2_000 : 10_000, heapExecutions: quick ? 20_000 : 100_000 });
  const mib = (bytes: number) => fmt(bytes / 1_048_576, 1);
  const { overlapped: o, apart: a, executions } = r.retry;
  const growth = r.heap.retryingBytes - r.heap.idleBytes;
  const cost = (c: AttemptCost) =>
    `${fmt(c.processCpuMs, 3)} ms CPU in this process, ${Number.isNaN(c.postgresCpuMs) ? 'n/a' : fmt(c.postgresCpuMs, 3)} ms in PostgreSQL, ${fmt(c.commits)} commits`;
  const rows = [
    [
      `first attempts, ${executions} webhooks answered 503 (from the first POST /events until all are past it)`,
      `${fmt(o.firstPerSecond, 0)}/s (${fmt(o.firstSeconds, 1)} s)`,
      '',
    ],
    [
      `second attempts, answered 200, due ${o.delayMs} ms after the first (from the first one due until all ${executions} are SUCCESS with 2 attempts)`,
      `${fmt(o.retriesPerSecond, 0)}/s (${fmt(o.retrySeconds, 1)} s; ${o.retriedDuringFirst} done before the last first attempt)`,
      '',
    ],
    ['second / first attempts per second', `${fmt(o.retriesPerSecond / o.firstPerSecond)}x`, '>= 0.5x'],
    [`first attempts alone (retries due ${a.delayMs / 1000} s later), per attempt`, `${fmt(a.firstPerSecond, 0)}/s; ${cost(a.firstCost)}`, ''],
    ['second attempts alone, per attempt', `${fmt(a.retriesPerSecond, 0)}/s; ${cost(a.retryCost)}`, ''],
    ['second / first attempts per second, alone', `${fmt(a.retriesPerSecond / a.firstPerSecond)}x`, ''],
    ['heap (heapUsed after gc), no execution waiting', `${mib(r.heap.idleBytes)} MiB`, ''],
    [
      `heap with ${r.heap.executions} executions RETRYING (next attempt in an hour; published and first-attempted in ${fmt(r.heap.seconds, 0)} s: ${r.heap.answered503} answered 503, ${r.heap.timedOut} timed out in the outbound queue)`,
      `${mib(r.heap.retryingBytes)} MiB (${mib(r.heap.burstBytes)} MiB 1 s after the last first attempt)`,
      '',
    ],
    [`heap growth for ${r.heap.executions} RETRYING`, `${growth >= 0 ? '+' : ''}${mib(growth)} MiB`, '<= 10 MB'],
  ];
  const table = ['| measure | result | target |', '| --- | --- | --- |', ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  await writeSection(
    'delivery-bench',
    [
      `## Delivery: webhook retries, RETRYING executions (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `${machine()} PostgreSQL at ${new URL(adminUrl).host}.`,
      '',
      table,
      '',
      `Timed spans: each round sends ${executions} events to a parallel-mode rule of its own through POST /events, batches of 500 from two clients, each sending its next batch once fewer than 1,000 of the rule's executions are RUNNING, after a warm-up round of 2,000; the counts come from the executions table, polled every 50 ms. The receiver runs in a process of its own and answers 503 to the first request of each \`webhook-id\` and 200 to the next; the rules' retry is \`{maxAttempts: 3, backoff: "fixed", delayMs}\`. With delayMs ${o.delayMs} the phases overlap: retries fall due while later first attempts still run, and the two share the machine. With delayMs ${a.delayMs}, the second round times each phase alone and meters it: this process's CPU (\`process.cpuUsage\`, the service and the load generator), that of every PostgreSQL process (from /proc) and the database's commits (\`pg_stat_database.xact_commit\`, the polls included), per attempt.`,
      '',
      `Heap: this process's \`heapUsed\` (the service runs in it) after full collections (\`global.gc()\`), each reading 15 s after its burst. "No execution waiting" follows 10,000 executions that failed at once, so pools and compiled code are warm on both readings; the RETRYING ones come from publishEvents calls of 10,000 events, one after another, answered 503 by a receiver that always fails, with retry \`{maxAttempts: 2, backoff: "fixed", delayMs: 3600000}\`. Such a burst is far more than one receiver takes: a webhook call that waits over its timeout (5 s) for one of the 128 connections per origin times out unsent, and stays in the outbound client's queue, with its timer and error, until a connection takes it; the reading 1 s after the last first attempt shows that transient.`,
    ].join('\n'),
  );
  process.stdout.write(`${table}\n`);
}

async function startup() {
  process.stdout.write('start-up benchmark (compiled build; PostgreSQL and embedded PGlite) ...\n');
  const r = await runStartupBench(adminUrl, { starts: quick ? 3 : 5 });
  const line = (
    what: string,
    floorName: string,
    m: { floor: { readyMs: number; rssMb: number }; cepheus: { readyMs: number; rssMb: number } },
    targets: string,
  ) =>
    `| ${what} | ${floorName} | ${fmt(m.floor.readyMs / 1000)} s, ${fmt(m.floor.rssMb, 0)} MB | ${fmt(m.cepheus.readyMs / 1000)} s, ${fmt(m.cepheus.rssMb, 0)} MB | ${fmt(m.cepheus.readyMs / m.floor.readyMs)}x | ${fmt(m.cepheus.rssMb / m.floor.rssMb)}x | ${targets} |`;
  const table = [
    '| database | floor | floor: ready, resident | Cepheus: ready, resident | ready / floor | resident / floor | targets |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    line('PostgreSQL', 'graphql-yoga + pg', r.postgres, 'ready <= 3x, resident <= 2.5x'),
    line('embedded, new data directory', 'PGlite + pglite-socket', r.embeddedNew, 'ready <= 1.5x, resident <= 1.5x'),
    line('embedded, existing data directory', 'PGlite + pglite-socket', r.embeddedExisting, 'ready <= 1.5x, resident <= 1.5x'),
  ].join('\n');
  await writeSection(
    'startup',
    [
      `## Start-up: time to /ready and idle memory (${new Date().toISOString().slice(0, 16)}Z)`,
      '',
      `${machine()} PostgreSQL at ${new URL(adminUrl).host}.`,
      '',
      table,
      '',
      `Each cell is the median of ${r.starts} starts, the floors and the service alternating. Every process is started by plain node (the service: \`node --no-node-snapshot dist/main.js\`, as \`npm start\` runs it) and timed from spawn to its first 200 from \`/ready\`, polled every 10 ms. Resident memory is VmRSS of the process and its children (the service's script sandbox) 3 s after the last request; for the service that is after one createRule and one triggerRule whose webhook answers, for the yoga floor after one query, for the PGlite floor after its one query through the socket. On PostgreSQL each start gets a new database (so the service applies its migrations each time); on the embedded database "new" is an empty data directory and "existing" the one the service made in the start before it, which the bare PGlite opens too.`,
    ].join('\n'),
  );
  process.stdout.write(`${table}\n`);
}

async function main() {
  if (wanted('startup')) await startup();
  if (wanted('engine')) await engine();
  if (wanted('delivery')) await delivery();
  if (wanted('sandbox')) await sandbox();
  if (wanted('stream')) await stream();
  if (wanted('fanout')) await fanout();
  process.stdout.write('written to docs/benchmarks.md\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
