import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { BUS_TOPICS, LocalFanout, reviveMessage, type BusMessages, type BusTopic, type EventBus, type Listener } from './eventBus.js';

const channel = (topic: BusTopic) => `cepheus:${topic}`;

/**
 * Every message goes through Redis, also to this instance's own listeners, so all instances see
 * the same stream in the same order.
 */
export async function createRedisEventBus(url: string, logger: Logger): Promise<EventBus> {
  const options = { lazyConnect: true, maxRetriesPerRequest: null, enableAutoPipelining: true };
  const publishClient = new Redis(url, options);
  const subscribeClient = new Redis(url, options);
  for (const client of [publishClient, subscribeClient]) {
    client.on('error', (error) => logger.warn({ err: error }, 'redis event bus connection error'));
  }
  await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  const target = createRedisEventTarget<CustomEvent>({ publishClient, subscribeClient });
  const fanout = new LocalFanout();
  for (const topic of BUS_TOPICS) {
    target.addEventListener(channel(topic), (event) => fanout.emit(topic, reviveMessage(topic, (event as CustomEvent).detail)));
  }
  return {
    kind: 'redis',
    publish<K extends BusTopic>(topic: K, message: BusMessages[K]) {
      target.dispatchEvent(new CustomEvent(channel(topic), { detail: message }));
    },
    subscribe<K extends BusTopic>(topic: K, listener: Listener<K>) {
      return fanout.on(topic, listener);
    },
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
