import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { MILLI, type BucketShape, type TokenBuckets } from './buckets.js';

/**
 * One bucket as a hash {level, at} (thousandths of a token, Redis time in ms), refilled, checked
 * and taken from in one atomic step on Redis's own clock, so instances with skewed clocks still
 * share one budget. A refusal writes nothing; a bucket expires once it would be full again
 * (absent is full). Answers -1 when taken, else the milliseconds to wait.
 */
const TAKE_TOKENS = `
local perMs = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = capacity
if state[1] then
  level = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * perMs)
end
if cost <= level then
  level = level - cost
  redis.call('HSET', KEYS[1], 'level', level, 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - level) / perMs) + 1000)
  return -1
end
return math.max(1, math.ceil((math.min(cost, capacity) - level) / perMs))
`;

const COMMAND = 'cepheusTakeTokens';

type WithTakeTokens = Redis & { [COMMAND](key: string, perMs: number, capacity: number, cost: number): Promise<number> };

/** The script as a command of the client (EVALSHA, loaded on first use). */
export function defineTakeTokens(client: Redis): void {
  client.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE_TOKENS });
}

/**
 * Token buckets in Redis, shared by every instance using the same Redis and key prefix. When
 * Redis does not answer, the call is let through (one WARN line per outage): a limit must not
 * take the service down with it.
 */
export class RedisTokenBuckets implements TokenBuckets {
  private failing = false;

  constructor(
    private readonly client: Redis,
    private readonly shape: BucketShape,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
  ) {}

  async take(subject: string, count: number): Promise<number | null> {
    try {
      const wait = await (this.client as WithTakeTokens)[COMMAND](`${this.keyPrefix}${subject}`, this.shape.perSecond, this.shape.burst * MILLI, count * MILLI);
      if (this.failing) {
        this.failing = false;
        this.logger.info('rate limits: Redis answers again');
      }
      return wait < 0 ? null : wait;
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        this.logger.warn({ err: error }, 'rate limits: Redis did not answer; calls are let through until it does');
      }
      return null;
    }
  }
}
