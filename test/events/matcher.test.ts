import { describe, expect, it } from 'vitest';
import { compilePredicate, OPERATORS, type Condition, type CompiledPredicate, type Operator } from '../../src/engine/rules/conditions/index.js';
import { accessPlan, RuleIndex } from '../../src/engine/events/matcher/index.js';
import { residualAfterKey } from '../../src/engine/events/matcher/plan.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)] as X;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

// Fields: plain names (with the metrics. fallback), dotted paths, an explicit metrics path, an array index.
const FIELDS = ['a', 'b', 'c', 'x.y', 'metrics.a', 'items.0'] as const;

// Scalar values mixing every type the semantics tell apart.
const SCALARS: readonly unknown[] = [
  -2,
  -1,
  0,
  1,
  2,
  3,
  5,
  7,
  10,
  10.5,
  100,
  -0,
  '0',
  '1',
  '2',
  '3',
  ' 5 ',
  '10',
  '10.0',
  '1e1',
  '+3',
  '.5',
  '-1',
  'a',
  'ab',
  'abc',
  'b',
  'B',
  '',
  ' ',
  'x10',
  '0x10',
  'Infinity',
  true,
  false,
  null,
  Infinity,
  -Infinity,
];
const OBJECTS: readonly unknown[] = [[1, '2'], [], { k: 1 }, ['a', 'b'], [10, 'abc']];

function randomScalar(r: Rng): unknown {
  return r.pick(SCALARS);
}

function randomValueFor(r: Rng, op: Operator): unknown {
  switch (op) {
    case 'in':
    case 'not_in': {
      if (r.chance(0.05)) return r.pick<unknown>(['notalist', 3, null]);
      const n = r.int(5);
      const list: unknown[] = [];
      for (let i = 0; i < n; i++) list.push(r.chance(0.08) ? r.pick(OBJECTS) : randomScalar(r));
      return list;
    }
    case 'between': {
      if (r.chance(0.05)) return r.pick<unknown>([[1], [1, 2, 3], 'x', null]);
      return [randomScalar(r), randomScalar(r)];
    }
    case 'matches':
      return r.pick(['^a', 'b$', '1', '^\\d+$', 'a|1', '']);
    case 'exists':
    case 'not_exists':
      return undefined;
    case 'contains':
    case 'not_contains':
      return r.chance(0.1) ? r.pick(OBJECTS) : randomScalar(r);
    case '==':
    case '!=':
      return r.chance(0.05) ? r.pick(OBJECTS) : r.chance(0.02) ? undefined : randomScalar(r);
    default:
      return r.chance(0.03) ? r.pick(OBJECTS) : randomScalar(r);
  }
}

const OPS: readonly string[] = [...OPERATORS, '='];
// Indexable operators weighted up so AND/OR planning is exercised a lot.
const WEIGHTED_OPS: readonly string[] = [...OPS, '==', '==', 'in', '>', '<', '>=', '<=', 'between', 'exists', 'not_exists'];

function randomCondition(r: Rng, depth: number): Condition {
  if (depth > 0 && r.chance(0.45)) {
    const n = r.chance(0.08) ? 0 : 1 + r.int(4);
    const conditions: Condition[] = [];
    for (let i = 0; i < n; i++) conditions.push(randomCondition(r, depth - 1));
    const logic = r.pick(['AND', 'AND', 'OR', 'OR', 'NOT', 'and', 'or', 'not']);
    const group = { conditions, logic } as Condition;
    if (r.chance(0.05)) delete (group as { logic?: unknown }).logic; // defaults to AND
    return group;
  }
  const op = r.pick(WEIGHTED_OPS) as Operator;
  const leaf: { field: string; op: Operator; value?: unknown } = { field: r.pick(FIELDS), op };
  const value = randomValueFor(r, op);
  if (value !== undefined) leaf.value = value;
  return leaf;
}

function randomFieldValue(r: Rng): unknown {
  if (r.chance(0.08)) return r.pick(OBJECTS);
  return randomScalar(r);
}

function randomEvent(r: Rng): unknown {
  if (r.chance(0.02)) return r.pick<unknown>([null, 'str', 42, []]);
  const e: Record<string, unknown> = {};
  for (const f of ['a', 'b', 'c']) if (r.chance(0.55)) e[f] = randomFieldValue(r);
  if (r.chance(0.5)) {
    const metrics: Record<string, unknown> = {};
    for (const f of ['a', 'b', 'c']) if (r.chance(0.5)) metrics[f] = randomFieldValue(r);
    e.metrics = r.chance(0.05) ? r.pick<unknown>([null, 5, 'm']) : metrics;
  }
  if (r.chance(0.4)) e.x = r.chance(0.85) ? { y: randomFieldValue(r) } : r.pick<unknown>([null, 3, { z: 1 }]);
  if (r.chance(0.3)) e.items = r.chance(0.8) ? [randomFieldValue(r)] : [];
  if (r.chance(0.05)) e.a = undefined; // own property holding undefined counts as missing
  return e;
}

interface Held {
  id: string;
  predicate: CompiledPredicate;
}

function brute(rules: Held[], event: unknown): string[] {
  return rules.filter((h) => h.predicate(event)).map((h) => h.id);
}

describe('RuleIndex: randomised equivalence with compilePredicate', () => {
  it('match(event) equals the brute-force filter, in rule order, over random rules and events', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = rng(seed);
      const index = new RuleIndex<string>();
      const held: Held[] = [];
      for (let i = 0; i < 400; i++) {
        const condition = randomCondition(r, 3);
        const id = `r${i}`;
        const predicate = compilePredicate(condition);
        index.upsert({ id, condition, value: id });
        held.push({ id, predicate });
      }
      expect(index.size).toBe(400);
      let nonEmpty = 0;
      for (let j = 0; j < 800; j++) {
        const event = randomEvent(r);
        const want = brute(held, event);
        const got = index.match(event);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          throw new Error(`seed ${seed} event ${JSON.stringify(event)}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
        }
        const viaCallback: string[] = [];
        const count = index.forEachMatch(event, (v) => viaCallback.push(v));
        if (count !== want.length || viaCallback.sort().join() !== [...want].sort().join()) {
          throw new Error(`seed ${seed} event ${JSON.stringify(event)}: forEachMatch gave ${JSON.stringify(viaCallback)}`);
        }
        if (want.length > 0) nonEmpty++;
      }
      // The generator must give both matching and non-matching events, and indexed rules.
      expect(nonEmpty).toBeGreaterThan(80);
      const stats = index.stats();
      expect(stats.always).toBeLessThan(stats.rules / 2);
    }
  });

  it('stays exact when hash keys prove == leaves deep in AND / OR / NOT trees', () => {
    const ANCHORS: readonly unknown[] = [1, '1', ' 1.0 ', 'abc'];
    const anchoredCondition = (r: Rng, depth: number, anchor: unknown): Condition => {
      if (depth > 0 && r.chance(0.6)) {
        const n = 1 + r.int(3);
        const conditions: Condition[] = [];
        for (let i = 0; i < n; i++) conditions.push(anchoredCondition(r, depth - 1, anchor));
        return { logic: r.pick(['AND', 'AND', 'OR', 'OR', 'NOT', 'or']), conditions } as Condition;
      }
      if (r.chance(0.5)) return { field: 'a', op: r.pick(['==', '=']) as Operator, value: r.chance(0.9) ? anchor : r.pick(ANCHORS) };
      return randomCondition(r, 1);
    };
    let proven = 0;
    for (let seed = 200; seed < 206; seed++) {
      const r = rng(seed);
      const index = new RuleIndex<string>();
      const held: Held[] = [];
      for (let i = 0; i < 300; i++) {
        const condition = anchoredCondition(r, 3, r.pick(ANCHORS));
        try {
          index.upsert({ id: `r${i}`, condition, value: `r${i}` });
        } catch {
          expect(() => compilePredicate(condition)).toThrow();
          continue;
        }
        if (residualAfterKey(condition, accessPlan(condition)) !== null) proven++;
        held.push({ id: `r${i}`, predicate: compilePredicate(condition) });
      }
      for (let j = 0; j < 600; j++) {
        const event = randomEvent(r) as Record<string, unknown> | null;
        if (event !== null && typeof event === 'object' && !Array.isArray(event) && r.chance(0.8)) event.a = r.pick([...ANCHORS, 2, 'abd']);
        const want = brute(held, event);
        const got = index.match(event);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          throw new Error(`seed ${seed} event ${JSON.stringify(event)}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
        }
      }
    }
    expect(proven).toBeGreaterThan(300);
  });

  it('stays exact through random upserts (replacing conditions) and removes', () => {
    for (let seed = 100; seed < 106; seed++) {
      const r = rng(seed);
      const index = new RuleIndex<string>();
      const live = new Map<string, CompiledPredicate>();
      for (let step = 0; step < 3000; step++) {
        const id = `r${r.int(120)}`;
        const action = r.next();
        if (action < 0.55) {
          const condition = randomCondition(r, 3);
          index.upsert({ id, condition, value: id });
          if (!live.has(id)) live.set(id, compilePredicate(condition));
          else live.set(id, compilePredicate(condition)); // replaced in place: keeps its order
        } else if (action < 0.8) {
          expect(index.remove(id)).toBe(live.delete(id));
        } else {
          const event = randomEvent(r);
          const want = [...live.entries()].filter(([, p]) => p(event)).map(([k]) => k);
          const got = index.match(event);
          expect(got.length).toBe(want.length);
          expect([...got].sort()).toEqual([...want].sort());
        }
        expect(index.size).toBe(live.size);
      }
      for (const id of [...live.keys()]) index.remove(id);
      expect(index.size).toBe(0);
      expect(index.stats()).toMatchObject({ rules: 0, always: 0, fields: 0 });
    }
  });
});

describe('RuleIndex: semantics the index must mirror', () => {
  const match = (condition: Condition, event: unknown) => {
    const index = new RuleIndex<string>();
    index.upsert({ id: 'r', condition, value: 'r' });
    const got = index.match(event).length === 1;
    expect(got).toBe(compilePredicate(condition)(event));
    return got;
  };

  it('hashes numbers and numeric strings together', () => {
    expect(match({ field: 'code', op: '==', value: '10' }, { code: 10 })).toBe(true);
    expect(match({ field: 'code', op: '==', value: 10 }, { code: ' 10.0 ' })).toBe(true);
    expect(match({ field: 'code', op: '==', value: 10 }, { code: '1e1' })).toBe(true);
    expect(match({ field: 'code', op: 'in', value: ['3', 10] }, { code: 3 })).toBe(true);
    expect(match({ field: 'code', op: '==', value: 'abc' }, { code: 'abc' })).toBe(true);
    expect(match({ field: 'code', op: '==', value: true }, { code: 1 })).toBe(false);
    expect(match({ field: 'code', op: '==', value: null }, { code: null })).toBe(true);
  });

  it('reads plain names under metrics when missing at the top level', () => {
    expect(match({ field: 'cpu', op: '>', value: 80 }, { metrics: { cpu: 90 } })).toBe(true);
    expect(match({ field: 'cpu', op: '>', value: 80 }, { cpu: 10, metrics: { cpu: 90 } })).toBe(false);
    expect(match({ field: 'cpu', op: '==', value: '90' }, { metrics: { cpu: 90 } })).toBe(true);
    expect(match({ field: 'host.cpu', op: '>', value: 80 }, { metrics: { 'host.cpu': 90 } })).toBe(false);
  });

  it('keeps the odd ordering cases (lexicographic strings, non-finite numbers)', () => {
    expect(match({ field: 'v', op: '>', value: '10' }, { v: 'abc' })).toBe(true); // "abc" > "10"
    expect(match({ field: 'v', op: '>', value: 10 }, { v: 'abc' })).toBe(false);
    expect(match({ field: 'v', op: '>', value: 10 }, { v: Infinity })).toBe(true);
    expect(match({ field: 'v', op: '<', value: 'b' }, { v: '5' })).toBe(true); // "5" < "b"
    expect(match({ field: 'v', op: 'between', value: ['1', '3'] }, { v: '2x' })).toBe(true);
    expect(match({ field: 'v', op: 'between', value: [1, 3] }, { v: 3 })).toBe(true);
    expect(match({ field: 'v', op: 'between', value: [1, 3] }, { v: '3.5' })).toBe(false);
  });

  it('missing fields: only not_exists is met; NOT and empty groups', () => {
    expect(match({ field: 'v', op: 'not_exists' }, {})).toBe(true);
    expect(match({ field: 'v', op: '!=', value: 1 }, {})).toBe(false);
    expect(match({ logic: 'NOT', conditions: [{ field: 'v', op: '==', value: 1 }] }, {})).toBe(true);
    expect(match({ logic: 'NOT', conditions: [{ field: 'v', op: 'not_exists' }] }, { v: null })).toBe(true);
    expect(match({ logic: 'AND', conditions: [] }, {})).toBe(true);
    expect(match({ logic: 'NOT', conditions: [{ logic: 'OR', conditions: [] }] }, {})).toBe(false);
    expect(match({ logic: 'OR', conditions: [] }, null)).toBe(true);
  });
});

describe('RuleIndex: narrowing and incremental changes', () => {
  it('tests an event only against rules that can match it', () => {
    const index = new RuleIndex<string>();
    const add = (id: string, condition: Condition) => index.upsert({ id, condition, value: id });
    for (let t = 0; t < 50; t++) {
      add(`eq${t}`, {
        logic: 'AND',
        conditions: [
          { field: 'type', op: '==', value: `t${t}` },
          { field: 'cpu', op: '>', value: 50 },
        ],
      });
    }
    add('gt', { field: 'latency', op: '>', value: 900 });
    add('or', {
      logic: 'OR',
      conditions: [
        { field: 'type', op: 'in', value: ['t1', 't2'] },
        { field: 'code', op: '==', value: 7 },
      ],
    });
    add('not', { logic: 'NOT', conditions: [{ field: 'type', op: '==', value: 't3' }] });
    expect(index.stats()).toMatchObject({ rules: 53, always: 1, never: 0 });

    expect(index.match({ type: 't1', cpu: 60, latency: 10 })).toEqual(['eq1', 'or', 'not']);
    expect(index.candidateCount({ type: 't1', cpu: 60, latency: 10 })).toBe(3);
    expect(index.match({ type: 't3', cpu: 10, latency: 950, code: '7' })).toEqual(['gt', 'or']);
    expect(index.candidateCount({ type: 't3', cpu: 10, latency: 950, code: '7' })).toBe(4);
    expect(index.candidateCount({ type: 't9' })).toBe(2); // eq9 and the NOT rule
  });

  it('reads each field once per event, for the index and every candidate alike', () => {
    const index = new RuleIndex<string>();
    for (let t = 0; t < 20; t++) {
      index.upsert({
        id: `r${t}`,
        condition: {
          logic: 'AND',
          conditions: [
            { field: 'type', op: '==', value: 'a' },
            { field: 'cpu', op: '>', value: t },
          ],
        },
        value: `r${t}`,
      });
    }
    index.upsert({ id: 'hot', condition: { field: 'cpu', op: '>', value: 90 }, value: 'hot' });
    const reads = new Map<string, number>();
    const counted = (values: Record<string, unknown>) => {
      const event = {};
      for (const [k, v] of Object.entries(values)) {
        Object.defineProperty(event, k, {
          enumerable: true,
          get: () => {
            reads.set(k, (reads.get(k) ?? 0) + 1);
            return v;
          },
        });
      }
      return event;
    };
    expect(index.match(counted({ type: 'a', cpu: 95 }))).toHaveLength(21);
    expect(Object.fromEntries(reads)).toEqual({ type: 1, cpu: 1 });
    reads.clear();
    expect(index.match(counted({ type: 'a', cpu: 5 }))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(Object.fromEntries(reads)).toEqual({ type: 1, cpu: 1 });
  });

  it('a hash key shared by every branch proves its == leaves (no duplicate candidate, same answers)', () => {
    const anchored = (x: Condition, y: Condition): Condition => ({
      logic: 'OR',
      conditions: [
        { logic: 'AND', conditions: [{ field: 'type', op: '==', value: '10' }, x] },
        { logic: 'AND', conditions: [y, { field: 'type', op: '=' as Operator, value: 10 }] },
      ],
    });
    const cpuHigh: Condition = { field: 'cpu', op: '>', value: 75 };
    const memLow: Condition = { field: 'mem', op: '<', value: 25 };
    const plan = accessPlan(anchored(cpuHigh, memLow));
    expect(plan).toMatchObject({ always: false, keys: [{ kind: 'eqNum', field: 'type', num: 10 }] });
    expect(residualAfterKey(anchored(cpuHigh, memLow), plan)).toEqual({ logic: 'OR', conditions: [cpuHigh, memLow] });
    // A branch that is the key alone proves the whole OR.
    const whole: Condition = { logic: 'OR', conditions: [anchored(cpuHigh, memLow), { field: 'type', op: '==', value: 10 }] };
    expect(residualAfterKey(whole, accessPlan(whole))).toEqual({ logic: 'AND', conditions: [] });
    // Under NOT the leaf is left to verify; with two keys nothing is proven.
    const negated: Condition = {
      logic: 'AND',
      conditions: [
        { field: 'type', op: '==', value: 10 },
        { logic: 'NOT', conditions: [{ field: 'type', op: '==', value: 10 }, memLow] },
      ],
    };
    expect(residualAfterKey(negated, accessPlan(negated))).toEqual({ logic: 'NOT', conditions: [{ field: 'type', op: '==', value: 10 }, memLow] });
    const twoKeys: Condition = {
      logic: 'OR',
      conditions: [
        { field: 'type', op: '==', value: 10 },
        { field: 'type', op: '==', value: 11 },
      ],
    };
    expect(residualAfterKey(twoKeys, accessPlan(twoKeys))).toBeNull();

    const index = new RuleIndex<string>();
    index.upsert({ id: 'a', condition: anchored(cpuHigh, memLow), value: 'a' });
    index.upsert({ id: 'w', condition: whole, value: 'w' });
    index.upsert({ id: 'n', condition: negated, value: 'n' });
    for (const event of [
      { type: 10, cpu: 80, mem: 50 },
      { type: '1e1', cpu: 10, mem: 20 },
      { type: ' 10 ', cpu: 10, mem: 50 },
      { type: 11, cpu: 80, mem: 10 },
      { type: 'x', cpu: 80 },
      { metrics: { type: 10, cpu: 99 } },
    ]) {
      const want = (['a', 'w', 'n'] as const).filter((id) => compilePredicate({ a: anchored(cpuHigh, memLow), w: whole, n: negated }[id])(event));
      expect(index.match(event)).toEqual(want);
    }
    expect(index.candidateCount({ type: 10 })).toBe(3);
  });

  it('a proven part of a condition still has to compile', () => {
    const index = new RuleIndex<string>();
    const badBranch: Condition = {
      logic: 'OR',
      conditions: [
        { field: 'type', op: '==', value: 'a' },
        {
          logic: 'AND',
          conditions: [
            { field: 'type', op: '==', value: 'a' },
            { field: 'v', op: 'matches', value: '(' },
          ],
        },
      ],
    };
    expect(residualAfterKey(badBranch, accessPlan(badBranch))).toEqual({ logic: 'AND', conditions: [] });
    expect(() => index.upsert({ id: 'b', condition: badBranch, value: 'b' })).toThrow();
    expect(index.size).toBe(0);
    expect(index.stats().fields).toBe(0);
  });

  it('upsert replaces a rule in place; remove drops it; both without a rebuild', () => {
    const index = new RuleIndex<{ name: string }>();
    index.upsert({ id: 'a', condition: { field: 'cpu', op: '>', value: 80 }, value: { name: 'a1' } });
    index.upsert({ id: 'b', condition: { field: 'cpu', op: '<', value: 50 }, value: { name: 'b' } });
    index.upsert({ id: 'c', condition: { field: 'host', op: '==', value: 'h1' }, value: { name: 'c' } });
    expect(index.match({ cpu: 90, host: 'h1' }).map((v) => v.name)).toEqual(['a1', 'c']);

    index.upsert({ id: 'a', condition: { field: 'cpu', op: '<', value: 10 }, value: { name: 'a2' } });
    expect(index.size).toBe(3);
    expect(index.match({ cpu: 90, host: 'h1' }).map((v) => v.name)).toEqual(['c']);
    expect(index.match({ cpu: 5 }).map((v) => v.name)).toEqual(['a2', 'b']); // 'a' keeps its first place

    expect(index.remove('b')).toBe(true);
    expect(index.remove('b')).toBe(false);
    expect(index.match({ cpu: 5 }).map((v) => v.name)).toEqual(['a2']);
    expect(index.stats().fields).toBe(2);
    index.remove('c');
    expect(index.stats().fields).toBe(1);
    expect(index.get('a')?.name).toBe('a2');
  });

  it('orders results by the given order', () => {
    const index = new RuleIndex<string>();
    index.upsert({ id: 'x', condition: { field: 'v', op: 'exists' }, value: 'x', order: 3 });
    index.upsert({ id: 'y', condition: { field: 'v', op: '==', value: 1 }, value: 'y', order: 1 });
    index.upsert({ id: 'z', condition: { logic: 'AND', conditions: [] }, value: 'z', order: 2 });
    expect(index.match({ v: 1 })).toEqual(['y', 'z', 'x']);
  });

  it('a condition that does not compile leaves the index unchanged', () => {
    const index = new RuleIndex<string>();
    index.upsert({ id: 'a', condition: { field: 'v', op: '==', value: 1 }, value: 'a' });
    expect(() => index.upsert({ id: 'a', condition: { field: 'v', op: 'matches', value: '(' }, value: 'bad' })).toThrow();
    expect(() => index.upsert({ id: 'b', condition: { field: 'v', op: 'bogus' as Operator }, value: 'bad' })).toThrow();
    expect(index.size).toBe(1);
    expect(index.match({ v: '1' })).toEqual(['a']);
  });

  it('plans: AND takes the most selective leaf, OR the union, NOT of not_exists needs presence', () => {
    const and = accessPlan({
      logic: 'AND',
      conditions: [
        { field: 'cpu', op: '>', value: 1 },
        { field: 'type', op: '==', value: 'x' },
        { field: 'host', op: 'contains', value: 'a' },
      ],
    });
    expect(and).toMatchObject({ always: false, keys: [{ kind: 'eqPrim', field: 'type', prim: 'x' }] });
    const or = accessPlan({
      logic: 'OR',
      conditions: [
        { field: 'a', op: '==', value: '1' },
        { field: 'b', op: '<=', value: 2 },
      ],
    });
    expect(or).toMatchObject({
      always: false,
      keys: [
        { kind: 'eqNum', num: 1 },
        { kind: 'range', op: 'le', threshold: 2 },
      ],
    });
    expect(
      accessPlan({
        logic: 'OR',
        conditions: [
          { field: 'a', op: '==', value: 1 },
          { field: 'b', op: 'not_exists' },
        ],
      }),
    ).toEqual({ always: true });
    expect(accessPlan({ logic: 'NOT', conditions: [{ field: 'a', op: 'not_exists' }] })).toMatchObject({ keys: [{ kind: 'present', field: 'a' }] });
    expect(accessPlan({ field: 'a', op: 'in', value: [] })).toMatchObject({ always: false, keys: [] });
  });
});
