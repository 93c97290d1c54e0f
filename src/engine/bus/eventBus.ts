import { EventEmitter } from 'node:events';
import type { ActionLog, CascadeEvent, Execution } from '../../entities/index.js';

/** What travels on the bus: every cascade event, log line and execution state as it is written. */
export interface BusMessages {
  cascade: CascadeEvent;
  log: ActionLog;
  execution: Execution;
  /** A rule was created, changed or deleted (id only; readers reload it). */
  rule: { id: string };
}

export type BusTopic = keyof BusMessages;
export const BUS_TOPICS: readonly BusTopic[] = ['cascade', 'log', 'execution', 'rule'];

export type Listener<K extends BusTopic> = (message: BusMessages[K]) => void;

export type BusMessage = { [K in BusTopic]: { topic: K; message: BusMessages[K] } }[BusTopic];

/**
 * Publish/subscribe between the engine and its readers (subscriptions, caches). Every instance
 * sharing a Redis or a PostgreSQL server sees every message; a message is delivered to local
 * listeners exactly once, in publish order per publisher.
 */
export interface EventBus {
  readonly kind: 'local' | 'redis' | 'postgres';
  publish<K extends BusTopic>(topic: K, message: BusMessages[K]): void;
  subscribe<K extends BusTopic>(topic: K, listener: Listener<K>): () => void;
  /**
   * A bus carried by the database (NOTIFY) encodes messages for the very statement that writes
   * them, so they leave on commit without a round trip of their own. Others leave it undefined
   * and are published after the write.
   */
  encodeForWrite?(messages: BusMessage[]): string[] | undefined;
  /** The instance registry tells the bus how many other live instances share the database. */
  setPeerCount?(count: number): void;
  /** Says to the other instances that this one is here (after it has registered). */
  announce?(): Promise<void>;
  close(): Promise<void>;
}

export function publishAll(bus: EventBus, messages: BusMessage[]) {
  for (const { topic, message } of messages) bus.publish(topic, message as never);
}

/** Runs a write that carries the messages' NOTIFYs when the bus rides on the database, else publishes them after it. */
export async function writeThenPublish(bus: EventBus, messages: BusMessage[], write: (notify: string[] | undefined) => Promise<unknown>): Promise<void> {
  const notify = bus.encodeForWrite?.(messages);
  await write(notify);
  if (!notify) publishAll(bus, messages);
}

/** Dates become strings on the wire; this turns them back. */
// biome-ignore lint/suspicious/noExplicitAny: a message as parsed off the wire, before its dates are revived
export function reviveMessage<K extends BusTopic>(topic: K, message: any): BusMessages[K] {
  if (topic === 'cascade' || topic === 'log') return { ...message, at: new Date(message.at) };
  if (topic === 'execution') {
    return { ...message, startedAt: new Date(message.startedAt), finishedAt: message.finishedAt ? new Date(message.finishedAt) : null };
  }
  return message;
}

/** Fan-out to local listeners; the base of every bus. */
export class LocalFanout {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<K extends BusTopic>(topic: K, message: BusMessages[K]) {
    this.emitter.emit(topic, message);
  }

  on<K extends BusTopic>(topic: K, listener: Listener<K>): () => void {
    const wrapped = (message: BusMessages[K]) => {
      try {
        listener(message);
      } catch {
        // A failing subscriber must not stop the others or the publisher.
      }
    };
    this.emitter.on(topic, wrapped);
    return () => this.emitter.off(topic, wrapped);
  }
}

/** One process: messages go straight to local listeners. */
export class LocalEventBus implements EventBus {
  readonly kind = 'local' as const;
  private readonly fanout = new LocalFanout();

  publish<K extends BusTopic>(topic: K, message: BusMessages[K]) {
    this.fanout.emit(topic, message);
  }

  subscribe<K extends BusTopic>(topic: K, listener: Listener<K>) {
    return this.fanout.on(topic, listener);
  }

  async close() {}
}
