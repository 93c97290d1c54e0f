/**
 * A push-to-pull queue: what a bus listener pushes, a subscription pulls. Ending it (return) runs
 * the cleanup, so the bus listener goes away with the subscriber.
 */
export function createChannel<T>(cleanup: () => void): { push(value: T): void; end(): void; fail(error: unknown): void; iterator: AsyncIterableIterator<T> } {
  const queue: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let failWaiting: ((error: unknown) => void) | null = null;
  let ended = false;
  let error: unknown = null;

  const finish = () => {
    if (ended) return;
    ended = true;
    cleanup();
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
      if (error) return Promise.reject(error);
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    },
    return() {
      finish();
      queue.length = 0;
      waiting?.({ value: undefined, done: true });
      waiting = null;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  return {
    iterator,
    push(value) {
      if (ended) return;
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value, done: false });
      } else queue.push(value);
    },
    end() {
      if (ended) return;
      finish();
      if (waiting && queue.length === 0) {
        const resolve = waiting;
        waiting = null;
        resolve({ value: undefined, done: true });
      }
    },
    fail(e) {
      error = e;
      finish();
      if (failWaiting) {
        const reject = failWaiting;
        waiting = null;
        failWaiting = null;
        reject(e);
      }
    },
  };
}
