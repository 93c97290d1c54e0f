import { describe, expect, it } from 'vitest';
import { findJsonShapeProblem, formatJsonPath, MAX_JSON_DEPTH } from '../../src/shared/jsonShape.js';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
};

describe('findJsonShapeProblem', () => {
  it('counts levels as SPEC.md does: a scalar at the top is 0, each object or array one more', () => {
    expect(findJsonShapeProblem(1)).toBeNull();
    expect(findJsonShapeProblem(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(findJsonShapeProblem(nested(MAX_JSON_DEPTH + 1))).toEqual({ path: Array(MAX_JSON_DEPTH).fill('a'), problem: 'nested deeper than 64 levels' });
    expect(findJsonShapeProblem([[[1]]], 2)?.path).toEqual([0, 0]);
  });

  it('finds non-finite numbers, at the top too', () => {
    expect(findJsonShapeProblem(Infinity)?.path).toEqual([]);
    expect(findJsonShapeProblem({ a: [1, 2, -Infinity] })).toEqual({ path: ['a', 2], problem: 'a number out of the double range (not finite)' });
  });

  it('answers the first problem in document order', () => {
    expect(findJsonShapeProblem({ first: nested(70), second: Infinity })?.path[0]).toBe('first');
    expect(findJsonShapeProblem({ first: Infinity, second: nested(70) })?.path).toEqual(['first']);
    expect(findJsonShapeProblem([nested(70), nested(70)])?.path[0]).toBe(0);
  });

  it('walks 100,000 levels without recursion', () => {
    expect(findJsonShapeProblem(nested(100_000))?.path).toHaveLength(MAX_JSON_DEPTH);
  });
});

describe('formatJsonPath', () => {
  it('writes simple keys after a dot and quotes the others, as specs do', () => {
    expect(formatJsonPath('payload', ['items', 0, 'id', '0', 'odd key', 'a-b'])).toBe('payload.items[0].id.0["odd key"].a-b');
  });
});
