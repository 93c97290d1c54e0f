interface Pending<T, R> {
  items: T[];
  resolve(results: R[]): void;
  reject(error: unknown): void;
}

/**
 * Groups writes that arrive while earlier ones are in flight into one statement. A write that
 * finds nothing in flight goes out at once, alone, so light load pays no wait; under heavy load
 * hundreds of rows share one statement and one commit. Items submitted together always go in
 * the same statement. A failed batch is retried submission by submission, so one bad row fails
 * only its own write.
 */
export class WriteBatcher<T, R> {
  private readonly queue: Pending<T, R>[] = [];
  private inFlight = 0;

  constructor(
    private readonly write: (items: T[]) => Promise<R[]>,
    private readonly maxInFlight: number,
    private readonly maxBatch = 500,
  ) {}

  submit(item: T): Promise<R> {
    return this.submitAll([item]).then((results) => results[0] as R);
  }

  /** Writes the items in one statement (with others' when a batch is forming); one result per item. */
  submitAll(items: T[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    // Nothing waiting and room in flight: the write goes out at once, alone, and needs none of
    // the queue's bookkeeping (the common case under light load, on the path of every run).
    if (this.queue.length === 0 && this.inFlight < this.maxInFlight) {
      this.inFlight++;
      const written = this.write(items);
      written.then(this.settled, this.settled);
      return written;
    }
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.pump();
    });
  }

  private readonly settled = () => {
    this.inFlight--;
    this.pump();
  };

  private pump() {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.flush(batch).then(this.settled);
    }
  }

  /** Whole submissions, up to maxBatch items (always at least one submission). */
  private takeBatch(): Pending<T, R>[] {
    let size = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || size + this.queue[count]!.items.length <= this.maxBatch)) {
      size += this.queue[count]!.items.length;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async flush(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.flatMap((p) => p.items));
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(results.slice(offset, offset + pending.items.length));
        offset += pending.items.length;
      }
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const pending of batch) {
        try {
          pending.resolve(await this.write(pending.items));
        } catch (single) {
          pending.reject(single);
        }
      }
    }
  }
}
