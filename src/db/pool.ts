import pg from 'pg';

export interface ConnectionPoolOptions {
  connectionString: string;
  /** The most connections open at once. */
  max: number;
  /** A new connection that takes longer than this fails (ms). */
  connectTimeoutMs: number;
  /** A caller that waits this long for a free connection fails (ms). */
  acquireTimeoutMs: number;
  /** A connection left unused this long is closed (ms). */
  idleTimeoutMs: number;
  /** PostgreSQL startup options (`-c name=value …`). */
  options?: string;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

/** No connection came free in time; the message names the limit to raise. */
export class PoolTimeoutError extends Error {
  constructor(waitedMs: number, max: number) {
    super(`no database connection came free within ${waitedMs} ms (all ${max} in use; DATABASE_POOL_MAX raises the limit)`);
    this.name = 'PoolTimeoutError';
  }
}

interface Waiter {
  resolve(client: pg.Client): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/**
 * Whether a connection can be used again after `error`: it can after an error PostgreSQL answered
 * for one statement, not after a broken socket, a timeout or a FATAL that ends the session.
 */
export const connectionSurvives = (error: unknown): boolean => error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC';

/**
 * A pool of PostgreSQL connections for the engine's statements, which run on every trigger: a
 * free connection is taken and given back without a promise, a timer or a queue (the general
 * pools set an idle timer and settle several promises per checkout, about 20 µs per statement on
 * this kind of machine). Waiting callers, new connections and idle closing are the slow path.
 *
 * The most recently used connection is taken first, so under light load a few stay warm and the
 * rest age out after idleTimeoutMs. A connection whose socket fails, idle or in use, is dropped.
 */
export class ConnectionPool {
  /** Free connections, least recently used first. */
  private readonly free: { client: pg.Client; since: number }[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly broken = new WeakSet<pg.Client>();
  /** Connections open or being opened. */
  private size = 0;
  private closed = false;
  private readonly reaper: NodeJS.Timeout;

  constructor(private readonly options: ConnectionPoolOptions) {
    this.reaper = setInterval(() => this.closeIdle(), Math.max(100, Math.min(options.idleTimeoutMs, 10_000))).unref();
  }

  /** A free connection at once, or undefined when none is free (then `acquire`). */
  take(): pg.Client | undefined {
    return this.free.pop()?.client;
  }

  /** A connection: a free one, a new one while under `max`, else the next one given back. */
  acquire(): Promise<pg.Client> {
    const client = this.take();
    if (client) return Promise.resolve(client);
    if (this.closed) return Promise.reject(new Error('the connection pool is closed'));
    if (this.size < this.options.max) return this.connect();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new PoolTimeoutError(this.options.acquireTimeoutMs, this.options.max));
        }, this.options.acquireTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Gives a connection back; `error` is what its last statement threw, if anything. */
  release(client: pg.Client, error?: unknown): void {
    if (this.closed || this.broken.has(client) || (error !== undefined && !connectionSurvives(error))) {
      this.retire(client);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(client);
      return;
    }
    this.free.push({ client, since: Date.now() });
  }

  /** Connections open now, and how many of them are free. */
  stats(): { open: number; free: number; waiting: number } {
    return { open: this.size, free: this.free.length, waiting: this.waiters.length };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reaper);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the connection pool is closed'));
    }
    const free = this.free.splice(0);
    this.size -= free.length;
    await Promise.all(free.map(({ client }) => client.end().catch(() => undefined)));
  }

  private async connect(): Promise<pg.Client> {
    this.size++;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      options: this.options.options,
      application_name: this.options.applicationName,
    });
    // A socket that fails while the connection is free or in use: drop it (an error event
    // without a listener would end the process).
    const fail = () => this.markBroken(client);
    client.on('error', fail);
    client.on('end', fail);
    try {
      await client.connect();
    } catch (error) {
      this.size--;
      this.serveWaiter();
      throw error;
    }
    if (this.closed) {
      this.retire(client);
      throw new Error('the connection pool is closed');
    }
    return client;
  }

  private markBroken(client: pg.Client) {
    if (this.broken.has(client)) return;
    this.broken.add(client);
    const at = this.free.findIndex((entry) => entry.client === client);
    if (at >= 0) {
      this.free.splice(at, 1);
      this.retire(client);
    }
  }

  /**
   * Closes a connection that is not in the free list (a caller's, instead of giving it back), and
   * opens one for a waiting caller.
   */
  retire(client: pg.Client): void {
    this.size--;
    this.broken.add(client);
    void client.end().catch(() => undefined);
    this.serveWaiter();
  }

  /** A waiting caller gets a new connection when one went away. */
  private serveWaiter() {
    if (this.closed || this.waiters.length === 0 || this.size >= this.options.max) return;
    const waiter = this.waiters.shift()!;
    clearTimeout(waiter.timer);
    this.connect().then(waiter.resolve, waiter.reject);
  }

  private closeIdle() {
    const oldest = Date.now() - this.options.idleTimeoutMs;
    let count = 0;
    while (count < this.free.length && this.free[count]!.since <= oldest) count++;
    for (const { client } of this.free.splice(0, count)) this.retire(client);
  }
}
