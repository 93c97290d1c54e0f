import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_PRINCIPAL, type Principal } from '../../src/access/principal.js';
import { createRateLimits, MemoryTokenBuckets, RateLimits, RedisTokenBuckets, rateLimitSubject, type Caller } from '../../src/access/rateLimit/index.js';
import { defineTakeTokens } from '../../src/access/rateLimit/redisBuckets.js';
import { loadConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { ManualClock } from '../support/clock.js';
import { closedPort } from '../support/sink.js';
import { describeUnless } from '../support/skips.js';
import { poll, sleep } from '../support/wait.js';

/**
 * Token buckets (SPEC.md 'Limits', rate limits): the in-memory one on an injected clock (burst,
 * refill, exact waits), the Redis one against a real Redis, and the subjects and refusals of
 * RateLimits for callers built by hand (per key, the admin key, per client address).
 */

const logger = createLogger({ logLevel: 'silent', logPretty: false });
const REDIS_URL = process.env.REDIS_URL;

describe('MemoryTokenBuckets', () => {
  it('lets a full burst through at once, then refuses with the exact wait for one token', async () => {
    const clock = new ManualClock();
    const buckets = new MemoryTokenBuckets({ perSecond: 4, burst: 8 }, clock);
    for (let i = 0; i < 8; i++) expect(await buckets.take('a', 1)).toBeNull();
    expect(await buckets.take('a', 1)).toBe(250);
    clock.advance(249);
    // 249 ms of 4 per second is 0.996 of a token: still refused, and one millisecond to go.
    expect(await buckets.take('a', 1)).toBe(1);
    clock.advance(1);
    expect(await buckets.take('a', 1)).toBeNull();
    expect(await buckets.take('a', 1)).toBe(250);
  });

  it('refills at the rate up to the burst and no further', async () => {
    const clock = new ManualClock();
    const buckets = new MemoryTokenBuckets({ perSecond: 3, burst: 6 }, clock);
    expect(await buckets.take('a', 6)).toBeNull();
    clock.advance(1000);
    expect(await buckets.take('a', 4)).toBe(334);
    expect(await buckets.take('a', 3)).toBeNull();
    clock.advance(3_600_000);
    expect(await buckets.take('a', 7)).toBe(1);
    expect(await buckets.take('a', 6)).toBeNull();
  });

  it('refuses a count over the burst without taking anything, waiting until the bucket is full', async () => {
    const clock = new ManualClock();
    const buckets = new MemoryTokenBuckets({ perSecond: 2, burst: 4 }, clock);
    expect(await buckets.take('a', 1)).toBeNull();
    expect(await buckets.take('a', 5)).toBe(500);
    expect(await buckets.take('a', 3)).toBeNull();
    expect(await buckets.take('a', 1)).toBe(500);
  });

  it('keeps one bucket per subject', async () => {
    const clock = new ManualClock();
    const buckets = new MemoryTokenBuckets({ perSecond: 1, burst: 2 }, clock);
    expect(await buckets.take('a', 2)).toBeNull();
    expect(await buckets.take('a', 1)).toBe(1000);
    expect(await buckets.take('b', 2)).toBeNull();
  });

  it('drops full buckets once many are held, and a dropped one is full again', async () => {
    const clock = new ManualClock();
    const buckets = new MemoryTokenBuckets({ perSecond: 1, burst: 2 }, clock);
    expect(await buckets.take('kept', 2)).toBeNull();
    for (let i = 0; i < 10_001; i++) await buckets.take(`s${i}`, 1);
    clock.advance(1000);
    expect(await buckets.take('new', 1)).toBeNull();
    // 'kept' refilled one token only: it was not dropped.
    expect(await buckets.take('kept', 2)).toBe(1000);
    expect(await buckets.take('s1', 2)).toBeNull();
  });
});

const callerOf = (viewer: Partial<Principal>, clientAddress = '10.0.0.1'): Caller => ({
  viewer: { name: 'k', role: 'EDITOR', keyId: null, expiresAt: null, authMode: 'KEYS', ...viewer } as Principal,
  clientAddress,
});

function memoryLimits(clock: ManualClock, runs: number, events: number) {
  const budget = (perSecond: number) =>
    perSecond ? { buckets: new MemoryTokenBuckets({ perSecond, burst: perSecond * 2 }, clock), perSecond, burst: perSecond * 2 } : null;
  return new RateLimits({ runs: budget(runs), events: budget(events) });
}

describe('RateLimits', () => {
  it('names a budget by the key id, else the key name (the admin key), or in OPEN mode the client address', () => {
    expect(rateLimitSubject(callerOf({ keyId: 'id-1', name: 'ci' }))).toBe('key:id-1');
    expect(rateLimitSubject(callerOf({ keyId: null, name: 'admin', role: 'ADMIN' }))).toBe('name:admin');
    expect(rateLimitSubject({ viewer: OPEN_PRINCIPAL, clientAddress: '::1' })).toBe('address:::1');
  });

  it('gives each key its own budget, the admin key one of its own, and keeps runs apart from events', async () => {
    const clock = new ManualClock();
    const limits = memoryLimits(clock, 1, 1);
    const first = callerOf({ keyId: 'id-1', name: 'same' });
    const second = callerOf({ keyId: 'id-2', name: 'same' });
    const admin = callerOf({ keyId: null, name: 'admin', role: 'ADMIN' });
    expect(await limits.check('runs', first, 2)).toBeNull();
    expect(await limits.check('runs', first, 1)).toMatchObject({ retryAfterMs: 1000 });
    // Another key of the same name, and from another address: its own budget.
    expect(await limits.check('runs', { ...second, clientAddress: '10.0.0.9' }, 2)).toBeNull();
    expect(await limits.check('runs', admin, 2)).toBeNull();
    expect(await limits.check('events', first, 2)).toBeNull();
    expect(await limits.check('runs', admin, 1)).toMatchObject({ retryAfterMs: 1000 });
  });

  it('in OPEN mode keeps one budget per client address', async () => {
    const limits = memoryLimits(new ManualClock(), 1, 0);
    const from = (clientAddress: string) => ({ viewer: OPEN_PRINCIPAL, clientAddress });
    expect(await limits.check('runs', from('127.0.0.1'), 2)).toBeNull();
    const refusal = await limits.check('runs', from('127.0.0.1'), 1);
    expect(refusal).toEqual({ retryAfterMs: 1000, message: 'Rate limit: at most 1 runs per second (bursts of 2) per client address; retry in 1000 ms' });
    expect(await limits.check('runs', from('127.0.0.2'), 1)).toBeNull();
  });

  it('admit throws RATE_LIMITED with retryAfterMs over the budget, and is absent for a kind without a limit', async () => {
    const limits = memoryLimits(new ManualClock(), 0, 5);
    expect(limits.admit('runs', callerOf({ keyId: 'id-1' }))).toBeUndefined();
    expect(await limits.check('runs', callerOf({ keyId: 'id-1' }), 1_000_000)).toBeNull();
    const admit = limits.admit('events', callerOf({ keyId: 'id-1' }))!;
    await admit(10);
    const error = await admit(1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', extensions: { retryAfterMs: 200 } });
    expect((error as AppError).message).toBe('Rate limit: at most 5 events per second (bursts of 10) per API key; retry in 200 ms');
  });

  it('tells a call over the burst to send fewer at a time', async () => {
    const limits = memoryLimits(new ManualClock(), 0, 5);
    const refusal = await limits.check('events', callerOf({ keyId: 'id-1' }), 11);
    expect(refusal).toEqual({
      retryAfterMs: 1,
      message: 'Rate limit: 11 events in one call is more than the burst of 10 events allowed per API key; send at most 10 at a time',
    });
  });

  it('with both limits at 0 opens no Redis connection; with one, an unreachable Redis fails the start', async () => {
    const env = { REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, LOG_PRETTY: 'false' };
    const limits = await createRateLimits(loadConfig(env), { clock: new ManualClock(), logger });
    expect(limits.admit('runs', callerOf({}))).toBeUndefined();
    expect(limits.admit('events', callerOf({}))).toBeUndefined();
    await limits.close();
    await expect(createRateLimits(loadConfig({ ...env, RATE_LIMIT_EVENTS: '5' }), { clock: new ManualClock(), logger })).rejects.toThrow(
      /^Rate limits: could not connect to Redis \(REDIS_URL\)/,
    );
  });
});

describeUnless(REDIS_URL ? undefined : 'REDIS_URL is unset, so there is no Redis to test against', 'RedisTokenBuckets', () => {
  let client: Redis;
  const prefix = `cepheus-test:${randomUUID()}:`;
  beforeAll(async () => {
    client = new Redis(REDIS_URL!, { lazyConnect: true });
    defineTakeTokens(client);
    await client.connect();
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length) await client.del(...keys);
    await client.quit();
  });

  it('lets a full burst through, refuses one more with a wait of at most one token, and takes nothing when refusing', async () => {
    const buckets = new RedisTokenBuckets(client, { perSecond: 1, burst: 2 }, prefix, logger);
    expect(await buckets.take('a', 2)).toBeNull();
    const wait = await buckets.take('a', 1);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
    expect(Number.isInteger(wait)).toBe(true);
    // Over the burst: refused, and the wait is until the bucket is full.
    const full = await buckets.take('a', 3);
    expect(full).toBeGreaterThan(1000);
    expect(full).toBeLessThanOrEqual(2000);
    expect(await buckets.take('b', 2)).toBeNull();
  });

  it('refills at the rate: after the wait it answers, the bucket takes again', async () => {
    const buckets = new RedisTokenBuckets(client, { perSecond: 50, burst: 100 }, prefix, logger);
    expect(await buckets.take('refill', 100)).toBeNull();
    const wait = await buckets.take('refill', 5);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(100);
    await sleep(wait!);
    expect(await buckets.take('refill', 5)).toBeNull();
  });

  it('lets calls through while Redis does not answer, and limits again once it does', async () => {
    const redis = new URL(REDIS_URL!);
    const relay = await startRelay(Number(redis.port || 6379), redis.hostname);
    const config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${relay.port}`, RATE_LIMIT_RUNS: '1', LOG_PRETTY: 'false' });
    const limits = await createRateLimits(config, { clock: new ManualClock(), logger, keyPrefix: prefix });
    const caller = callerOf({ keyId: randomUUID() });
    try {
      expect(await limits.check('runs', caller, 2)).toBeNull();
      expect(await limits.check('runs', caller, 1)).not.toBeNull();
      await relay.cut();
      // Two runs would need a full bucket (2 s of refill): let through only because Redis is away.
      expect(await limits.check('runs', caller, 2)).toBeNull();
      await relay.restore();
      await poll(
        () => limits.check('runs', caller, 1),
        (refusal) => refusal !== null,
        10_000,
        'a refusal once Redis answers again',
      );
    } finally {
      await limits.close();
      await relay.cut();
    }
  }, 20_000);
});

/** A TCP relay to Redis on a port of its own, that the test can cut and restore. */
async function startRelay(redisPort: number, redisHost: string) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(redisPort, redisHost);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => undefined);
          socket.on('close', () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await open();
  return {
    get port() {
      return port;
    },
    async cut() {
      const closing = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    restore: open,
  };
}
