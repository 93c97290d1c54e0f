import { randomUUID } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every id of the API is a UUID; anything else names nothing. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The millisecond of the last id made here, and a counter of ids made in it. */
let lastMs = -1;
let counter = 0;

/**
 * The id of a new stored row (rule, API definition, execution, API run): a UUIDv7 (RFC 9562)
 * whose first 48 bits are the time in milliseconds and whose next 12 a counter within that
 * millisecond (RFC 9562 section 6.2, method 1), so that ids made in one process increase. Rows
 * written one after another then land side by side in every index keyed by them (the primary
 * keys, an execution's cascade, its log lines and event runs) instead of on a random page of
 * each (docs/decisions.md, "Ids"). The 62 random bits come from `crypto.randomUUID`, which draws
 * from a pool: the uuid package asked the system for 16 bytes per id, about 6 µs each here.
 */
export function newId(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else if (++counter > 0xfff) {
    // More than 4,096 ids in one millisecond (or the clock went back): borrow the next one.
    lastMs++;
    counter = 0;
  }
  ms = lastMs;
  const time = ms.toString(16).padStart(12, '0');
  // From character 18 on, a randomUUID is its variant and 62 random bits (the version digit is before).
  return `${time.slice(0, 8)}-${time.slice(8)}-7${counter.toString(16).padStart(3, '0')}${randomUUID().slice(18)}`;
}
