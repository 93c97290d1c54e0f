import pg from 'pg';
import type { Logger } from '../../logger.js';
import type { Sql } from '../store/sql.js';
import { LocalFanout, reviveMessage, type BusMessages, type BusTopic, type EventBus, type Listener } from './eventBus.js';

const CHANNEL = 'cepheus_bus';
/** NOTIFY payloads must stay under 8000 bytes; larger messages travel as a reference. */
const MAX_INLINE = 7000;

/** Loads a message that was too large to send inline, from the row it was written to. */
export type MessageLoader = (topic: BusTopic, ref: Record<string, unknown>) => Promise<unknown | null>;

export function referenceOf(topic: BusTopic, message: any): Record<string, unknown> {
  switch (topic) {
    case 'cascade':
      return { cascadeId: message.cascadeId, seq: message.seq };
    case 'log':
      return { executionId: message.executionId, seq: message.seq };
    case 'execution':
      return { id: message.id };
    default:
      return { id: message.id };
  }
}

/**
 * LISTEN/NOTIFY on real PostgreSQL: a dedicated connection listens; publishing is a NOTIFY
 * through the pool. Only for real PostgreSQL: PGlite serves every connection on one session.
 */
export async function createPostgresEventBus(url: string, sql: Sql, load: MessageLoader, logger: Logger): Promise<EventBus> {
  const fanout = new LocalFanout();
  let closed = false;
  let client: pg.Client | undefined;
  // Deliveries are chained so a message loaded from the database cannot overtake a later one.
  let delivery: Promise<void> = Promise.resolve();

  const deliver = (payload: string) => {
    delivery = delivery.then(async () => {
      try {
        const batch = JSON.parse(payload) as { t: BusTopic; m?: unknown; r?: Record<string, unknown> }[];
        for (const { t: topic, m: inline, r: ref } of batch) {
          const message = inline ?? (ref ? await load(topic, ref) : null);
          if (message) fanout.emit(topic, reviveMessage(topic, message));
        }
      } catch (error) {
        logger.warn({ err: error }, 'postgres event bus could not deliver a message');
      }
    });
  };

  // Messages published in one tick leave in as few NOTIFYs as fit, in order.
  let pending: string[] = [];
  const flush = () => {
    const items = pending;
    pending = [];
    let batch: string[] = [];
    let size = 2;
    const send = () => {
      if (batch.length === 0) return;
      const payload = `[${batch.join(',')}]`;
      batch = [];
      size = 2;
      sql.query('SELECT pg_notify(?, ?)', [CHANNEL, payload]).catch((error: unknown) => logger.warn({ err: error }, 'postgres event bus could not publish'));
    };
    for (const item of items) {
      if (size + item.length + 1 > MAX_INLINE) send();
      batch.push(item);
      size += Buffer.byteLength(item) + 1;
    }
    send();
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (n) => n.channel === CHANNEL && n.payload && deliver(n.payload));
    next.on('error', (error) => {
      logger.warn({ err: error }, 'postgres event bus connection lost; reconnecting');
      void next.end().catch(() => undefined);
      if (!closed) setTimeout(() => void connect().catch(() => undefined), 1000).unref();
    });
    await next.connect();
    await next.query(`LISTEN ${CHANNEL}`);
    client = next;
  };
  await connect();

  return {
    kind: 'postgres',
    publish<K extends BusTopic>(topic: K, message: BusMessages[K]) {
      let item = JSON.stringify({ t: topic, m: message });
      if (Buffer.byteLength(item) > MAX_INLINE - 2) item = JSON.stringify({ t: topic, r: referenceOf(topic, message) });
      if (pending.length === 0) setImmediate(flush);
      pending.push(item);
    },
    subscribe<K extends BusTopic>(topic: K, listener: Listener<K>) {
      return fanout.on(topic, listener);
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
