/**
 * A token bucket: `perSecond` tokens flow in each second, at most `burst` are held, and an
 * empty or unknown subject starts full.
 */
export interface BucketShape {
  perSecond: number;
  burst: number;
}

/** One token bucket per subject (an API key or a client address), all of one shape. */
export interface TokenBuckets {
  /**
   * Takes `count` tokens from the subject's bucket when it holds them, answering null. Otherwise
   * takes nothing and answers the milliseconds (at least 1) until it will hold them; for a count
   * over the burst, until it is full.
   */
  take(subject: string, count: number): Promise<number | null>;
}

/**
 * Buckets count in thousandths of a token: one token per second is one thousandth per
 * millisecond, so on a clock of whole milliseconds every refill, take and wait is an exact integer.
 */
export const MILLI = 1000;
