import { describe, expect, it, vi } from 'vitest';
import {
  CompiledRuleCache,
  compareValues,
  compileCondition,
  compilePredicate,
  evaluateValue,
  readPath,
  toFiniteNumber,
  type Condition,
  type Operator,
} from '../../src/engine/rules/conditions/index.js';

const leaf = (field: string, op: Operator, value?: unknown): Condition => (value === undefined ? { field, op } : { field, op, value });
const AND = (...conditions: Condition[]): Condition => ({ logic: 'AND', conditions });
const OR = (...conditions: Condition[]): Condition => ({ logic: 'OR', conditions });
const NOT = (...conditions: Condition[]): Condition => ({ logic: 'NOT', conditions });

const T = leaf('t', 'exists');
const F = leaf('f', 'exists');
const TF = { t: 1 };

const P = {
  cpu: 85,
  cpuStr: '10',
  name: 'web-01',
  level: 'high',
  flag: true,
  nothing: null,
  zero: 0,
  tags: ['a', 'b', '3'],
  nums: [1, 2, 3],
  host: { metrics: { cpu: 91 }, name: 'db' },
  items: [{ id: 'x1' }, { id: 'x2', deep: [10, 20] }],
  metrics: { mem: 70, cpu: 1 },
  obj: { a: 1, b: [1, 2] },
};

type Row = [label: string, cond: Condition, payload: unknown, expected: boolean];

const rows: Row[] = [
  // single comparisons
  ['> true', leaf('cpu', '>', 80), P, true],
  ['> false', leaf('cpu', '>', 90), P, false],
  ['> equal is false', leaf('cpu', '>', 85), P, false],
  ['< true', leaf('cpu', '<', 90), P, true],
  ['< false', leaf('cpu', '<', 10), P, false],
  ['>= equal', leaf('cpu', '>=', 85), P, true],
  ['>= false', leaf('cpu', '>=', 86), P, false],
  ['<= equal', leaf('cpu', '<=', 85), P, true],
  ['<= false', leaf('cpu', '<=', 84), P, false],
  ['== number', leaf('cpu', '==', 85), P, true],
  ['== number false', leaf('cpu', '==', 84), P, false],
  ['== string', leaf('name', '==', 'web-01'), P, true],
  ['== string case-sensitive', leaf('name', '==', 'WEB-01'), P, false],
  ['== boolean', leaf('flag', '==', true), P, true],
  ['boolean is not a number', leaf('flag', '==', 1), P, false],
  ['"true" is not true', leaf('flag', '==', 'true'), P, false],
  ['== null', leaf('nothing', '==', null), P, true],
  ['null != 0', leaf('nothing', '==', 0), P, false],
  ['== object structural', leaf('obj', '==', { b: [1, 2], a: 1 }), P, true],
  ['== object structural false', leaf('obj', '==', { a: 1, b: [2, 1] }), P, false],
  ['== array', leaf('nums', '==', [1, 2, 3]), P, true],
  ['no coercion inside structures', leaf('nums', '==', ['1', 2, 3]), P, false],
  ['!= true', leaf('cpu', '!=', 1), P, true],
  ['!= false', leaf('cpu', '!=', 85), P, false],
  // numeric strings
  ['"10" > 5', leaf('cpuStr', '>', 5), P, true],
  ['"10" == 10', leaf('cpuStr', '==', 10), P, true],
  ['85 == "85"', leaf('cpu', '==', '85'), P, true],
  ['85 == " 85.0 "', leaf('cpu', '==', ' 85.0 '), P, true],
  ['"10" > "9" numerically', { field: 'v', op: '>', value: '9' }, { v: '10' }, true],
  ['hex is not numeric', leaf('v', '==', 16), { v: '0x10' }, false],
  ['empty string is not 0', leaf('v', '==', 0), { v: '' }, false],
  ['whitespace is not 0', leaf('v', '<=', 0), { v: '  ' }, false],
  // strings vs strings, mismatched types
  ['string lexicographic >', leaf('name', '>', 'web-00'), P, true],
  ['string lexicographic <', leaf('name', '<', 'abc'), P, false],
  ['non-numeric string vs number > false', leaf('level', '>', 5), P, false],
  ['non-numeric string vs number < false', leaf('level', '<', 5), P, false],
  ['non-numeric string vs number >= false', leaf('level', '>=', 5), P, false],
  ['null ordering false', leaf('nothing', '<', 5), P, false],
  ['null >= null false', leaf('nothing', '>=', null), P, false],
  ['boolean ordering false', leaf('flag', '>', 0), P, false],
  ['object ordering false', leaf('obj', '>', 0), P, false],
  ['"high" != 5', leaf('level', '!=', 5), P, true],
  ['"high" == 5', leaf('level', '==', 5), P, false],
  ['true != 1', leaf('flag', '!=', 1), P, true],
  ['null != "x"', leaf('nothing', '!=', 'x'), P, true],
  ['"high" not_in [1,2]', leaf('level', 'not_in', [1, 2]), P, true],
  ['5 not_contains on number actual', leaf('cpu', 'not_contains', 5), P, true],
  ['contains on number actual', leaf('cpu', 'contains', 8), P, false],
  ['contains on object actual', leaf('obj', 'contains', 'a'), P, false],
  // in / not_in
  ['in true', leaf('level', 'in', ['low', 'high']), P, true],
  ['in false', leaf('level', 'in', ['low', 'mid']), P, false],
  ['in numeric strings', leaf('cpu', 'in', ['84', '85']), P, true],
  ['in numeric actual string', leaf('cpuStr', 'in', [10, 20]), P, true],
  ['in null member', leaf('nothing', 'in', [null]), P, true],
  ['in object member', leaf('obj', 'in', [{ a: 1, b: [1, 2] }]), P, true],
  ['in empty list', leaf('cpu', 'in', []), P, false],
  ['not_in true', leaf('cpu', 'not_in', [1, 2]), P, true],
  ['not_in false', leaf('cpu', 'not_in', ['85']), P, false],
  ['in boolean vs 1', leaf('flag', 'in', [1]), P, false],
  // contains
  ['contains substring', leaf('name', 'contains', 'eb-'), P, true],
  ['contains substring false', leaf('name', 'contains', 'xyz'), P, false],
  ['contains number needle in string', leaf('msg', 'contains', 404), { msg: 'error 404' }, true],
  ['contains list member', leaf('tags', 'contains', 'b'), P, true],
  ['contains list member false', leaf('tags', 'contains', 'z'), P, false],
  ['contains list number-aware', leaf('tags', 'contains', 3), P, true],
  ['contains list number-aware 2', leaf('nums', 'contains', '2'), P, true],
  ['not_contains string', leaf('name', 'not_contains', 'xyz'), P, true],
  ['not_contains string false', leaf('name', 'not_contains', 'web'), P, false],
  ['not_contains list false', leaf('tags', 'not_contains', 'a'), P, false],
  // starts_with / ends_with
  ['starts_with true', leaf('name', 'starts_with', 'web'), P, true],
  ['starts_with false', leaf('name', 'starts_with', 'db'), P, false],
  ['ends_with true', leaf('name', 'ends_with', '-01'), P, true],
  ['ends_with false', leaf('name', 'ends_with', '-02'), P, false],
  ['starts_with number actual false', leaf('cpu', 'starts_with', '8'), P, false],
  ['ends_with list actual false', leaf('tags', 'ends_with', '3'), P, false],
  // between
  ['between inside', leaf('cpu', 'between', [80, 90]), P, true],
  ['between low inclusive', leaf('cpu', 'between', [85, 90]), P, true],
  ['between high inclusive', leaf('cpu', 'between', [80, 85]), P, true],
  ['between below', leaf('cpu', 'between', [86, 90]), P, false],
  ['between above', leaf('cpu', 'between', [10, 84]), P, false],
  ['between numeric strings', leaf('cpuStr', 'between', ['5', 10]), P, true],
  ['between strings', leaf('name', 'between', ['a', 'z']), P, true],
  ['between mismatched', leaf('level', 'between', [1, 10]), P, false],
  // matches
  ['matches unanchored', leaf('name', 'matches', '\\d+'), P, true],
  ['matches anchored', leaf('name', 'matches', '^web-\\d{2}$'), P, true],
  ['matches false', leaf('name', 'matches', '^db'), P, false],
  ['matches no flags (case-sensitive)', leaf('name', 'matches', 'WEB'), P, false],
  ['matches non-string actual', leaf('cpu', 'matches', '85'), P, false],
  // exists / not_exists
  ['exists true', leaf('cpu', 'exists'), P, true],
  ['exists null counts', leaf('nothing', 'exists'), P, true],
  ['exists zero', leaf('zero', 'exists'), P, true],
  ['exists missing', leaf('nope', 'exists'), P, false],
  ['not_exists missing', leaf('nope', 'not_exists'), P, true],
  ['not_exists present', leaf('cpu', 'not_exists'), P, false],
  ['not_exists null present', leaf('nothing', 'not_exists'), P, false],
  // missing field: every leaf false except not_exists
  ...(
    [
      ['>', 1],
      ['<', 1],
      ['>=', 1],
      ['<=', 1],
      ['==', null],
      ['!=', 1],
      ['in', [1]],
      ['not_in', [1]],
      ['contains', 'a'],
      ['not_contains', 'a'],
      ['starts_with', 'a'],
      ['ends_with', 'a'],
      ['between', [1, 2]],
      ['matches', '.*'],
    ] as Array<[Operator, unknown]>
  ).map(([op, v]): Row => [`missing field ${op} false`, leaf('nope', op, v), P, false]),
  // paths
  ['dotted path', leaf('host.metrics.cpu', '>', 90), P, true],
  ['indexed path', leaf('items.1.id', '==', 'x2'), P, true],
  ['nested indexed path', leaf('items.1.deep.0', '==', 10), P, true],
  ['index out of range', leaf('items.5.id', 'exists'), P, false],
  ['non-canonical index', leaf('items.01.id', 'exists'), P, false],
  ['array length not readable', leaf('items.length', 'exists'), P, false],
  ['prototype not read', leaf('constructor', 'exists'), P, false],
  ['proto key not read', leaf('obj.__proto__', 'exists'), P, false],
  ['path through primitive', leaf('name.length', 'exists'), P, false],
  ['path through null', leaf('nothing.x', 'not_exists'), P, true],
  // metrics fallback
  ['metrics fallback', leaf('mem', '==', 70), P, true],
  ['top level wins over metrics', leaf('cpu', '==', 85), P, true],
  ['no fallback for dotted path', leaf('x.mem', 'exists'), P, false],
  ['fallback missing too', leaf('disk', 'exists'), P, false],
  ['fallback when metrics not object', leaf('mem', 'exists'), { metrics: 5 }, false],
  // non-object payloads
  ['null payload', leaf('cpu', '>', 1), null, false],
  ['null payload not_exists', leaf('cpu', 'not_exists'), null, true],
  ['undefined payload', leaf('cpu', 'exists'), undefined, false],
  ['string payload', leaf('length', 'exists'), 'abc', false],
  ['number payload', leaf('cpu', '==', 5), 5, false],
  ['array payload index', leaf('0', '==', 'a'), ['a'], true],
  // groups: truth tables
  ['AND TT', AND(T, T), TF, true],
  ['AND TF', AND(T, F), TF, false],
  ['AND FT', AND(F, T), TF, false],
  ['AND FF', AND(F, F), TF, false],
  ['OR TT', OR(T, T), TF, true],
  ['OR TF', OR(T, F), TF, true],
  ['OR FT', OR(F, T), TF, true],
  ['OR FF', OR(F, F), TF, false],
  ['NOT T', NOT(T), TF, false],
  ['NOT F', NOT(F), TF, true],
  ['NOT TT', NOT(T, T), TF, false],
  ['NOT TF', NOT(T, F), TF, false],
  ['NOT FF', NOT(F, F), TF, true],
  ['AND 3 true', AND(T, T, T), TF, true],
  ['AND 3 one false', AND(T, T, F), TF, false],
  ['OR 3 one true', OR(F, F, T), TF, true],
  ['OR 3 none', OR(F, F, F), TF, false],
  ['NOT 3 none', NOT(F, F, F), TF, true],
  ['NOT 3 one', NOT(F, T, F), TF, false],
  ['empty AND', AND(), TF, true],
  ['empty OR', OR(), TF, true],
  ['empty NOT', NOT(), TF, true],
  ['empty group on null payload', AND(), null, true],
  ['nested', AND(leaf('cpu', '>', 80), OR(leaf('level', '==', 'low'), NOT(leaf('name', 'starts_with', 'db')))), P, true],
  ['nested false', AND(leaf('cpu', '>', 80), OR(leaf('level', '==', 'low'), NOT(leaf('name', 'starts_with', 'web')))), P, false],
  ['lower-case logic tolerated', { logic: 'or', conditions: [F, T] } as unknown as Condition, TF, true],
  ['"=" tolerated', { field: 'cpu', op: '=', value: 85 } as unknown as Condition, P, true],
];

describe('conditions: table', () => {
  it.each(rows)('%s', (_label, cond, payload, expected) => {
    const outcome = compileCondition(cond)(payload);
    expect(outcome.met).toBe(expected);
    // The hot path agrees on every row.
    expect(compilePredicate(cond)(payload)).toBe(expected);
  });

  it.each(rows.filter(([, c]) => 'op' in c))('compareValues agrees with leaf: %s', (_label, cond, payload, expected) => {
    const l = cond as { field: string; op: Operator; value?: unknown };
    if (payload === null || typeof payload !== 'object') return;
    let r = readPath(payload, l.field);
    if (!r.found && !l.field.includes('.')) r = readPath(payload, `metrics.${l.field}`);
    expect(compareValues(r.found ? r.value : undefined, l.op, l.value)).toBe(expected);
  });
});

describe('negation is exact', () => {
  const values: unknown[] = [0, 5, '5', ' 5 ', 'high', '', null, true, false, [1, '5'], { a: 1 }, 'abc', ['x']];
  const pairs: Array<[Operator, Operator, (v: unknown) => unknown]> = [
    ['==', '!=', (v) => v],
    ['in', 'not_in', (v) => [v, 'zz']],
    ['contains', 'not_contains', (v) => v],
  ];
  for (const [pos, neg, mk] of pairs) {
    it(`${neg} is !${pos} over a value matrix`, () => {
      for (const actual of values) {
        for (const exp of values) {
          const p = compilePredicate(leaf('v', pos, mk(exp)))({ v: actual });
          const n = compilePredicate(leaf('v', neg, mk(exp)))({ v: actual });
          expect(n, `${JSON.stringify(actual)} ${neg} ${JSON.stringify(exp)}`).toBe(!p);
        }
      }
    });
  }
});

describe('references', () => {
  it('leaf', () => {
    expect(compileCondition(leaf('cpu', '>', 80))(P)).toEqual({
      met: true,
      references: { field: 'cpu', actual: 85, expected: 80, operator: '>', condition_evaluated: true },
    });
  });

  it('missing field has reason and null actual', () => {
    expect(compileCondition(leaf('nope', '>', 80))(P).references).toEqual({
      field: 'nope',
      actual: null,
      expected: 80,
      operator: '>',
      condition_evaluated: false,
      reason: 'field missing',
    });
  });

  it('not_exists on missing is true with reason', () => {
    const o = compileCondition(leaf('nope', 'not_exists'))(null);
    expect(o.met).toBe(true);
    expect(o.references).toEqual({
      field: 'nope',
      actual: null,
      expected: null,
      operator: 'not_exists',
      condition_evaluated: true,
      reason: 'field missing',
    });
  });

  it('metrics fallback reports the field as written', () => {
    expect(compileCondition(leaf('mem', '==', 70))(P).references).toMatchObject({ field: 'mem', actual: 70 });
  });

  it('operator "=" is normalised', () => {
    const c = { field: 'cpu', op: '=', value: 85 } as unknown as Condition;
    expect(compileCondition(c)(P).references).toMatchObject({ operator: '==', condition_evaluated: true });
  });

  it('group evaluates every child (no short-circuit)', () => {
    const o = compileCondition(OR(leaf('cpu', '>', 80), leaf('nope', '==', 1), AND()))(P);
    expect(o).toEqual({
      met: true,
      references: {
        composite_logic: 'OR',
        conditions_evaluated: [
          { field: 'cpu', actual: 85, expected: 80, operator: '>', condition_evaluated: true },
          { field: 'nope', actual: null, expected: 1, operator: '==', condition_evaluated: false, reason: 'field missing' },
          { composite_logic: 'AND', conditions_evaluated: [], final_result: true },
        ],
        final_result: true,
      },
    });
  });

  it('NOT group', () => {
    expect(compileCondition(NOT(leaf('cpu', '<', 10)))(P)).toEqual({
      met: true,
      references: {
        composite_logic: 'NOT',
        conditions_evaluated: [{ field: 'cpu', actual: 85, expected: 10, operator: '<', condition_evaluated: false }],
        final_result: true,
      },
    });
  });

  it('evaluateValue gives the leaf form for METRIC', () => {
    expect(evaluateValue('data.cpu', '>', 80, true, '91')).toEqual({
      met: true,
      references: { field: 'data.cpu', actual: '91', expected: 80, operator: '>', condition_evaluated: true },
    });
    expect(evaluateValue('data.cpu', '>', 80, false, undefined).references).toMatchObject({
      actual: null,
      reason: 'field missing',
      condition_evaluated: false,
    });
  });
});

describe('compile time', () => {
  it('compiles a regex once', () => {
    const Original = globalThis.RegExp;
    let constructed = 0;
    globalThis.RegExp = new Proxy(Original, {
      construct(target, args: [string]) {
        constructed++;
        return Reflect.construct(target, args) as object;
      },
    });
    try {
      const pred = compilePredicate(leaf('name', 'matches', '^web'));
      const full = compileCondition(leaf('name', 'matches', '^web'));
      const atCompile = constructed;
      expect(atCompile).toBeGreaterThan(0);
      for (let i = 0; i < 100; i++) {
        expect(pred({ name: `web-${i}` })).toBe(true);
        expect(full({ name: `xweb-${i}` }).met).toBe(false);
      }
      expect(constructed).toBe(atCompile);
    } finally {
      globalThis.RegExp = Original;
    }
  });

  it('rejects unknown operators and bad regexes at compile time', () => {
    expect(() => compilePredicate({ field: 'a', op: 'like' } as unknown as Condition)).toThrow(/Unknown operator/);
    expect(() => compileCondition(leaf('a', 'matches', '('))).toThrow(/Invalid regular expression/);
    expect(() => compilePredicate({ logic: 'XOR', conditions: [] } as unknown as Condition)).toThrow(/Unknown logic/);
  });
});

describe('compareValues (METRIC)', () => {
  it.each([
    ['91', '>', 80, true],
    [91, '>', '80', true],
    [50, 'between', [0, 100], true],
    ['x', '>', 1, false],
    [undefined, '>', 1, false],
    [undefined, 'not_exists', undefined, true],
    [null, 'exists', undefined, true],
    ['abc', 'matches', 'b', true],
    ['abc', 'matches', '(', false],
    ['high', '!=', 5, true],
  ] as Array<[unknown, Operator, unknown, boolean]>)('%j %s %j -> %s', (a, op, e, want) => {
    expect(compareValues(a, op, e)).toBe(want);
  });
});

describe('readPath / toFiniteNumber', () => {
  it.each([
    [{ a: { b: 1 } }, 'a.b', { found: true, value: 1 }],
    [{ a: [5, 6] }, 'a.1', { found: true, value: 6 }],
    [{ a: null }, 'a', { found: true, value: null }],
    [{ a: null }, 'a.b', { found: false, value: undefined }],
    [{ a: 1 }, '', { found: true, value: { a: 1 } }],
    [null, 'a', { found: false, value: undefined }],
    [{ 'a.b': 1 }, 'a.b', { found: false, value: undefined }],
    [{ '': { x: 1 } }, '.x', { found: true, value: 1 }],
  ] as Array<[unknown, string, { found: boolean; value: unknown }]>)('%j at %s', (v, p, want) => {
    expect(readPath(v, p)).toEqual(want);
  });

  it.each([
    [5, 5],
    ['5', 5],
    [' -1.5e2 ', -150],
    ['.5', 0.5],
    ['+2', 2],
    ['', NaN],
    ['  ', NaN],
    ['0x10', NaN],
    ['0b1', NaN],
    ['Infinity', NaN],
    ['1e999', NaN],
    // Leading whitespace of every kind is allowed (ASCII, no-break space, BOM); a first
    // character from ':' to DEL never starts a number.
    ['\t7', 7],
    ['\n8\r', 8],
    ['\u00a09', 9],
    ['\ufeff3', 3],
    ['e5', NaN],
    [':1', NaN],
    ['~1', NaN],
    ['abc', NaN],
    ['/1', NaN],
    ['\u00e91', NaN],
    [Infinity, NaN],
    [true, NaN],
    [null, NaN],
    [[1], NaN],
  ] as Array<[unknown, number]>)('%j reads as %s', (v, n) => {
    expect(toFiniteNumber(v)).toBe(n);
  });
});

describe('CompiledRuleCache', () => {
  it('builds once per (id, updatedAt), replaces on newer, keeps newer on stale', () => {
    const cache = new CompiledRuleCache<string>();
    const build = vi.fn((v: string) => v);
    expect(cache.get('r1', 1000, () => build('v1'))).toBe('v1');
    expect(cache.get('r1', 1000, () => build('again'))).toBe('v1');
    expect(build).toHaveBeenCalledTimes(1);
    expect(cache.get('r1', new Date(2000), () => build('v2'))).toBe('v2');
    expect(cache.size).toBe(1);
    expect(cache.get('r1', 1000, () => build('stale'))).toBe('stale');
    expect(cache.get('r1', 2000, () => build('nope'))).toBe('v2');
    expect(cache.delete('r1')).toBe(true);
    expect(cache.get('r1', 2000, () => build('v3'))).toBe('v3');
  });

  it('does not cache a failed build', () => {
    const cache = new CompiledRuleCache<number>();
    expect(() =>
      cache.get('r', 1, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(cache.get('r', 1, () => 7)).toBe(7);
  });
});
