/** Waiting in tests: a plain pause, and polling until something holds. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads every `intervalMs` until `done` holds, at most `timeoutMs`, and returns the value that
 * held; otherwise throws naming `what` and the last value read.
 */
export async function poll<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000, what = 'condition', intervalMs = 20): Promise<T> {
  const { value, reached } = await pollSettled(read, done, timeoutMs, intervalMs);
  if (!reached) throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
  return value;
}

/** As poll, but says whether `done` held instead of throwing: for tests that report the miss themselves. */
export async function pollSettled<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<{ value: T; reached: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return { value, reached: true };
    if (Date.now() > deadline) return { value, reached: false };
    await sleep(intervalMs);
  }
}
