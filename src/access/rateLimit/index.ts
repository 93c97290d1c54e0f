import { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Clock } from '../../shared/clock.js';
import type { BucketShape, TokenBuckets } from './buckets.js';
import { MemoryTokenBuckets } from './memoryBuckets.js';
import { RateLimits, type Budget, type RateLimitKind } from './rateLimits.js';
import { defineTakeTokens, RedisTokenBuckets } from './redisBuckets.js';

export type { BucketShape, TokenBuckets } from './buckets.js';
export { MemoryTokenBuckets } from './memoryBuckets.js';
export { RedisTokenBuckets } from './redisBuckets.js';
export { RateLimits, rateLimitSubject, type Admit, type Caller, type RateLimitKind, type RateRefusal } from './rateLimits.js';

export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'cepheus:rate:';

export interface RateLimitOptions {
  clock: Clock;
  logger: Logger;
  /** Where the buckets live in Redis (tests give each run its own). */
  keyPrefix?: string;
}

/** Both kinds allow a burst of twice their rate per second. */
const shapeOf = (perSecond: number): BucketShape => ({ perSecond, burst: perSecond * 2 });

/**
 * The rate limits the settings ask for: none at 0 (no Redis connection either), kept in Redis
 * and shared by every instance when REDIS_URL is set, else in this instance's memory.
 */
export async function createRateLimits(config: Config, options: RateLimitOptions): Promise<RateLimits> {
  const rates: Record<RateLimitKind, number> = { runs: config.rateLimitRuns, events: config.rateLimitEvents };
  if (rates.runs === 0 && rates.events === 0) return new RateLimits({ runs: null, events: null });

  let bucketsOf: (shape: BucketShape) => TokenBuckets = (shape) => new MemoryTokenBuckets(shape, options.clock);
  let release = async (): Promise<void> => undefined;
  if (config.redisUrl) {
    const client = new Redis(config.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: 1000, maxRetriesPerRequest: 1 });
    client.on('error', (error) => options.logger.debug({ err: error }, 'rate limits: Redis connection error'));
    defineTakeTokens(client);
    await client.connect().catch((error: unknown) => {
      client.disconnect();
      throw new Error(`Rate limits: could not connect to Redis (REDIS_URL): ${(error as Error).message}`, { cause: error });
    });
    const prefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
    bucketsOf = (shape) => new RedisTokenBuckets(client, shape, prefix, options.logger);
    release = async () => {
      await client.quit().catch(() => client.disconnect());
    };
  }
  const budget = (perSecond: number): Budget | null => (perSecond === 0 ? null : { buckets: bucketsOf(shapeOf(perSecond)), ...shapeOf(perSecond) });
  return new RateLimits({ runs: budget(rates.runs), events: budget(rates.events) }, release);
}
