/**
 * Stream processor micro-benchmark (issue 5 "Benchmarks"): sliding count / sum / avg
 * aggregates per second on one core, percentile separately, and heap per 100k window groups.
 *
 *   node --expose-gc --import tsx bench/stream.ts
 *
 * Events are pooled objects whose event-time field is set before each call (the processors
 * read events synchronously and keep no reference for window forms), so the measure is the
 * processor, not the event generator.
 */
import { createStreamProcessor, type StreamProcessor } from '../src/engine/stream/index.js';
import type { WindowSpec } from '../src/engine/rules/spec/types.js';

export interface StreamBenchResult {
  /** Events per second, sliding count, sum and avg together (3 rules, each over every event). */
  slidingAggregatesPerSecond: number;
  /** Events per second, sliding percentile (p95). */
  percentilePerSecond: number;
  /** Heap bytes held by 100k sliding-window groups (one event each). */
  bytesPer100kGroups: number;
}

const EVENTS = 1_000_000;
const GROUPS = 300;
const POOL = 4096;
const T0 = Date.UTC(2024, 0, 1);
/** Event-time step between events: 1M events span 1,000 s; a 60 s window holds ~60k events (~200 per group). */
const STEP_MS = 1;

function slidingSpec(aggregate: WindowSpec['aggregate']): WindowSpec {
  return {
    filter: { field: 'type', op: '==', value: 'latency' },
    window: { type: 'sliding', sizeSeconds: 60 },
    aggregate,
    groupBy: ['host'],
    op: '>',
    value: 1e12, // never met: measure evaluation, not firing allocation
    timeField: 'ts',
    allowedLatenessSeconds: 0,
  };
}

function pool(): Array<Record<string, unknown>> {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < POOL; i++) out.push({ type: 'latency', host: `host-${Math.floor(rand() * GROUPS)}`, latency_ms: Math.round(rand() * 500), ts: 0 });
  return out;
}

function run(p: StreamProcessor, events: Array<Record<string, unknown>>, count: number): number {
  const start = process.hrtime.bigint();
  let fired = 0;
  for (let i = 0; i < count; i++) {
    const e = events[i & (POOL - 1)] as Record<string, unknown>;
    const t = T0 + i * STEP_MS;
    e.ts = t;
    fired += p.onEvent(e, t).length;
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (fired < 0) throw new Error('unreachable');
  return ns / 1e9;
}

function throughput(aggregate: WindowSpec['aggregate'], events: Array<Record<string, unknown>>): number {
  // Warm up on a separate processor so the JIT has settled before timing.
  run(createStreamProcessor(slidingSpec(aggregate), { maxGroups: 10_000 }), events, 100_000);
  const seconds = run(createStreamProcessor(slidingSpec(aggregate), { maxGroups: 10_000 }), events, EVENTS);
  return EVENTS / seconds;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
}

function memoryPer100kGroups(): number {
  const n = 100_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  const p = createStreamProcessor(slidingSpec({ fn: 'avg', field: 'latency_ms' }), { maxGroups: n * 2 });
  for (let i = 0; i < n; i++) p.onEvent({ type: 'latency', host: `host-${i}`, latency_ms: i % 500, ts: T0 }, T0);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (p.stats().groups !== n) throw new Error(`expected ${n} groups, got ${p.stats().groups}`);
  return Math.max(0, after - before);
}

export async function runStreamBench(): Promise<StreamBenchResult> {
  const events = pool();
  const perAggregate = [
    throughput({ fn: 'count' }, events),
    throughput({ fn: 'sum', field: 'latency_ms' }, events),
    throughput({ fn: 'avg', field: 'latency_ms' }, events),
  ];
  // Three rules each saw every event: events per second per rule, harmonic mean.
  const slidingAggregatesPerSecond = perAggregate.length / perAggregate.reduce((a, r) => a + 1 / r, 0);
  const percentilePerSecond = throughput({ fn: 'percentile', field: 'latency_ms', percentile: 95 }, events);
  const bytesPer100kGroups = memoryPer100kGroups();
  return {
    slidingAggregatesPerSecond: Math.round(slidingAggregatesPerSecond),
    percentilePerSecond: Math.round(percentilePerSecond),
    bytesPer100kGroups,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runStreamBench();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
