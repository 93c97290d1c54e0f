import { describe, expect, it } from 'vitest';
import { compilePredicate, type Condition, type Operator } from '../../src/engine/rules/conditions/index.js';
import { EventReads, FieldSlots } from '../../src/engine/events/matcher/fieldReads.js';
import { compileCheck, passes } from '../../src/engine/events/matcher/verifier.js';

// Values that the specialised leaves tell apart: finite numbers and numeric strings, non-numeric
// strings (ordered lexicographically), non-finite numbers, other primitives, objects.
const VALUES: readonly unknown[] = [
  -1,
  0,
  -0,
  1,
  2,
  5,
  10,
  10.5,
  100,
  Infinity,
  -Infinity,
  NaN,
  '0',
  '1',
  '2',
  '5',
  ' 5 ',
  '10',
  '10.0',
  '1e1',
  'abc',
  'b',
  'B',
  '',
  ' ',
  '0x10',
  'Infinity',
  true,
  false,
  null,
  [1],
  ['a'],
  { k: 1 },
  [],
];
const LISTS: readonly unknown[] = [[], [1, '2', 'abc'], ['10', null, true], [Infinity, NaN, 'b'], [[1], { k: 1 }, 5], 'notalist', null];
const PAIRS: readonly unknown[] = [[1, 5], ['1', '10'], ['a', 'c'], [0, 'b'], [-Infinity, 10], [2], [1, 2, 3], 'x'];

const EVENTS: readonly unknown[] = [...VALUES.map((v) => ({ v })), ...VALUES.map((v) => ({ metrics: { v } })), {}, { v: undefined }, null, 'str'];

function expectSameAsPredicate(condition: Condition): void {
  const slots = new FieldSlots();
  const { check } = compileCheck(condition, slots);
  const predicate = compilePredicate(condition);
  const reads = new EventReads(slots);
  for (const event of EVENTS) {
    reads.begin(event);
    const got = passes(check, reads);
    if (got !== predicate(event)) {
      throw new Error(`${JSON.stringify(condition)} on ${JSON.stringify(event)}: check ${got}, predicate ${!got}`);
    }
  }
}

describe('verifier: compiled checks agree with compilePredicate', () => {
  it.each(['>', '>=', '<', '<=', '==', '=', '!='] as Operator[])('%s against every kind of value', (op) => {
    for (const value of [...VALUES, ...LISTS]) expectSameAsPredicate({ field: 'v', op, value });
  });

  it.each(['in', 'not_in'] as Operator[])('%s against lists and non-lists', (op) => {
    for (const value of [...LISTS, ...VALUES]) expectSameAsPredicate({ field: 'v', op, value });
  });

  it('between, and the operators left to the general test', () => {
    for (const value of [...PAIRS, ...VALUES]) expectSameAsPredicate({ field: 'v', op: 'between', value });
    for (const op of ['contains', 'not_contains', 'starts_with', 'ends_with'] as Operator[]) {
      for (const value of VALUES) expectSameAsPredicate({ field: 'v', op, value });
    }
    expectSameAsPredicate({ field: 'v', op: 'matches', value: '^a' });
    expectSameAsPredicate({ field: 'v', op: 'exists' });
    expectSameAsPredicate({ field: 'v', op: 'not_exists' });
  });

  it('groups: AND / OR / NOT of one, two and three children, and empty groups', () => {
    const a: Condition = { field: 'v', op: '>', value: 1 };
    const b: Condition = { field: 'v', op: 'in', value: ['abc', 10] };
    const c: Condition = { field: 'v', op: '==', value: 'b' };
    for (const logic of ['AND', 'OR', 'NOT', 'and', undefined]) {
      for (const conditions of [[], [a], [a, b], [a, b, c], [b, c], [{ logic: 'NOT', conditions: [c] }, a]]) {
        expectSameAsPredicate({ logic, conditions } as Condition);
      }
    }
  });

  it('throws like compilePredicate and then holds no field slot', () => {
    const slots = new FieldSlots();
    const bad: Condition[] = [
      { field: 'v', op: 'matches', value: '(' },
      { field: 'v', op: 'bogus' as Operator, value: 1 },
      { logic: 'XOR' as 'AND', conditions: [{ field: 'v', op: 'exists' }] },
      {
        logic: 'AND',
        conditions: [
          { field: 'a', op: '>', value: 1 },
          { field: 'b', op: 'matches', value: '[' },
        ],
      },
      { field: 5 as unknown as string, op: '==', value: 1 },
    ];
    for (const condition of bad) {
      expect(() => compilePredicate(condition)).toThrow();
      expect(() => compileCheck(condition, slots)).toThrow();
    }
    expect(slots.inUse).toBe(0);
  });

  it('reads each field once per event, however many leaves test it', () => {
    const slots = new FieldSlots();
    const { check, slots: held } = compileCheck(
      {
        logic: 'AND',
        conditions: [
          { field: 'cpu', op: '>', value: 1 },
          { field: 'cpu', op: '<', value: 99 },
          {
            logic: 'OR',
            conditions: [
              { field: 'cpu', op: '==', value: 5 },
              { field: 'host', op: '==', value: 'a' },
            ],
          },
        ],
      },
      slots,
    );
    expect(new Set(held).size).toBe(2);
    let cpuReads = 0;
    const event = {
      get cpu() {
        cpuReads++;
        return 50;
      },
      host: 'a',
    };
    const reads = new EventReads(slots);
    reads.begin(event);
    expect(passes(check, reads)).toBe(true);
    expect(cpuReads).toBe(1);
    reads.begin(event); // a new event: read again
    expect(passes(check, reads)).toBe(true);
    expect(cpuReads).toBe(2);
  });
});
