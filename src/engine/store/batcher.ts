interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Groups writes that arrive while earlier ones are in flight into one statement. A write that
 * finds nothing in flight goes out at once, alone, so light load pays no wait; under heavy load
 * hundreds of rows share one statement and one commit. A failed batch is retried item by item,
 * so one bad row fails only its own write.
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
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i] as R));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const pending of batch) {
        try {
          pending.resolve((await this.write([pending.item]))[0] as R);
        } catch (single) {
          pending.reject(single);
        }
      }
    }
  }
}
