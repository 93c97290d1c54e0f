import { AppError } from '../../errors.js';
import type { Principal } from '../principal.js';
import type { TokenBuckets } from './buckets.js';

/** What is limited: runs started (triggerRule, executeApi, …) and events published. */
export type RateLimitKind = 'runs' | 'events';

/** Who spends: the request's principal and, for OPEN mode, its client address. */
export interface Caller {
  viewer: Principal;
  clientAddress: string;
}

/** Spends `count` of a caller's budget, or throws RATE_LIMITED and nothing may run. */
export type Admit = (count: number) => Promise<void>;

/** A call over its budget: what to tell the caller. */
export interface RateRefusal {
  retryAfterMs: number;
  message: string;
}

export interface Budget {
  buckets: TokenBuckets;
  perSecond: number;
  burst: number;
}

/**
 * The budget a caller's bucket is named by: its stored key's id, else its name (the ADMIN_KEY
 * is `admin`); in OPEN mode, where every request is the same principal, its client address.
 */
export function rateLimitSubject(caller: Caller): string {
  const { viewer } = caller;
  if (viewer.authMode === 'OPEN') return `address:${caller.clientAddress}`;
  return viewer.keyId !== null ? `key:${viewer.keyId}` : `name:${viewer.name}`;
}

/** RATE_LIMIT_RUNS and RATE_LIMIT_EVENTS (SPEC.md, 'Limits'); a kind without a budget is not limited. */
export class RateLimits {
  constructor(
    private readonly budgets: Record<RateLimitKind, Budget | null>,
    private readonly release: () => Promise<void> = async () => undefined,
  ) {}

  /** Spends `count` of the caller's budget of `kind`: null when it fit, else why not and how long to wait. */
  async check(kind: RateLimitKind, caller: Caller, count: number): Promise<RateRefusal | null> {
    const budget = this.budgets[kind];
    if (!budget || count <= 0) return null;
    const retryAfterMs = await budget.buckets.take(`${kind}:${rateLimitSubject(caller)}`, count);
    if (retryAfterMs === null) return null;
    const per = caller.viewer.authMode === 'OPEN' ? 'client address' : 'API key';
    const message =
      count > budget.burst
        ? `Rate limit: ${count} ${kind} in one call is more than the burst of ${budget.burst} ${kind} allowed per ${per}; send at most ${budget.burst} at a time`
        : `Rate limit: at most ${budget.perSecond} ${kind} per second (bursts of ${budget.burst}) per ${per}; retry in ${retryAfterMs} ms`;
    return { retryAfterMs, message };
  }

  /**
   * What a run-starting or publishing operation calls just before anything runs; undefined when
   * `kind` is not limited, so an unlimited call costs nothing.
   */
  admit(kind: RateLimitKind, caller: Caller): Admit | undefined {
    if (!this.budgets[kind]) return undefined;
    return async (count) => {
      const refusal = await this.check(kind, caller, count);
      if (refusal) throw new AppError('RATE_LIMITED', refusal.message, { retryAfterMs: refusal.retryAfterMs });
    };
  }

  /** Closes the connection the budgets are kept over (Redis), if any. */
  close(): Promise<void> {
    return this.release();
  }
}
