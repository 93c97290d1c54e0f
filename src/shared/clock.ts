/** Wall-clock source; tests and the stream engine inject their own. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A timestamp strictly after `previous`, so (id, updatedAt) changes on every write. */
export function nextTimestamp(clock: Clock, previous: Date | null): Date {
  const now = clock.now();
  return previous && now.getTime() <= previous.getTime() ? new Date(previous.getTime() + 1) : now;
}
