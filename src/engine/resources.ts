import type { Rule } from '../entities/index.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import type { EventBus } from './bus/eventBus.js';
import type { OutboundHttpClient } from './outbound/client.js';
import type { TriggerEvaluator } from './rules/evaluate.js';
import type { RuleStatsCounter } from './rules/stats.js';
import type { LogSinkFactory } from './runs/logSink.js';
import type { SecretReader } from './secrets/vault.js';
import type { ApiExecutionStore } from './store/apiExecutionStore.js';
import type { DeliveryStore } from './store/deliveryStore.js';
import type { ExecutionStore } from './store/executionStore.js';
import type { EngineObserver } from './observer.js';

/** Reads a rule as the engine sees it (cached; no ORM in the way). */
export interface RuleReader {
  getRule(id: string): Promise<Rule | null>;
}

/**
 * What the engine's systems share, built once by the runtime: each system takes this bag and the
 * few options of its own, so the wiring of one concern does not pass through another.
 */
export interface EngineResources {
  clock: Clock;
  logger: Logger;
  /** This process among the instances sharing the database. */
  instanceId: string;
  bus: EventBus;
  store: ExecutionStore;
  /** Webhook attempts after the first, claimed from the database. */
  deliveries: DeliveryStore;
  apiStore: ApiExecutionStore;
  rules: RuleReader;
  evaluator: TriggerEvaluator;
  stats: RuleStatsCounter;
  http: OutboundHttpClient;
  logSinks: LogSinkFactory;
  /** Secrets in clear for the requests that name them, read at send time. */
  secrets: SecretReader;
  /** Told of what ends (runs, attempts, events): the service's metrics. */
  observer: EngineObserver;
}
