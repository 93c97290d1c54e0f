import type { DeliveryAttempt } from '../../entities/index.js';
import type { RetryPolicy } from '../rules/spec/index.js';

/**
 * The delay before retry `n` (from 1), SPEC.md 'Delivery': fixed, `delayMs`; exponential, a
 * random value between half and all of `min(maxDelayMs, delayMs * 2^(n-1))` ("equal jitter":
 * receivers coming back are not hit by every sender at once, and no retry comes sooner than
 * half its step).
 */
export function retryDelayMs(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
  if (policy.backoff === 'fixed') return policy.delayMs;
  const step = Math.min(policy.maxDelayMs, policy.delayMs * 2 ** Math.min(n - 1, 40));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * When the attempt after failed attempt `number` is due: null when the policy has no attempt
 * left; a `Retry-After` the answer asked for replaces the delay, capped at `maxDelayMs`.
 */
export function nextAttemptAt(policy: RetryPolicy | undefined, number: number, now: Date, retryAfter: number | null = null): Date | null {
  if (!policy || number >= policy.maxAttempts) return null;
  return new Date(now.getTime() + Math.min(policy.maxDelayMs, retryAfter ?? retryDelayMs(policy, number)));
}

/** The number of an execution's next webhook attempt (from 1). */
export const nextAttemptNumber = (row: { attempts: readonly DeliveryAttempt[] | null }): number => (row.attempts?.length ?? 0) + 1;

/** An attempt that failed before any answer came (not sent, or cut off): WEBHOOK_FAILED unless said. */
export function unansweredAttempt(number: number, at: Date, message: string, errorCode = 'WEBHOOK_FAILED'): DeliveryAttempt {
  return { number, at: at.toISOString(), durationMs: 0, httpStatus: null, errorCode, message };
}

/**
 * A `Retry-After` header as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110
 * §10.2.3). Null when absent or unreadable; never negative.
 */
export function retryAfterMs(header: string | undefined, now: number): number | null {
  if (header === undefined) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
