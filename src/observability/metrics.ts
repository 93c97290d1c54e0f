import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineObserver, EventOutcome, WebhookAttemptOutcome } from '../engine/index.js';
import type { Execution } from '../entities/index.js';
import type { Logger } from '../logger.js';

/** What the scrape-time gauges read from the running engine (the Engine facade is one). */
export interface MetricsSource {
  /** RETRYING and QUEUED executions across every instance sharing the database. */
  waitingExecutions(): Promise<{ retrying: number; queued: number }>;
  /** Script runs waiting for an isolate on this instance. */
  readonly sandboxQueueDepth: number;
}

/** The Prometheus metrics of one app: its own registry, so several apps in one process never share counts. */
export interface ServiceMetrics {
  readonly registry: Registry;
  /** Handed to the engine: counts runs, attempts, events and script runs as they end. */
  readonly observer: EngineObserver;
  /** yoga plugins: GraphQL operation counts, durations and errors, and open subscriptions. */
  readonly plugins: Plugin[];
  /** Binds the scrape-time gauges to the engine once it is started. */
  watch(source: MetricsSource): void;
  /** The exposition text of every metric, and its content type. */
  render(): Promise<{ contentType: string; text: string }>;
}

const FINAL_STATUSES = ['SUCCESS', 'FAILED', 'SKIPPED', 'NOT_MATCHED'] as const;
const ACTION_TYPES = ['WEBHOOK', 'API_SCRIPT', 'TRIGGER_RULE'] as const;
const ATTEMPT_OUTCOMES: readonly WebhookAttemptOutcome[] = ['SUCCESS', 'RETRYING', 'FAILED'];
const EVENT_OUTCOMES: readonly EventOutcome[] = ['MATCHED', 'UNMATCHED', 'REFUSED'];

/** Seconds: from a trigger_rule that answers at once to a webhook retried over minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/** The database's counts are read at most once per this interval, however many gauges or scrapers ask. */
const WAITING_CACHE_MS = 1000;

/** The labelled children of a counter, each bound once: a run's count is one map lookup and an add. */
function boundChildren<K extends string>(counter: Counter<K>, label: K) {
  const children = new Map<string, Counter.Internal>();
  return (value: string): Counter.Internal => {
    let child = children.get(value);
    if (!child) {
      child = counter.labels({ [label]: value } as Record<K, string>);
      child.inc(0);
      children.set(value, child);
    }
    return child;
  };
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

export function createMetrics(logger: Logger): ServiceMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const executions = new Counter({
    name: 'cepheus_executions_total',
    help: 'Executions that reached a final status, by status and action type.',
    labelNames: ['status', 'action_type'] as const,
    registers,
  });
  const durations = new Histogram({
    name: 'cepheus_execution_duration_seconds',
    help: 'Time from start to final status of executions whose action ran (retries included), by action type.',
    labelNames: ['action_type'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const events = new Counter({ name: 'cepheus_events_total', help: 'Published events, by outcome.', labelNames: ['outcome'] as const, registers });
  const matches = new Counter({ name: 'cepheus_rule_matches_total', help: 'Rule matches of published events (throttled ones included).', registers });
  const attempts = new Counter({
    name: 'cepheus_webhook_attempts_total',
    help: 'Webhook attempts, by the status they led to: SUCCESS, RETRYING (failed, another follows) or FAILED (failed, the last).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const sandboxRuns = new Counter({
    name: 'cepheus_sandbox_runs_total',
    help: 'Script runs in the sandbox, by outcome: SUCCESS or the failure code.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const subscriptions = new Gauge({ name: 'cepheus_subscriptions', help: 'GraphQL subscriptions open on this instance (WebSocket and SSE).', registers });

  let source: MetricsSource | null = null;
  let waiting: { at: number; counts: Promise<{ retrying: number; queued: number } | null> } | null = null;
  const readWaiting = () => {
    const now = Date.now();
    if (!source) return Promise.resolve(null);
    if (!waiting || now - waiting.at >= WAITING_CACHE_MS) {
      const counts = source.waitingExecutions().catch((error: unknown) => {
        logger.warn({ err: error }, 'could not count waiting executions for the metrics');
        return null;
      });
      waiting = { at: now, counts };
    }
    return waiting.counts;
  };
  new Gauge({
    name: 'cepheus_executions_retrying',
    help: 'Executions RETRYING (waiting for their next webhook attempt), across every instance sharing the database.',
    registers,
    async collect() {
      const counts = await readWaiting();
      if (counts) this.set(counts.retrying);
    },
  });
  new Gauge({
    name: 'cepheus_executions_queued',
    help: "Executions QUEUED (waiting for their queue-mode rule's lock), across every instance sharing the database.",
    registers,
    async collect() {
      const counts = await readWaiting();
      if (counts) this.set(counts.queued);
    },
  });
  new Gauge({
    name: 'cepheus_sandbox_queue_depth',
    help: 'Script runs waiting for a free isolate on this instance.',
    registers,
    collect() {
      this.set(source?.sandboxQueueDepth ?? 0);
    },
  });

  // Every known label value starts at 0, so that rate() and increase() see a series from the start.
  const execution = new Map<string, Map<string, Counter.Internal>>();
  const duration = new Map<string, Histogram.Internal<'action_type'>>();
  const zeroed = (status: string, type: string) => {
    const child = executions.labels({ status, action_type: type });
    child.inc(0);
    return child;
  };
  for (const status of FINAL_STATUSES) execution.set(status, new Map(ACTION_TYPES.map((type) => [type, zeroed(status, type)])));
  for (const type of ACTION_TYPES) {
    durations.zero({ action_type: type });
    duration.set(type, durations.labels({ action_type: type }));
  }
  const attempt = boundChildren(attempts, 'outcome');
  const event = boundChildren(events, 'outcome');
  const sandbox = boundChildren(sandboxRuns, 'outcome');
  for (const outcome of ATTEMPT_OUTCOMES) attempt(outcome);
  for (const outcome of EVENT_OUTCOMES) event(outcome);
  sandbox('SUCCESS');

  const executionChild = (status: string, type: string): Counter.Internal => {
    let byType = execution.get(status);
    if (!byType) {
      byType = new Map();
      execution.set(status, byType);
    }
    let child = byType.get(type);
    if (!child) {
      child = zeroed(status, type);
      byType.set(type, child);
    }
    return child;
  };

  const observer: EngineObserver = {
    executionFinished(row: Execution) {
      const type = row.actionType ?? 'NONE';
      executionChild(row.status, type).inc();
      if (row.conditionMet && row.status !== 'SKIPPED' && row.durationMs !== null) {
        let child = duration.get(type);
        if (!child) {
          child = durations.labels({ action_type: type });
          duration.set(type, child);
        }
        child.observe(row.durationMs / 1000);
      }
    },
    webhookAttempt: (outcome) => attempt(outcome).inc(),
    eventsPublished: (outcome, count) => event(outcome).inc(count),
    ruleMatched: () => matches.inc(),
    sandboxRun: (outcome) => sandbox(outcome).inc(),
  };

  const subscriptionGauge: Plugin = {
    onSubscribe: () => ({
      onSubscribeResult: ({ result }) => {
        if (!isAsyncIterable(result)) return;
        subscriptions.inc();
        return { onEnd: () => subscriptions.dec() };
      },
    }),
  };

  const graphql = usePrometheus({
    registry,
    // Served by the service's own /metrics route, behind its key check.
    endpoint: false,
    // The operation's name is the client's to choose: as a label it would let any caller grow the series without bound.
    labels: { operationName: false, operationType: true, phase: true, fieldName: false, typeName: false, returnType: false, path: false },
    metrics: {
      graphql_envelop_request: true,
      graphql_envelop_request_duration: true,
      graphql_envelop_error_result: true,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_schema_change: false,
      graphql_envelop_execute_resolver: false,
      graphql_yoga_http_duration: false,
    },
  });

  return {
    registry,
    observer,
    plugins: [graphql, subscriptionGauge],
    watch(bound) {
      source = bound;
    },
    async render() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
