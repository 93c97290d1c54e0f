import type { Clock } from '../../shared/clock.js';
import { MILLI, type BucketShape, type TokenBuckets } from './buckets.js';

interface Bucket {
  /** Thousandths of a token held at `at`. */
  level: number;
  at: number;
}

/** Buckets held beyond which full ones (the same as absent) are dropped. */
const SWEEP_AT = 10_000;

/** Token buckets of this instance alone, in memory, on the given clock. */
export class MemoryTokenBuckets implements TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;

  constructor(
    private readonly shape: BucketShape,
    private readonly clock: Clock,
  ) {
    this.capacity = shape.burst * MILLI;
  }

  async take(subject: string, count: number): Promise<number | null> {
    const now = this.clock.now().getTime();
    const level = this.levelAt(this.buckets.get(subject), now);
    const cost = count * MILLI;
    if (cost <= level) {
      if (this.buckets.size >= SWEEP_AT && !this.buckets.has(subject)) this.sweep(now);
      this.buckets.set(subject, { level: level - cost, at: now });
      return null;
    }
    return Math.max(1, Math.ceil((Math.min(cost, this.capacity) - level) / this.shape.perSecond));
  }

  private levelAt(bucket: Bucket | undefined, now: number): number {
    if (!bucket) return this.capacity;
    // A clock that steps back adds nothing (and takes nothing away).
    return Math.min(this.capacity, bucket.level + Math.max(0, now - bucket.at) * this.shape.perSecond);
  }

  private sweep(now: number) {
    for (const [subject, bucket] of this.buckets) if (this.levelAt(bucket, now) >= this.capacity) this.buckets.delete(subject);
  }
}
