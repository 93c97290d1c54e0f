import { Pool } from 'undici';

export interface LatencyStats {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

export function stats(durations: number[]): LatencyStats {
  const sorted = [...durations].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { samples: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: sorted.reduce((s, d) => s + d, 0) / Math.max(1, sorted.length) };
}

export interface GraphQLClient {
  post(body: string): Promise<unknown>;
  close(): Promise<void>;
}

/** A keep-alive client posting GraphQL bodies; throws on errors so a broken run never looks fast. */
export function graphqlClient(url: string, connections: number, headers: Record<string, string> = {}): GraphQLClient {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections, pipelining: 1 });
  const requestHeaders = { 'content-type': 'application/json', ...headers };
  return {
    async post(body) {
      const response = await pool.request({ path: target.pathname, method: 'POST', headers: requestHeaders, body });
      const json = (await response.body.json()) as { errors?: unknown; data?: unknown };
      if (response.statusCode !== 200 || json.errors) throw new Error(`request failed: ${response.statusCode} ${JSON.stringify(json.errors)}`);
      return json.data;
    },
    close: () => pool.close(),
  };
}

/** Runs `count` requests one after another, adding each one's duration (ms) to `into`. */
async function timeEach(run: (i: number) => Promise<unknown>, count: number, into: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await run(i);
    into.push(performance.now() - started);
  }
}

/** Sequential requests from one client: latency per request (ms). */
export async function latency(run: (i: number) => Promise<unknown>, warmup: number, samples: number): Promise<LatencyStats> {
  for (let i = 0; i < warmup; i++) await run(i);
  const durations: number[] = [];
  await timeEach(run, samples, durations);
  return stats(durations);
}

/** `clients` concurrent loops for `seconds`: completed requests per second. */
export async function throughput(
  clients: number,
  seconds: number,
  run: (client: number, i: number) => Promise<unknown>,
): Promise<{ rps: number; requests: number }> {
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await run(client, i);
        requests++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { rps: requests / elapsed, requests };
}

/** Cumulative counters (CPU ms, say) read between blocks; NaN where one cannot be read. */
export type Meter = () => number[];

/** Latency of one side of an interleaved run, with its meter's counters per request. */
export interface MeteredStats extends LatencyStats {
  /** What the meter's counters grew by during this side's blocks, divided by its requests. */
  perRequest: number[];
}

/**
 * Two workloads timed in alternating blocks (a, b, a, b, ...), so that a machine whose speed
 * drifts during the run (shared cores do) weighs on both alike and their ratio stays fair. The
 * meter, read before and after each block, is charged to the side that ran it.
 */
export async function latencyInterleaved(
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
  warmup: number,
  samples: number,
  options: { blocks?: number; meter?: Meter } = {},
): Promise<[MeteredStats, MeteredStats]> {
  const { blocks = 5, meter = () => [] } = options;
  for (let i = 0; i < warmup; i++) {
    await a(i);
    await b(i);
  }
  const sides = [a, b].map((run) => ({ run, durations: [] as number[], usage: [] as number[] }));
  const perBlock = Math.ceil(samples / blocks);
  for (let block = 0; block < blocks; block++) {
    for (const side of sides) {
      const before = meter();
      await timeEach(side.run, perBlock, side.durations);
      meter().forEach((value, k) => {
        side.usage[k] = (side.usage[k] ?? 0) + value - before[k]!;
      });
    }
  }
  const [x, y] = sides.map((side) => ({ ...stats(side.durations), perRequest: side.usage.map((total) => total / side.durations.length) }));
  return [x!, y!];
}

/** Throughput of two workloads in alternating blocks (see latencyInterleaved); `seconds` per workload in all. */
export async function throughputInterleaved(
  clients: number,
  seconds: number,
  a: (client: number, i: number) => Promise<unknown>,
  b: (client: number, i: number) => Promise<unknown>,
  blocks = 3,
): Promise<[{ rps: number; requests: number }, { rps: number; requests: number }]> {
  const total = [
    { requests: 0, seconds: 0 },
    { requests: 0, seconds: 0 },
  ];
  for (let block = 0; block < blocks; block++) {
    for (const [side, run] of [a, b].entries()) {
      const started = performance.now();
      const { requests } = await throughput(clients, seconds / blocks, run);
      total[side]!.requests += requests;
      total[side]!.seconds += (performance.now() - started) / 1000;
    }
  }
  const [x, y] = total.map((t) => ({ rps: t.requests / t.seconds, requests: t.requests }));
  return [x!, y!];
}
