import pg from 'pg';
import type { Logger } from '../../logger.js';
import type { Sql } from '../store/sqlClient.js';
import { LocalFanout, reviveMessage, type BusMessage, type BusMessages, type BusTopic, type EventBus, type Listener } from './eventBus.js';

/** NOTIFY payloads must stay under 8000 bytes; larger messages travel as a reference. */
const MAX_INLINE = 7000;

/** Loads a message that was too large to send inline, from the row it was written to. */
export type MessageLoader = (topic: BusTopic, ref: Record<string, unknown>) => Promise<unknown | null>;

// biome-ignore lint/suspicious/noExplicitAny: any topic's message; only its id fields are read
function referenceOf(topic: BusTopic, message: any): Record<string, unknown> {
  switch (topic) {
    case 'cascade':
      return { cascadeId: message.cascadeId, seq: message.seq };
    case 'log':
      return { executionId: message.executionId, seq: message.seq };
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

/** A hello keeps a bus in shared mode this long even if a peer count says it is alone (the count may predate it). */
const HELLO_GRACE_MS = 15_000;

/**
 * LISTEN/NOTIFY on real PostgreSQL. While this instance is the only live one, messages stay in
 * process (a NOTIFY nobody else reads costs every write a little); as soon as another instance
 * registers and says hello, everything goes through NOTIFY, this instance's own listeners
 * included, so all instances see one stream.
 */
export interface PostgresBusOptions {
  url: string;
  sql: Sql;
  /** The channel the store's writes NOTIFY on (their messages ride on the write that made them). */
  channel: string;
  load: MessageLoader;
  logger: Logger;
  instanceId: string;
}

export async function createPostgresEventBus({ url, sql, channel, load, logger, instanceId }: PostgresBusOptions): Promise<EventBus> {
  const fanout = new LocalFanout();
  let closed = false;
  let peers = 0;
  let lastHello = 0;
  const shared = () => peers > 0;
  let client: pg.Client | undefined;
  // Deliveries are chained so a message loaded from the database cannot overtake a later one.
  let delivery: Promise<void> = Promise.resolve();

  const deliver = (payload: string) => {
    delivery = delivery.then(async () => {
      try {
        const batch = JSON.parse(payload) as { t: BusTopic; m?: unknown; r?: Record<string, unknown>; h?: string }[];
        for (const { t: topic, m: inline, r: ref, h: hello } of batch) {
          if (hello) {
            if (hello !== instanceId) {
              peers = Math.max(peers, 1);
              lastHello = Date.now();
            }
            continue;
          }
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
    sql
      .query('SELECT pg_notify(?, x) FROM unnest(?::text[]) AS x', [channel, toTextArray(payloads)])
      .catch((error: unknown) => logger.warn({ err: error }, 'postgres event bus could not publish'));
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (n) => n.channel === channel && n.payload && deliver(n.payload));
    next.on('error', (error) => {
      logger.warn({ err: error }, 'postgres event bus connection lost; reconnecting');
      void next.end().catch(() => undefined);
      if (!closed) setTimeout(() => void connect().catch(() => undefined), 1000).unref();
    });
    await next.connect();
    await next.query(`LISTEN ${channel}`);
    client = next;
  };
  await connect();

  return {
    kind: 'postgres',
    publish<K extends BusTopic>(topic: K, message: BusMessages[K]) {
      if (!shared()) return fanout.emit(topic, message);
      if (pending.length === 0) setImmediate(flush);
      pending.push(encodeItem(topic, message));
    },
    subscribe<K extends BusTopic>(topic: K, listener: Listener<K>) {
      return fanout.on(topic, listener);
    },
    encodeForWrite(messages: BusMessage[]) {
      return shared() ? chunk(messages.map(({ topic, message }) => encodeItem(topic, message))) : undefined;
    },
    setPeerCount(count: number) {
      if (count === 0 && Date.now() - lastHello < HELLO_GRACE_MS) return;
      peers = count;
    },
    async announce() {
      await sql.query('SELECT pg_notify(?, ?)', [channel, JSON.stringify([{ h: instanceId }])]);
    },
    async close() {
      closed = true;
      await client?.end().catch(() => undefined);
    },
  };
}
