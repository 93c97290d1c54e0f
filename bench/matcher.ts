/**
 * Matcher benchmark (issue 5, "Benchmarks"): 1,000 rules of leaf and AND/OR conditions over 100
 * event types, each event meeting about 0.5% of them. The RuleIndex runs in-process on one core;
 * json-rules-engine 7.3.1 runs the same rules (translated to its all/any format) on a few hundred
 * of the same events. Both answers are checked to agree event by event.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { Engine, type NestedCondition, type RuleProperties, type TopLevelCondition } from 'json-rules-engine';
import { compilePredicate, type Condition, type LeafCondition } from '../src/engine/rules/conditions/index.js';
import { RuleIndex } from '../src/engine/events/matcher/index.js';

export interface MatcherBenchResult {
  matcherEventsPerSecond: number;
  jsonRulesEngineEventsPerSecond: number;
  ratio: number;
  matchesPerEvent: number;
  bytesPer1000Rules: number;
  /** The matcher's rate by the wall clock (the headline numbers are per second of CPU time). */
  matcherEventsPerSecondWall: number;
}

export interface MatcherBenchOptions {
  rules?: number;
  /** Seconds the matcher is timed for (after a warm-up). */
  seconds?: number;
  /** Events given to json-rules-engine. */
  jsonRulesEngineEvents?: number;
}

const TYPES = 100;

/** Deterministic PRNG so every run measures the same rules and events. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BenchRule {
  id: string;
  condition: Condition;
}

const leaf = (field: string, op: LeafCondition['op'], value: unknown): LeafCondition => ({ field, op, value });
const and = (...conditions: Condition[]): Condition => ({ logic: 'AND', conditions });
const or = (...conditions: Condition[]): Condition => ({ logic: 'OR', conditions });

/**
 * 10% plain leaves on fields every event has (`code ==`, `latency_ms >`), 90% type-anchored AND/OR
 * conditions (9 per event type) whose other part holds for about half of the events of that type.
 */
export function makeRules(count = 1000): BenchRule[] {
  const rules: BenchRule[] = [];
  const leaves = Math.round(count / 10);
  for (let i = 0; i < leaves; i++) {
    const condition = i % 2 === 0 ? leaf('code', '==', (i * 37) % 1000) : leaf('latency_ms', '>', 990 + (i % 10));
    rules.push({ id: `leaf-${i}`, condition });
  }
  const hosts = Array.from({ length: 10 }, (_, h) => `h${h}`);
  for (let i = 0; rules.length < count; i++) {
    const type = leaf('type', '==', `t${i % TYPES}`);
    const shape = Math.floor(i / TYPES) % 9;
    const condition = [
      () => and(type, leaf('cpu', '>', 50)),
      () => and(type, leaf('mem', '<=', 49)),
      () => and(type, leaf('host', 'in', hosts)),
      () => or(and(type, leaf('cpu', '>', 75)), and(type, leaf('mem', '<', 25))),
      () => and(type, leaf('region', '==', 'eu')),
      () => and(type, leaf('cpu', 'between', [25, 74])),
      () => and(type, or(leaf('cpu', '>', 89), leaf('mem', '>', 59))),
      () => and(type, leaf('latency_ms', '<', 500)),
      () => and(type, leaf('status', '!=', 'error')),
    ][shape]!();
    rules.push({ id: `rule-${i}`, condition });
  }
  return rules;
}

export function makeEvents(count: number, seed = 42): Record<string, unknown>[] {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  return Array.from({ length: count }, () => ({
    type: `t${int(TYPES)}`,
    host: `h${int(20)}`,
    region: r() < 0.5 ? 'eu' : 'us',
    status: r() < 0.5 ? 'ok' : 'error',
    cpu: int(100),
    mem: int(100),
    latency_ms: int(1000),
    code: int(1000),
  }));
}

// --- json-rules-engine translation -----------------------------------------------------------

const JRE_OPS: Partial<Record<string, string>> = {
  '==': 'equal',
  '=': 'equal',
  '!=': 'notEqual',
  '>': 'greaterThan',
  '>=': 'greaterThanInclusive',
  '<': 'lessThan',
  '<=': 'lessThanInclusive',
  in: 'in',
  not_in: 'notIn',
  contains: 'contains',
  not_contains: 'doesNotContain',
};

function jreFact(field: string): { fact: string; path?: string } {
  const dot = field.indexOf('.');
  return dot < 0 ? { fact: field } : { fact: field.slice(0, dot), path: `$.${field.slice(dot + 1)}` };
}

function toJre(condition: Condition): NestedCondition {
  if ('conditions' in condition) {
    const children = condition.conditions.map(toJre);
    const logic = (condition.logic ?? 'AND').toUpperCase();
    if (logic === 'AND') return { all: children };
    if (logic === 'OR') return { any: children };
    return { not: { any: children } };
  }
  if (condition.op === 'between') {
    const [low, high] = condition.value as [unknown, unknown];
    return {
      all: [
        { ...jreFact(condition.field), operator: 'greaterThanInclusive', value: low },
        { ...jreFact(condition.field), operator: 'lessThanInclusive', value: high },
      ],
    };
  }
  const operator = JRE_OPS[condition.op];
  if (!operator) throw new Error(`no json-rules-engine operator for ${condition.op}`);
  return { ...jreFact(condition.field), operator, value: condition.value };
}

function toJreRule(rule: BenchRule): RuleProperties {
  const c = toJre(rule.condition);
  const conditions: TopLevelCondition = 'all' in c || 'any' in c ? (c as TopLevelCondition) : { all: [c] };
  return { conditions, event: { type: rule.id } };
}

// --- measurement -----------------------------------------------------------------------------

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function buildIndex(rules: BenchRule[]): RuleIndex<BenchRule> {
  const index = new RuleIndex<BenchRule>();
  for (const rule of rules) index.upsert({ id: rule.id, condition: rule.condition, value: rule });
  return index;
}

/** Heap bytes per 1,000 rules held by the index (entries, keys, compiled predicates). */
function measureMemory(rules: BenchRule[]): number {
  const gc = gcFunction();
  const copies = 20;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: RuleIndex<BenchRule>[] = [];
  for (let i = 0; i < copies; i++) kept.push(buildIndex(rules));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (kept.length !== copies) throw new Error('unreachable');
  return Math.round(((after - before) / copies / rules.length) * 1000);
}

export async function runMatcherBench(options: MatcherBenchOptions = {}): Promise<MatcherBenchResult> {
  const ruleCount = options.rules ?? 1000;
  const seconds = options.seconds ?? 2;
  const jreEvents = options.jsonRulesEngineEvents ?? 300;
  const rules = makeRules(ruleCount);
  const events = makeEvents(16_384);
  const index = buildIndex(rules);

  // Sanity: the index gives exactly the brute-force answer on these events.
  const predicates = rules.map((r) => ({ id: r.id, test: compilePredicate(r.condition) }));
  let total = 0;
  for (const event of events.slice(0, 2000)) {
    const got = index.match(event).map((r) => r.id);
    const want = predicates.filter((p) => p.test(event)).map((p) => p.id);
    if (got.join() !== want.join()) throw new Error(`matcher disagrees with compilePredicate on ${JSON.stringify(event)}`);
    total += want.length;
  }
  const matchesPerEvent = total / 2000;

  // Matcher: warm up, then time whole passes over the events until `seconds` have passed.
  const mask = events.length - 1;
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += index.match(events[i & mask]!).length;
  // Timed by CPU time of this process (one thread runs the loop) so that other load on a shared
  // machine does not count against it; the wall-clock rate is reported too.
  let n = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  do {
    for (let i = 0; i < 65_536; i++) sink += index.match(events[(n + i) & mask]!).length;
    n += 65_536;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  const matcherEventsPerSecond = n / cpuSeconds(cpuStart);
  const matcherEventsPerSecondWall = n / (Number(elapsed) / 1e9);
  if (sink < 0) throw new Error('unreachable');

  // json-rules-engine on the first few hundred of the same events.
  const engine = new Engine(rules.map(toJreRule), { allowUndefinedFacts: true });
  const jreAnswers: string[][] = [];
  const jreCpuStart = process.cpuUsage();
  for (let i = 0; i < jreEvents; i++) {
    const result = await engine.run(events[i]!);
    jreAnswers.push(result.events.map((e) => e.type));
  }
  const jreSeconds = cpuSeconds(jreCpuStart);
  jreAnswers.forEach((ids, i) => {
    const ours = index.match(events[i]!).map((r) => r.id);
    if ([...ids].sort().join() !== [...ours].sort().join()) {
      throw new Error(`json-rules-engine and the matcher disagree on ${JSON.stringify(events[i])}: ${ids.join()} / ${ours.join()}`);
    }
  });
  const jsonRulesEngineEventsPerSecond = jreEvents / jreSeconds;

  return {
    matcherEventsPerSecond: Math.round(matcherEventsPerSecond),
    jsonRulesEngineEventsPerSecond: Math.round(jsonRulesEngineEventsPerSecond * 10) / 10,
    ratio: Math.round(matcherEventsPerSecond / jsonRulesEngineEventsPerSecond),
    matchesPerEvent: Math.round(matchesPerEvent * 100) / 100,
    bytesPer1000Rules: measureMemory(rules),
    matcherEventsPerSecondWall: Math.round(matcherEventsPerSecondWall),
  };
}

// `node --import tsx bench/matcher.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runMatcherBench(), null, 2));
}
