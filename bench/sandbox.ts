import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { Sandbox } from '../src/engine/scripts/sandbox/index.js';
import type { ScriptRun } from '../src/engine/scripts/scriptRunner.js';
import { freshDatabase } from './engine.js';
import { stats, type LatencyStats } from './support/measure.js';

export interface SandboxBenchResult {
  coldFirstRunMs: number;
  /** Runs one at a time, each reaching a warm, idle sandbox (IDLE_GAP_MS after the last answer). */
  warmRoundTrip: LatencyStats;
  /** Runs one at a time, each sent as soon as the last answered (the sandbox never idles). */
  backToBack: LatencyStats;
  withApiExecution: LatencyStats;
  runsPerSecond: number;
}

const run = (source: string, id = 'bench'): ScriptRun => ({
  key: { id, updatedAt: 1 },
  source,
  params: { a: 1 },
  input: { b: 2 },
  context: { payload: null, rule: null, execution: null },
  policy: { timeoutMs: 5000, memoryLimitMb: 64, allowNetwork: false, allowedHosts: [] },
  onLog: () => undefined,
  onHttp: async () => ({ blocked: true, message: 'no network in the benchmark' }),
});

/** The pause before each "warm" run: the time a sandbox gets to make its next context between runs. */
export const IDLE_GAP_MS = 2;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timeRuns(sandbox: Sandbox, samples: number, gapMs: number): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (gapMs > 0) await pause(gapMs);
    const started = performance.now();
    const result = await sandbox.run(run(TRIVIAL));
    durations.push(performance.now() - started);
    if (!result.ok) throw new Error(result.message);
  }
  return durations;
}

const TRIVIAL = 'function main(params, input) { return params.a + input.b; }';

/**
 * The sandbox alone (a script that does nothing measurable, so all that is timed is the round
 * trip: queue, IPC to the child, a fresh context, the call, the JSON answer) and through the API
 * runner, which adds the ApiExecution rows.
 */
export async function runSandboxBench(options: { samples: number; seconds: number; databaseUrl: string | null }): Promise<SandboxBenchResult> {
  const logger = createLogger({ logLevel: 'warn', logPretty: false });
  const coldStart = performance.now();
  const cold = Sandbox.create({ outputMaxBytes: 1 << 20, logger, startNow: true });
  const first = await cold.run(run(TRIVIAL));
  const coldFirstRunMs = performance.now() - coldStart;
  if (!first.ok) throw new Error(`sandbox run failed: ${first.message}`);
  await cold.close();

  const sandbox = Sandbox.create({ outputMaxBytes: 1 << 20, logger, startNow: true });
  for (let i = 0; i < 200; i++) await sandbox.run(run(TRIVIAL));
  const durations = await timeRuns(sandbox, options.samples, IDLE_GAP_MS);
  const backToBack = await timeRuns(sandbox, options.samples, 0);
  const deadline = performance.now() + options.seconds * 1000;
  let completed = 0;
  const throughputStart = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        await sandbox.run(run(TRIVIAL));
        completed++;
      }
    }),
  );
  const runsPerSecond = completed / ((performance.now() - throughputStart) / 1000);
  await sandbox.close();

  // A database of its own, created and dropped here, like the other benchmarks'.
  const database = options.databaseUrl ? await freshDatabase(options.databaseUrl) : null;
  const app = createApp(
    loadConfig({ PORT: '0', LOG_LEVEL: 'warn', ...(database ? { DATABASE_URL: database.url } : { EMBEDDED_DATA_DIR: `/tmp/cepheus-bench-${process.pid}` }) }),
  );
  await app.start();
  try {
    const api = await app.services.apis.create({ name: `bench-${Date.now()}`, source: TRIVIAL });
    const { engine } = app;
    for (let i = 0; i < 100; i++) await engine.executeApi({ api, params: { a: 1 }, input: { b: 2 }, executedBy: 'bench', fromRule: null });
    const withWrite: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      await pause(IDLE_GAP_MS);
      const started = performance.now();
      await engine.executeApi({ api, params: { a: 1 }, input: { b: 2 }, executedBy: 'bench', fromRule: null });
      withWrite.push(performance.now() - started);
    }
    return { coldFirstRunMs, warmRoundTrip: stats(durations), backToBack: stats(backToBack), withApiExecution: stats(withWrite), runsPerSecond };
  } finally {
    await app.stop();
    await database?.drop();
  }
}
