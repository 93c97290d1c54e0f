/** Wall-clock source; tests and the stream engine inject their own. */
export interface Clock {
  now(): Date;
  /**
   * Calls `fn` once `ms` of this clock's time have passed. The timer never keeps the process
   * alive (as an unref'd setTimeout); cancel() before it fires drops it.
   */
  setTimer(fn: () => void, ms: number): Timer;
}

export interface Timer {
  cancel(): void;
}

/** Longest delay setTimeout takes; longer ones would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(fn, ms) {
    const timeout = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
    timeout.unref();
    return { cancel: () => clearTimeout(timeout) };
  },
};

/** A timestamp strictly after `previous`, so (id, updatedAt) changes on every write. */
export function nextTimestamp(clock: Clock, previous: Date | null): Date {
  const now = clock.now();
  return previous && now.getTime() <= previous.getTime() ? new Date(previous.getTime() + 1) : now;
}
