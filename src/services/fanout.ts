import type { BusMessages, BusTopic, Engine } from '../engine/index.js';

/** The message fields a subscriber may filter on, each an exact id or absent. */
export type Filter<F extends string> = Partial<Record<F, string | null>>;

interface Subscriber<M, F extends string> {
  /** Fields to test besides the one the subscriber is indexed under. */
  rest: F[];
  filter: Filter<F>;
  deliver: (message: M) => void;
}

/**
 * One bus listener per topic for every subscription of this instance, with subscribers indexed
 * by the id they filter on: a message costs a map lookup per field and a call per subscriber that
 * wants it, not a test of every subscriber. A subscriber filtering on several fields is indexed
 * under the first one it sets (in `fields` order, most selective first) and tests the rest.
 */
export class KeyedFanout<K extends BusTopic, F extends string & keyof BusMessages[K]> {
  private readonly byField = new Map<F, Map<string, Set<Subscriber<BusMessages[K], F>>>>();
  private readonly unfiltered = new Set<Subscriber<BusMessages[K], F>>();
  private count = 0;
  private unsubscribeBus: (() => void) | null = null;

  constructor(
    private readonly source: Pick<Engine, 'subscribe'>,
    private readonly topic: K,
    private readonly fields: readonly F[],
  ) {
    for (const field of fields) this.byField.set(field, new Map());
  }

  /** Calls `deliver` with every message that matches the filter until the returned function is called. */
  subscribe(filter: Filter<F>, deliver: (message: BusMessages[K]) => void): () => void {
    const set = this.fields.filter((field) => filter[field] != null);
    const subscriber: Subscriber<BusMessages[K], F> = { rest: set.slice(1), filter, deliver };
    const indexField = set[0];
    let bucket: Set<Subscriber<BusMessages[K], F>>;
    if (indexField === undefined) bucket = this.unfiltered;
    else {
      const index = this.byField.get(indexField)!;
      const key = filter[indexField]!;
      bucket = index.get(key) ?? new Set();
      index.set(key, bucket);
    }
    bucket.add(subscriber);
    if (this.count++ === 0) this.unsubscribeBus = this.source.subscribe(this.topic, (message) => this.dispatch(message));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      bucket.delete(subscriber);
      if (indexField !== undefined && bucket.size === 0) {
        const index = this.byField.get(indexField)!;
        if (index.get(filter[indexField]!) === bucket) index.delete(filter[indexField]!);
      }
      if (--this.count === 0) {
        this.unsubscribeBus?.();
        this.unsubscribeBus = null;
      }
    };
  }

  private dispatch(message: BusMessages[K]) {
    for (const [field, index] of this.byField) {
      const key = message[field];
      if (typeof key !== 'string') continue;
      const bucket = index.get(key);
      if (bucket) this.deliverAll(bucket, message);
    }
    if (this.unfiltered.size > 0) this.deliverAll(this.unfiltered, message);
  }

  private deliverAll(bucket: Set<Subscriber<BusMessages[K], F>>, message: BusMessages[K]) {
    for (const subscriber of bucket) {
      if (subscriber.rest.length > 0 && !subscriber.rest.every((field) => message[field] === subscriber.filter[field])) continue;
      try {
        subscriber.deliver(message);
      } catch {
        // A failing subscriber must not stop the others or the publisher.
      }
    }
  }
}
