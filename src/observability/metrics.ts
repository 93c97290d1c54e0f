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

/** `make(key)` made once per key and kept: a run's count is then one map lookup and an add. */
function once<T>(make: (key: string) => T): (key: string) => T {
  const made = new Map<string, T>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}

/** A counter's child for one label value, started at 0 so that rate() and increase() see it from the start. */
function zeroedChild<K extends string>(counter: Counter<K>, labels: Record<K, string>): Counter.Internal {
  const child = counter.labels(labels);
  child.inc(0);
  return child;
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
  const waitingGauge = (name: string, help: string, which: 'retrying' | 'queued') =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const counts = await readWaiting();
        if (counts) this.set(counts[which]);
      },
    });
  waitingGauge(
    'cepheus_executions_retrying',
    'Executions RETRYING (waiting for their next webhook attempt), across every instance sharing the database.',
    'retrying',
  );
  waitingGauge(
    'cepheus_executions_queued',
    "Executions QUEUED (waiting for their queue-mode rule's lock), across every instance sharing the database.",
    'queued',
  );
  new Gauge({
    name: 'cepheus_sandbox_queue_depth',
    help: 'Script runs waiting for a free isolate on this instance.',
    registers,
    collect() {
      this.set(source?.sandboxQueueDepth ?? 0);
    },
  });

  // Every known label value starts at 0, so that rate() and increase() see a series from the start.
  const executionChild = once((status) => once((type) => zeroedChild(executions, { status, action_type: type })));
  const duration = once((type) => durations.labels({ action_type: type }));
  const attempt = once((outcome) => zeroedChild(attempts, { outcome }));
  const event = once((outcome) => zeroedChild(events, { outcome }));
  const sandbox = once((outcome) => zeroedChild(sandboxRuns, { outcome }));
  for (const status of FINAL_STATUSES) for (const type of ACTION_TYPES) executionChild(status)(type);
  for (const type of ACTION_TYPES) {
    durations.zero({ action_type: type });
    duration(type);
  }
  for (const outcome of ATTEMPT_OUTCOMES) attempt(outcome);
  for (const outcome of EVENT_OUTCOMES) event(outcome);
  sandbox('SUCCESS');

  const observer: EngineObserver = {
    executionFinished(row: Execution) {
      const type = row.actionType ?? 'NONE';
      executionChild(row.status)(type).inc();
      if (row.conditionMet && row.status !== 'SKIPPED' && row.durationMs !== null) duration(type).observe(row.durationMs / 1000);
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
