import pg from 'pg';
import type { Logger } from '../../logger.js';
import type { Sql } from '../store/sql.js';
import { LocalFanout, reviveMessage, type BusMessage, type BusMessages, type BusTopic, type EventBus, type Listener } from './eventBus.js';

export const NOTIFY_CHANNEL = 'cepheus_bus';
const CHANNEL = NOTIFY_CHANNEL;
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

function encodeItem(topic: BusTopic, message: unknown): string {
  const item = JSON.stringify({ t: topic, m: message });
  return Buffer.byteLength(item) > MAX_INLINE - 2 ? JSON.stringify({ t: topic, r: referenceOf(topic, message) }) : item;
}

/** Packs encoded items, in order, into JSON-array payloads that each fit one NOTIFY. */
function chunk(items: string[]): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const item of items) {
    const bytes = Buffer.byteLength(item) + 1;
    if (batch.length > 0 && size + bytes > MAX_INLINE) {
      payloads.push(`[${batch.join(',')}]`);
      batch = [];
      size = 2;
    }
    batch.push(item);
    size += bytes;
  }
  if (batch.length > 0) payloads.push(`[${batch.join(',')}]`);
  return payloads;
}

/** A PostgreSQL text[] literal. */
export function toTextArray(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
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
    const payloads = chunk(pending);
    pending = [];
    if (payloads.length === 0) return;
    sql.query('SELECT pg_notify(?, x) FROM unnest(?::text[]) AS x', [CHANNEL, toTextArray(payloads)]).catch((error: unknown) => logger.warn({ err: error }, 'postgres event bus could not publish'));
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
      if (pending.length === 0) setImmediate(flush);
      pending.push(encodeItem(topic, message));
    },
    subscribe<K extends BusTopic>(topic: K, listener: Listener<K>) {
      return fanout.on(topic, listener);
    },
    encodeForWrite(messages: BusMessage[]) {
      return chunk(messages.map(({ topic, message }) => encodeItem(topic, message)));
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
