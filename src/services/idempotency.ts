import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../access/principal.js';
import { AppError, badInput } from '../errors.js';
import type { Logger } from '../logger.js';
import { storeErrorFields } from '../engine/store/storeError.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { IdempotencySlot, IdempotencyStore } from './idempotencyStore.js';

/** The operations that take an idempotency key; each is a namespace of its own. */
export type IdempotentOperation = 'triggerRule' | 'executeApi' | 'publishEvents' | 'POST /events';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** An idempotency key as given (1..200 characters), or BAD_USER_INPUT naming `field`. */
export function checkIdempotencyKey(key: string, field = 'idempotencyKey'): string {
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw badInput(`${field}: expected 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, got ${key.length}`, { field });
  return key;
}

/**
 * Whose keys these are: a stored API key's id; the ADMIN_KEY (no stored id) is `admin`; in OPEN
 * mode every caller is `open`.
 */
export function idempotencyPrincipal(viewer: Principal): string {
  if (viewer.authMode === 'OPEN') return 'open';
  return viewer.keyId ?? 'admin';
}

/** JSON with every object's keys sorted, so that arguments equal by value give the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const requestHash = (args: unknown): string => createHash('sha256').update(canonicalJson(args)).digest('hex');

/** One call made with an idempotency key. */
export interface IdempotentCall {
  operation: IdempotentOperation;
  viewer: Principal;
  key: string;
  /** The arguments that must match a repeated call's (without the key itself and `wait`). */
  args: unknown;
}

/**
 * What a call does and how its answer is kept. `run` does the work; it may call `remember` as soon
 * as what a repeated call is answered from is known (a run's id, before the run ends), else
 * `stored(answer)` is remembered once it ends. `replay` turns what was stored back into an
 * answer. A `run` that throws before remembering anything ran nothing: the key is free again.
 */
export interface IdempotentWork<T> {
  run(remember: (stored: unknown) => Promise<void>): Promise<T>;
  stored(answer: T): unknown;
  replay(stored: unknown): Promise<T>;
}

export interface IdempotencyOptions {
  /** IDEMPOTENCY_TTL_SECONDS. */
  ttlSeconds: number;
  clock?: Clock;
  logger: Logger;
  /** How long a repeated call waits for the first one to store its answer. */
  waitLimitMs?: number;
}

const FIRST_POLL_MS = 5;
/** Tries at storing a call's answer before a repeated call is left to time out. */
const REMEMBER_ATTEMPTS = 3;
const MAX_POLL_MS = 200;

/**
 * Repeated calls with one idempotency key (SPEC.md, 'Idempotency'). The first call claims the
 * key's row (an insert that only one racing call wins); the others wait until it stores its
 * answer and answer that, or until it gives the key up (it ran nothing) and then claim it
 * themselves. Everything is in the database, so it holds across instances.
 */
export class IdempotencyService {
  private readonly clock: Clock;
  private readonly waitLimitMs: number;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly options: IdempotencyOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.waitLimitMs = options.waitLimitMs ?? 30_000;
  }

  async once<T>(call: IdempotentCall, work: IdempotentWork<T>): Promise<T> {
    const slot: IdempotencySlot = { operation: call.operation, principal: idempotencyPrincipal(call.viewer), key: call.key };
    const hash = requestHash(call.args);
    const deadline = Date.now() + this.waitLimitMs;
    let pollMs = FIRST_POLL_MS;
    for (;;) {
      const now = this.clock.now();
      const expiresAt = new Date(now.getTime() + this.options.ttlSeconds * 1000);
      if (await this.store.claim(slot, hash, now, expiresAt)) return this.runClaimed(slot, now, work);
      const row = await this.store.read(slot);
      if (row && row.expiresAt.getTime() >= this.clock.now().getTime()) {
        if (row.requestHash !== hash)
          throw badInput(`idempotencyKey: this key was already used with different arguments; use a new key for a different call`, {
            field: 'idempotencyKey',
          });
        if (row.result !== null) return work.replay(row.result);
        if (Date.now() >= deadline)
          throw new AppError('INTERNAL_SERVER_ERROR', 'idempotencyKey: the first call with this key has not finished yet; retry later');
        await sleep(pollMs);
        pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
      }
      // No row (the first call ran nothing) or an expired one: claim again.
    }
  }

  private async runClaimed<T>(slot: IdempotencySlot, claimedAt: Date, work: IdempotentWork<T>): Promise<T> {
    let remembered = false;
    const remember = async (stored: unknown) => {
      if (remembered) return;
      remembered = true;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.store.remember(slot, claimedAt, stored);
          return;
        } catch (error) {
          if (attempt < REMEMBER_ATTEMPTS) {
            await sleep(50 * attempt);
            continue;
          }
          // The call ran: its answer stands; a repeated call waits, then is told to retry.
          this.options.logger.warn({ operation: slot.operation, ...storeErrorFields(error) }, 'could not store the answer of a call with an idempotency key');
          return;
        }
      }
    };
    let result: T;
    try {
      result = await work.run(remember);
    } catch (error) {
      if (!remembered) await this.store.release(slot, claimedAt).catch((releaseError: unknown) => this.releaseFailed(slot, releaseError));
      throw error;
    }
    await remember(work.stored(result));
    return result;
  }

  private releaseFailed(slot: IdempotencySlot, error: unknown) {
    this.options.logger.warn({ operation: slot.operation, ...storeErrorFields(error) }, 'could not free an idempotency key after a refused call');
  }
}
