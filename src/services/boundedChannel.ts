import { AppError } from '../errors.js';

/** What ends a subscription whose reader fell too far behind (SPEC.md "Limits"). */
export const slowConsumer = (limit: number) =>
  new AppError('SLOW_CONSUMER', `The subscriber fell more than ${limit} messages behind; the subscription is ended`);

export interface Channel<T> {
  push(value: T): void;
  /** Queues history the reader asked for, before live values: it does not count toward the limit. */
  replay(value: T): void;
  end(): void;
  fail(error: unknown): void;
  iterator: AsyncIterableIterator<T>;
}

/**
 * A push-to-pull queue: what a bus listener pushes, a subscription pulls. Ending it (return) runs
 * the cleanup, so the bus listener goes away with the subscriber.
 *
 * With a `limit`, a reader that lets more than `limit` values wait is ended with SLOW_CONSUMER:
 * what waits is dropped at once, so memory stays bounded. graphql-ws pulls the next value only
 * once the socket has taken the previous one, so the queue is also what the socket has not sent.
 */
export function createChannel<T>(cleanup: () => void, limit = Number.POSITIVE_INFINITY): Channel<T> {
  const queue: T[] = [];
  let head = 0;
  /** Replayed values still queued (they are at the front). */
  let replayed = 0;
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let failWaiting: ((error: unknown) => void) | null = null;
  let ended = false;
  let error: unknown = null;

  const finish = () => {
    if (ended) return;
    ended = true;
    cleanup();
  };
  const size = () => queue.length - head;
  const clear = () => {
    queue.length = 0;
    head = 0;
    replayed = 0;
  };
  const shift = (): T => {
    if (replayed > 0) replayed--;
    const value = queue[head] as T;
    queue[head++] = undefined as T;
    if (head === queue.length) clear();
    else if (head >= 1024 && head * 2 >= queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    return value;
  };

  /** Gives the value to a reader already waiting for one; false when none waits. */
  const handToReader = (value: T): boolean => {
    if (!waiting) return false;
    const resolve = waiting;
    waiting = null;
    failWaiting = null;
    resolve({ value, done: false });
    return true;
  };

  const fail = (e: unknown) => {
    error = e;
    finish();
    if (failWaiting) {
      const reject = failWaiting;
      waiting = null;
      failWaiting = null;
      reject(e);
    }
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (size() > 0) return Promise.resolve({ value: shift(), done: false });
      if (error) return Promise.reject(error);
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    },
    return() {
      finish();
      clear();
      waiting?.({ value: undefined, done: true });
      waiting = null;
      failWaiting = null;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  return {
    iterator,
    push(value) {
      if (ended || handToReader(value)) return;
      if (size() - replayed >= limit) {
        clear();
        fail(slowConsumer(limit));
        return;
      }
      queue.push(value);
    },
    replay(value) {
      if (ended || handToReader(value)) return;
      queue.push(value);
      replayed++;
    },
    end() {
      if (ended) return;
      finish();
      if (waiting && size() === 0) {
        const resolve = waiting;
        waiting = null;
        failWaiting = null;
        resolve({ value: undefined, done: true });
      }
    },
    fail,
  };
}
