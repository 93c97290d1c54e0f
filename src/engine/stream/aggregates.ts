/**
 * Aggregates of the window form: count, sum, avg, min, max, std (population
 * standard deviation) and percentile (nearest rank, 0-100).
 *
 * - `Accumulator`: add-only and mergeable (tumbling and session windows; sessions merge
 *   when an out-of-order event bridges two of them). Welford's running mean / M2 for std.
 * - Sliding windows keep their own add / remove state (window.ts) and use the helpers here.
 */
import type { AggregateFn, ComparisonOperator } from '../rules/spec/types.js';

export const FN_COUNT = 0;
export const FN_SUM = 1;
export const FN_AVG = 2;
export const FN_MIN = 3;
export const FN_MAX = 4;
export const FN_STD = 5;
export const FN_PERCENTILE = 6;

export function fnCode(fn: AggregateFn): number {
  switch (fn) {
    case 'count':
      return FN_COUNT;
    case 'sum':
      return FN_SUM;
    case 'avg':
      return FN_AVG;
    case 'min':
      return FN_MIN;
    case 'max':
      return FN_MAX;
    case 'std':
      return FN_STD;
    case 'percentile':
      return FN_PERCENTILE;
  }
}

/** `value op threshold`; an empty aggregate (null) never meets it, whatever the operator. */
export type Comparison = (value: number | null) => boolean;

export function compileComparison(op: ComparisonOperator, threshold: number): Comparison {
  switch (op) {
    case '>':
      return (v) => v !== null && v > threshold;
    case '<':
      return (v) => v !== null && v < threshold;
    case '>=':
      return (v) => v !== null && v >= threshold;
    case '<=':
      return (v) => v !== null && v <= threshold;
    case '==':
      return (v) => v !== null && v === threshold;
    case '!=':
      return (v) => v !== null && v !== threshold;
  }
}

/**
 * Index of the nearest-rank percentile `p` (0..100) in a sorted list of `n` values:
 * rank = ceil(p / 100 * n), at least 1 (p = 0 is the minimum). The small epsilon keeps
 * ranks such as 99.9% of 1000 from landing one too high through float rounding.
 */
export function nearestRankIndex(n: number, p: number): number {
  const rank = Math.ceil((p * n) / 100 - 1e-9);
  if (rank <= 1) return 0;
  return rank >= n ? n - 1 : rank - 1;
}

/** Nearest-rank percentile of unsorted values (sorts a copy). Null when empty. */
export function percentileOf(values: ArrayLike<number>, p: number): number | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[nearestRankIndex(n, p)] as number;
}

/** Add-only, mergeable accumulator (tumbling and session windows). */
export class Accumulator {
  count = 0;
  sum = 0;
  mean = 0;
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Every value, for percentile only. */
  values: number[] | null;

  constructor(keepValues: boolean) {
    this.values = keepValues ? [] : null;
  }

  add(x: number): void {
    const n = ++this.count;
    this.sum += x;
    const d = x - this.mean;
    this.mean += d / n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (this.values !== null) this.values.push(x);
  }

  /** Chan et al.'s parallel combination. */
  merge(o: Accumulator): void {
    if (o.count === 0) return;
    if (this.count === 0) {
      this.count = o.count;
      this.sum = o.sum;
      this.mean = o.mean;
      this.m2 = o.m2;
      this.min = o.min;
      this.max = o.max;
    } else {
      const n = this.count + o.count;
      const delta = o.mean - this.mean;
      this.mean += (delta * o.count) / n;
      this.m2 += o.m2 + (delta * delta * this.count * o.count) / n;
      this.count = n;
      this.sum += o.sum;
      if (o.min < this.min) this.min = o.min;
      if (o.max > this.max) this.max = o.max;
    }
    if (this.values !== null && o.values !== null) {
      for (const v of o.values) this.values.push(v);
    }
  }

  /** The aggregate; null for an empty window except count (0) and sum (0). */
  value(fn: number, percentile: number): number | null {
    const n = this.count;
    switch (fn) {
      case FN_COUNT:
        return n;
      case FN_SUM:
        return this.sum;
      case FN_AVG:
        return n === 0 ? null : this.sum / n;
      case FN_MIN:
        return n === 0 ? null : this.min;
      case FN_MAX:
        return n === 0 ? null : this.max;
      case FN_STD:
        return n === 0 ? null : Math.sqrt(this.m2 > 0 ? this.m2 / n : 0);
      default:
        return this.values === null ? null : percentileOf(this.values, percentile);
    }
  }
}
