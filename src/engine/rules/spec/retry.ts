import type { RetryPolicy } from './types.js';
import { checkKeys, expectEnum, expectInteger, expectObject, fail, has, indexPath, keyPath } from './util.js';

export const MAX_ATTEMPTS = 25;
export const MIN_DELAY_MS = 100;
export const MAX_FIRST_DELAY_MS = 3_600_000;
export const MAX_DELAY_MS = 86_400_000;
export const DEFAULT_RETRY_ON: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/**
 * A webhook's `retry` (SPEC.md, 'Delivery'), with every default filled in so that the stored
 * spec says the whole policy.
 */
export function validateRetryPolicy(value: unknown, path: string): RetryPolicy {
  const obj = expectObject(value, path, 'a retry policy such as {"maxAttempts": 5}');
  checkKeys(obj, path, ['maxAttempts', 'backoff', 'delayMs', 'maxDelayMs', 'retryOn']);
  const maxAttempts = has(obj, 'maxAttempts') ? expectInteger(obj.maxAttempts, keyPath(path, 'maxAttempts'), 1, MAX_ATTEMPTS) : 1;
  const backoff = has(obj, 'backoff') ? expectEnum(obj.backoff, keyPath(path, 'backoff'), ['exponential', 'fixed'] as const) : 'exponential';
  const delayMs = has(obj, 'delayMs') ? expectInteger(obj.delayMs, keyPath(path, 'delayMs'), MIN_DELAY_MS, MAX_FIRST_DELAY_MS) : 1000;
  const maxDelayPath = keyPath(path, 'maxDelayMs');
  const maxDelayMs = has(obj, 'maxDelayMs') ? expectInteger(obj.maxDelayMs, maxDelayPath, 1, MAX_DELAY_MS) : Math.max(delayMs, 3_600_000);
  if (maxDelayMs < delayMs) fail(maxDelayPath, `must be at least delayMs (${delayMs}), got ${maxDelayMs}`);
  const retryOn = has(obj, 'retryOn') ? expectStatuses(obj.retryOn, keyPath(path, 'retryOn')) : [...DEFAULT_RETRY_ON];
  return { maxAttempts, backoff, delayMs, maxDelayMs, retryOn };
}

function expectStatuses(value: unknown, path: string): number[] {
  if (!Array.isArray(value)) fail(path, 'must be a list of HTTP statuses (400..599), such as [429, 503]');
  return [...new Set(value.map((status, i) => expectInteger(status, indexPath(path, i), 400, 599)))];
}
