import { setTimeout as sleep } from 'node:timers/promises';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { ActionLog } from '../src/entities/index.js';
import { freshDatabase } from './engine.js';
import { startFanoutFloor } from './fanoutFloor.js';
import { stats } from './support/measure.js';

export interface FanoutRow {
  subscribers: number;
  /** Medians over the runs of each run's p50 and p99 (ms, publish to receipt). */
  floor: { p50: number; p99: number; delivered: number };
  cepheus: { p50: number; p99: number; delivered: number };
  runs: { floor: { p50: number; p99: number }[]; cepheus: { p50: number; p99: number }[] };
}

export interface FanoutOptions {
  subscriberCounts: number[];
  /** Alternating runs of each side per subscriber count. */
  runs: number;
  /** Rounds per run; each publishes `burst` messages in one go and waits for their delivery. */
  rounds: number;
  burst: number;
}

const QUERY = 'subscription($ruleId: ID!) { actionLogs(ruleId: $ruleId) { executionId cascadeId ruleId seq at level message data } }';
const RULE_ID = '0190f2a4-0000-7000-8000-000000000001';
/** How long a round may take to be delivered before its missing messages count as lost. */
const ROUND_DEADLINE_MS = 60_000;
const now = () => performance.timeOrigin + performance.now();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The subscriber process and a request/answer call over its IPC channel. */
async function startClients(): Promise<{ call(command: Record<string, unknown>): Promise<any>; stop(): void }> {
  const child: ChildProcess = fork(path.join(import.meta.dirname, 'support/wsClients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('error', reject);
  });
  let queue: Promise<unknown> = Promise.resolve();
  return {
    call(command) {
      const answer = queue.then(
        () =>
          new Promise<any>((resolve, reject) => {
            child.once('message', (message: { ok: boolean; error?: string }) => (message.ok ? resolve(message) : reject(new Error(message.error))));
            child.send(command);
          }),
      );
      queue = answer.catch(() => undefined);
      return answer;
    },
    stop: () => child.kill(),
  };
}

let counter = 0;
/** A log line like those of a script run; its message carries the number and publish time. */
function logLine(number: number): ActionLog {
  return {
    executionId: '0190f2a4-0000-7000-8000-00000000e001',
    cascadeId: '0190f2a4-0000-7000-8000-00000000e001',
    ruleId: RULE_ID,
    apiExecutionId: null,
    seq: ++counter,
    at: new Date(),
    level: 'INFO',
    message: `fanout:${number}:${now()}`,
    data: { step: number, host: 'web-1', cpu: 93.5 },
  };
}

interface Side {
  url: string;
  publish(log: ActionLog): void;
}

/** One run: `subscribers` sockets on `side`, warmed up, then timed rounds; closed after. */
async function runOnce(clients: Awaited<ReturnType<typeof startClients>>, side: Side, subscribers: number, options: FanoutOptions) {
  await clients.call({ cmd: 'connect', url: side.url, count: subscribers, query: QUERY, variables: { ruleId: RULE_ID } });
  try {
    // Subscriptions are in place once every socket has received a probe.
    let number = 0;
    let live = false;
    for (let attempt = 0; attempt < 100 && !live; attempt++) {
      side.publish(logLine(++number));
      await sleep(100);
      live = (await clients.call({ cmd: 'report' })).lowestLast >= 1;
    }
    if (!live) throw new Error(`fan-out bench: not every one of ${subscribers} subscriptions received a probe`);
    await sleep(500);
    await clients.call({ cmd: 'reset' });
    let expected = 0;
    for (let round = 0; round < options.rounds; round++) {
      for (let k = 0; k < options.burst; k++) side.publish(logLine(++number));
      expected += options.burst * subscribers;
      const deadline = performance.now() + ROUND_DEADLINE_MS;
      while ((await clients.call({ cmd: 'report', light: true })).received < expected && performance.now() < deadline) await sleep(20);
      await sleep(100);
    }
    const report = await clients.call({ cmd: 'report' });
    const latency = stats(report.latencies as number[]);
    return { p50: latency.p50, p99: latency.p99, received: report.received as number, expected };
  } finally {
    await clients.call({ cmd: 'close' });
  }
}

export async function runFanoutBench(adminUrl: string, options: FanoutOptions): Promise<FanoutRow[]> {
  const database = await freshDatabase(adminUrl);
  const connections = String(Math.max(...options.subscriberCounts) + 100);
  const app = createApp(loadConfig({ DATABASE_URL: database.url, PORT: '0', LOG_LEVEL: 'warn', WS_MAX_CONNECTIONS: connections }));
  const { url } = await app.start();
  const floor = await startFanoutFloor();
  const clients = await startClients();
  const cepheus: Side = { url: url.replace(/^http/, 'ws'), publish: (log) => app.engine.broadcast('log', log) };
  const rows: FanoutRow[] = [];
  try {
    for (const subscribers of options.subscriberCounts) {
      const runs = { floor: [] as { p50: number; p99: number }[], cepheus: [] as { p50: number; p99: number }[] };
      const delivered = { floor: [0, 0], cepheus: [0, 0] };
      for (let run = 0; run < options.runs; run++) {
        for (const [name, side] of [
          ['floor', floor],
          ['cepheus', cepheus],
        ] as const) {
          const result = await runOnce(clients, side, subscribers, options);
          runs[name].push({ p50: result.p50, p99: result.p99 });
          delivered[name][0]! += result.received;
          delivered[name][1]! += result.expected;
          process.stdout.write(
            `  ${subscribers} subscribers, ${name} run ${run + 1}: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.received}/${result.expected}\n`,
          );
        }
      }
      const summary = (name: 'floor' | 'cepheus') => ({
        p50: median(runs[name].map((r) => r.p50)),
        p99: median(runs[name].map((r) => r.p99)),
        delivered: (100 * delivered[name][0]!) / delivered[name][1]!,
      });
      rows.push({ subscribers, floor: summary('floor'), cepheus: summary('cepheus'), runs });
    }
    return rows;
  } finally {
    clients.stop();
    await floor.stop();
    await app.stop();
    await database.drop();
  }
}
