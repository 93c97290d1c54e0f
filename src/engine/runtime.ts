import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../shared/clock.js';
import { ApiScriptAction } from './actions/apiScript.js';
import { TriggerRuleAction } from './actions/triggerRule.js';
import { WebhookAction } from './actions/webhook.js';
import { LocalEventBus, type BusTopic, type EventBus } from './bus/eventBus.js';
import { createPostgresEventBus } from './bus/postgresBus.js';
import { createRedisEventBus } from './bus/redisBus.js';
import { RunSystem } from './runs/runSystem.js';
import { RuleCache } from './rules/ruleCache.js';
import { OutboundHttpClient } from './outbound/client.js';
import { loadIsolatedVm } from './scripts/sandbox/isolatedVm.js';
import { Sandbox } from './scripts/sandbox/index.js';
import { InstanceStore } from './store/instanceStore.js';
import { MaintenanceStore } from './store/maintenanceStore.js';
import { RetentionStore } from './store/retentionStore.js';
import { RuleStore } from './store/ruleStore.js';
import { ScheduleStore } from './store/scheduleStore.js';
import { RuleStatsStore } from './store/ruleStatsStore.js';
import { ApiExecutionStore } from './store/apiExecutionStore.js';
import { ApiRunner } from './scripts/apiRunner.js';
import { unavailableScriptRunner, type ScriptRunner } from './scripts/scriptRunner.js';
import { InstanceRegistry } from './jobs/instances.js';
import { createLogSinkFactory } from './runs/logSink.js';
import { RuleStatsCounter } from './rules/stats.js';
import { EventPublisher } from './events/publisher.js';
import { ActiveRuleSet } from './events/activeRules.js';
import { Throttle } from './events/throttle.js';
import { TableMaintenance } from './jobs/maintenance.js';
import { RetentionJob } from './jobs/retention.js';
import { Scheduler } from './jobs/scheduledRules.js';
import { ExecutionStore, NOTIFY_CHANNEL } from './store/executionStore.js';
import { DeliveryStore } from './store/deliveryStore.js';
import { DeliveryWorker } from './delivery/deliveryWorker.js';
import type { EngineResources } from './resources.js';
import type { Sql } from './store/sqlClient.js';
import { TriggerEvaluator } from './rules/evaluate.js';
import { loadKeyring } from './secrets/keyring.js';
import { SecretVault } from './secrets/vault.js';
import { SecretStore } from './store/secretStore.js';
import { UNOBSERVED, type EngineObserver } from './observer.js';

/** Rule.stats are added to the stored counters this often (SPEC: at least every few seconds). */
const STATS_FLUSH_MS = 2000;

/** The embedded database's tables are looked at for VACUUM and ANALYZE this often. */
const TABLE_MAINTENANCE_MS = 60_000;

/**
 * The engine's systems, one per concern, built on one shared resources bag. Only the facade
 * (index.ts) holds this; services never see it.
 */
export interface EngineSystems {
  resources: EngineResources;
  /** Starts, queues and finishes runs and their cascades. */
  runs: RunSystem;
  /** Matches published events against the active rules and starts the runs they call for. */
  publisher: EventPublisher;
  /** The active rules as the matcher sees them (changes are applied as they are saved). */
  ruleSet: ActiveRuleSet;
  rules: RuleCache;
  /** Runs API definitions (scripts in the sandbox, HTTP calls). */
  apiRunner: ApiRunner;
  /** Fires SCHEDULE rules and polls METRIC rules (one firing per due run across instances). */
  scheduler: Scheduler;
  /** Deletes execution history older than EXECUTION_RETENTION_DAYS. */
  retention: RetentionJob;
  /** VACUUM and ANALYZE on the embedded database, which runs no autovacuum (null on PostgreSQL). */
  maintenance: TableMaintenance | null;
  /** Secrets sealed at rest; read at send time through resources.secrets. */
  vault: SecretVault;
  /** Script runs waiting for a free isolate on this instance. */
  sandboxQueueDepth(): number;
  /** Lets runs in flight finish (up to graceMs), then leaves: leftovers are marked INTERRUPTED. */
  stop(graceMs: number): Promise<void>;
}

export interface RuntimeOptions {
  config: Config;
  logger: Logger;
  clock: Clock;
  sql: Sql;
  /** The database URL when it is a real PostgreSQL server (LISTEN/NOTIFY works there). */
  postgresUrl: string | null;
  /** Script runs at once (one isolate each); default CPUs, 2..8. Tests fix it to fill the pool. */
  sandboxPoolSize?: number;
  /** Told of runs, attempts, events and script runs as they end (the service's metrics). */
  observer?: EngineObserver;
}

async function createBus(options: RuntimeOptions, store: ExecutionStore, instanceId: string): Promise<EventBus> {
  const { config, logger, sql, postgresUrl } = options;
  if (config.redisUrl) return createRedisEventBus(config.redisUrl, logger);
  if (postgresUrl) {
    return createPostgresEventBus({
      url: postgresUrl,
      sql,
      channel: NOTIFY_CHANNEL,
      load: async (topic: BusTopic, ref) => {
        if (topic === 'execution') return store.get(String(ref.id));
        if (topic === 'log') return store.logAt(String(ref.executionId), Number(ref.seq));
        if (topic === 'cascade') return store.eventAt(String(ref.cascadeId), Number(ref.seq));
        return null;
      },
      logger,
      instanceId,
    });
  }
  return new LocalEventBus();
}

/** The runner with each run's outcome told to the observer. */
function observedScripts(runner: ScriptRunner, observer: EngineObserver): ScriptRunner {
  return {
    run: async (run) => {
      const result = await runner.run(run);
      observer.sandboxRun(result.ok ? 'SUCCESS' : result.code);
      return result;
    },
  };
}

export async function startEngineSystems(options: RuntimeOptions): Promise<EngineSystems> {
  const { config, logger, clock, sql } = options;
  const instanceId = randomUUID();
  const store = new ExecutionStore(sql);
  const keyring = await loadKeyring({
    secretsKey: config.secretsKey,
    secretsKeyPrevious: config.secretsKeyPrevious,
    embeddedDataDir: options.postgresUrl === null ? config.embeddedDataDir : null,
  });
  const vault = new SecretVault(new SecretStore(sql), keyring, clock, logger);
  // Rotation (SECRETS_KEY_PREVIOUS) before anything can send: every value is under the current key.
  await vault.rotate();
  const bus = await createBus(options, store, instanceId);
  const evaluator = new TriggerEvaluator();
  const loaded = loadIsolatedVm();
  const observer = options.observer ?? UNOBSERVED;
  const apiStore = new ApiExecutionStore(sql);
  let sandbox: Sandbox | null = null;
  let runner: ScriptRunner;
  if (loaded.available) {
    // A service with no script API does not hold a sandbox process until its first script run.
    sandbox = Sandbox.create({
      outputMaxBytes: config.scriptOutputMaxBytes,
      maxQueued: config.scriptMaxQueued,
      poolSize: options.sandboxPoolSize,
      logger,
      startNow: await apiStore.anyScriptDefined(),
    });
    runner = sandbox;
  } else {
    logger.warn({ reason: loaded.reason }, 'script sandbox unavailable: script runs will fail with SANDBOX_UNAVAILABLE');
    runner = unavailableScriptRunner(loaded.reason);
  }
  const scripts = observedScripts(runner, observer);
  const stats = new RuleStatsCounter(new RuleStatsStore(sql), logger, clock);
  stats.start(STATS_FLUSH_MS);
  const http = new OutboundHttpClient({ allowlist: config.outboundAllowlist });
  const logSinks = createLogSinkFactory({ store, bus, clock, logger });
  const apiRunner = new ApiRunner({ store: apiStore, scripts, http, bus, clock, logger, logSinks, secrets: vault });
  const ruleStore = new RuleStore(sql);
  const rules = new RuleCache(ruleStore, bus, clock);
  const deliveries = new DeliveryStore(sql);
  const resources: EngineResources = {
    clock,
    logger,
    instanceId,
    bus,
    store,
    deliveries,
    apiStore,
    rules,
    evaluator,
    stats,
    http,
    logSinks,
    secrets: vault,
    observer,
  };
  const runs = new RunSystem(resources, {
    actions: [new WebhookAction(http, clock, config.webhookSigningSecret ?? null), new TriggerRuleAction(), new ApiScriptAction(apiStore, apiRunner)],
    maxCascadeDepth: config.maxCascadeDepth,
  });
  const ruleSet: ActiveRuleSet = new ActiveRuleSet({
    ...resources,
    rules: ruleStore,
    maxStreamGroups: config.streamMaxGroups,
    onTimerFirings: (fired) => void publisher.publishTimerFirings(fired),
  });
  const publisher: EventPublisher = new EventPublisher(runs, ruleSet, new Throttle(clock), stats, logger, observer);
  const delivery = new DeliveryWorker({ ...resources, store: deliveries, runs });
  const instances = new InstanceRegistry({
    ...resources,
    store: new InstanceStore(sql),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    staleAfterMs: config.heartbeatStaleMs,
    soleInstance: options.postgresUrl === null,
    onTick: () => runs.promoteWaiting(),
    attempts: delivery,
  });
  await instances.start();
  delivery.start();
  const scheduler = new Scheduler({
    ...resources,
    store: new ScheduleStore(sql),
    runs,
    tickMs: config.schedulerTickMs,
    metricPollTimeoutMs: config.metricPollTimeoutMs,
  });
  const retention = new RetentionJob({
    ...resources,
    store: new RetentionStore(sql),
    days: config.executionRetentionDays,
    intervalMs: config.executionRetentionIntervalMs,
    batch: config.executionRetentionBatch,
  });
  const maintenance =
    options.postgresUrl === null ? new TableMaintenance({ ...resources, store: new MaintenanceStore(sql), intervalMs: TABLE_MAINTENANCE_MS }) : null;
  scheduler.start();
  retention.start();
  maintenance?.start();
  logger.info({ instanceId, bus: bus.kind }, 'engine ready');

  return {
    resources,
    runs,
    publisher,
    ruleSet,
    rules,
    apiRunner,
    scheduler,
    retention,
    maintenance,
    vault,
    sandboxQueueDepth: () => sandbox?.queueDepth ?? 0,
    async stop(graceMs) {
      await scheduler.stop(graceMs);
      await retention.stop();
      await maintenance?.stop();
      await delivery.stop();
      await runs.drain(graceMs);
      await stats.stop();
      await instances.stop().catch((error: unknown) => logger.warn({ err: error }, 'could not leave the instance registry cleanly'));
      ruleSet.close();
      rules.close();
      await bus.close();
      await http.close();
      await sandbox?.close();
    },
  };
}
