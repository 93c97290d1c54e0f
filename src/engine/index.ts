import type { ActionLog, ApiDefinition, ApiExecution, CascadeEvent, Execution, Rule } from '../entities/index.js';
import { actionScope, renderTemplates, secretNamesIn } from './actions/templates.js';
import { redactCredentials } from '../shared/credentials.js';
import type { SecretListing } from './secrets/vault.js';
import type { BusMessages, BusTopic, EventBus, Listener } from './bus/eventBus.js';
import type { BatchResult, EventPublisher, PublishResult } from './events/publisher.js';
import type { ActiveRuleSet } from './events/activeRules.js';
import type { RetentionResult } from './jobs/retention.js';
import type { RuleCache } from './rules/ruleCache.js';
import type { RuleStats, RuleStatsCounter } from './rules/stats.js';
import type { RunRequest, RunSystem, StartedRun } from './runs/runSystem.js';
import { startEngineSystems, type EngineSystems, type RuntimeOptions } from './runtime.js';
import type { ApiRunOutcome, ApiRunRequest, ApiRunner } from './scripts/apiRunner.js';
import type { ApiExecutionStore } from './store/apiExecutionStore.js';
import type { ExecutionPageQuery, ExecutionStore } from './store/executionStore.js';

// What the layers above the engine (services, the HTTP server, the GraphQL schema) may use of it:
// the facade, and the types and input checks that go with it.
export type { RuntimeOptions as EngineOptions } from './runtime.js';
export type { BusMessages, BusTopic, Listener } from './bus/eventBus.js';
export { isEventObject, MAX_EVENTS_PER_CALL, type BatchResult, type PublishResult } from './events/publisher.js';
export type { RetentionResult } from './jobs/retention.js';
export type { RuleStats } from './rules/stats.js';
export type { RunRequest, StartedRun } from './runs/runSystem.js';
export type { ApiRunOutcome, ApiRunRequest } from './scripts/apiRunner.js';
export type { ExecutionFilter, ExecutionPageQuery } from './store/executionStore.js';
export type { EngineObserver, EventOutcome, WebhookAttemptOutcome } from './observer.js';
export {
  SpecError,
  badTextReason,
  validateActionSpec,
  validateHttpSpec,
  validateParamSchema,
  validateRuntimePolicy,
  validateTriggerSpec,
} from './rules/spec/index.js';
export type { HttpSpec, SpecLimits, TriggerType } from './rules/spec/index.js';
export { checkScriptSource } from './scripts/sandbox/validateSource.js';
export { SECRET_NAME } from './actions/templates.js';
export { SecretsKeyMissingError, type SecretListing } from './secrets/vault.js';

/** What a rule would do with an input, without running it. */
export interface RuleSimulation {
  conditionMet: boolean;
  /** `references.trigger` a run would record. */
  trigger: Record<string, unknown>;
  /** The action spec with its templates filled in from the input. */
  resolvedAction: unknown;
}

/** A job that can be run by hand (tests, operators) besides its own timer. */
export interface RunnableJob<T> {
  run(): Promise<T>;
}

/**
 * The engine behind one door: everything the services do with it goes through here. Each method
 * hands over to the system in charge; none adds work of its own on the way to a run.
 */
export class Engine {
  readonly instanceId: string;
  private readonly runs: RunSystem;
  private readonly publisher: EventPublisher;
  private readonly ruleSet: ActiveRuleSet;
  private readonly rules: RuleCache;
  private readonly bus: EventBus;
  private readonly store: ExecutionStore;
  private readonly apiStore: ApiExecutionStore;
  private readonly apiRunner: ApiRunner;
  private readonly stats: RuleStatsCounter;

  constructor(private readonly systems: EngineSystems) {
    const { resources } = systems;
    this.instanceId = resources.instanceId;
    this.runs = systems.runs;
    this.publisher = systems.publisher;
    this.ruleSet = systems.ruleSet;
    this.rules = systems.rules;
    this.bus = resources.bus;
    this.store = resources.store;
    this.apiStore = resources.apiStore;
    this.apiRunner = systems.apiRunner;
    this.stats = resources.stats;
  }

  /** How instances hear of each other's messages: in process, Redis, or PostgreSQL NOTIFY. */
  get busKind(): EventBus['kind'] {
    return this.bus.kind;
  }

  /** A rule as the engine sees it (cached; a change is seen once ruleChanged is called). */
  getRule(id: string): Promise<Rule | null> {
    return this.rules.getRule(id);
  }

  /** A rule was saved or deleted (null): runs, matching and other instances see it from now on. */
  ruleChanged(id: string, rule: Rule | null): void {
    this.rules.forget(id);
    this.ruleSet.apply(id, rule);
    this.bus.publish('rule', { id });
  }

  /** Starts a root run of the rule (see RunSystem.trigger). */
  trigger(request: RunRequest): Promise<StartedRun> {
    return this.runs.trigger(request);
  }

  /** Sends a FAILED webhook execution again as a new run of its rule (see RunSystem.redeliver). */
  redeliver(original: Execution, rule: Rule): Promise<StartedRun> {
    return this.runs.redeliver(original, rule);
  }

  /** FAILED webhook executions of the rule started at or after `since` and not redelivered yet, oldest first. */
  undeliveredSince(ruleId: string, since: Date, limit: number): Promise<Execution[]> {
    return this.systems.resources.deliveries.failedNotRedelivered(ruleId, since, limit);
  }

  /** The resolved action shows `[secret NAME]` for each secret and `[redacted]` for each literal credential. */
  simulate(rule: Rule, input: unknown): RuleSimulation {
    const evaluation = this.systems.resources.evaluator.evaluate(rule, input);
    const standIns = Object.fromEntries(secretNamesIn(rule.actionSpec).map((name) => [name, `[secret ${name}]`]));
    const resolvedAction = renderTemplates(redactCredentials(rule.actionSpec), { ...actionScope(rule, input, null), secrets: standIns });
    return { conditionMet: evaluation.met, trigger: evaluation.trigger, resolvedAction };
  }

  /** Every secret's name and times, sorted by name; never a value. */
  secrets(): Promise<SecretListing[]> {
    return this.systems.vault.list();
  }

  /** Seals and stores a value (SecretsKeyMissingError without a key); sends read it from now on. */
  setSecret(name: string, value: string): Promise<SecretListing> {
    return this.systems.vault.set(name, value);
  }

  deleteSecret(name: string): Promise<boolean> {
    return this.systems.vault.delete(name);
  }

  publish(event: Record<string, unknown>, source: string | null): Promise<PublishResult> {
    return this.publisher.publish(event, source);
  }

  publishMany(items: { index: number; event: unknown }[], source: string | null, refused?: BatchResult['refused']): Promise<BatchResult> {
    return this.publisher.publishMany(items, source, refused);
  }

  apiDefinition(id: string): Promise<ApiDefinition | null> {
    return this.apiStore.getDefinition(id);
  }

  executeApi(request: ApiRunRequest): Promise<ApiRunOutcome> {
    return this.apiRunner.run(request);
  }

  apiExecution(id: string): Promise<ApiExecution | null> {
    return this.apiStore.get(id);
  }

  execution(id: string): Promise<Execution | null> {
    return this.store.get(id);
  }

  executions(query: ExecutionPageQuery): Promise<{ rows: Execution[]; total: number }> {
    return this.store.page(query);
  }

  childrenOf(parentIds: readonly string[]): Promise<Map<string, Execution[]>> {
    return this.store.childrenOf(parentIds);
  }

  logsOf(executionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    return this.store.logsOf(executionIds);
  }

  logsOfApiExecutions(apiExecutionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    return this.store.logsOfApiExecutions(apiExecutionIds);
  }

  cascadeExecutions(cascadeId: string): Promise<Execution[]> {
    return this.store.ofCascade(cascadeId);
  }

  /** The cascade's events after seq `afterSeq`, in order. */
  cascadeEvents(cascadeId: string, afterSeq?: number): Promise<CascadeEvent[]> {
    return this.store.eventsOf(cascadeId, afterSeq);
  }

  cascadeExists(cascadeId: string): Promise<boolean> {
    return this.store.cascadeExists(cascadeId);
  }

  apiExecutions(apiId: string, limit: number, after: { at: Date; id: string } | null): Promise<{ rows: ApiExecution[]; total: number }> {
    return this.apiStore.page(apiId, limit, after);
  }

  ruleStats(ruleIds: readonly string[]): Promise<Map<string, RuleStats>> {
    return this.stats.read(ruleIds);
  }

  /** Calls `listener` with every message on the topic, from every instance, until the returned function is called. */
  subscribe<K extends BusTopic>(topic: K, listener: Listener<K>): () => void {
    return this.bus.subscribe(topic, listener);
  }

  /** Sends a message to every subscriber on every instance, as the engine does for what it writes. */
  broadcast<K extends BusTopic>(topic: K, message: BusMessages[K]): void {
    this.bus.publish(topic, message);
  }

  /** Executions waiting across every instance sharing the database: RETRYING and QUEUED. */
  waitingExecutions(): Promise<{ retrying: number; queued: number }> {
    return this.store.countWaiting();
  }

  /** Script runs waiting for a free isolate on this instance. */
  get sandboxQueueDepth(): number {
    return this.systems.sandboxQueueDepth();
  }

  /** Deletes execution history past its retention now (it also runs on its own timer). */
  get retention(): RunnableJob<RetentionResult> {
    return this.systems.retention;
  }

  /** VACUUM and ANALYZE of the embedded database; null on PostgreSQL, which does its own. */
  get tableMaintenance(): RunnableJob<string[]> | null {
    return this.systems.maintenance;
  }

  /** Lets runs in flight finish (up to graceMs), then stops every system. */
  stop(graceMs: number): Promise<void> {
    return this.systems.stop(graceMs);
  }
}

/** Builds the engine's systems on the database and starts its jobs. */
export async function startEngine(options: RuntimeOptions): Promise<Engine> {
  return new Engine(await startEngineSystems(options));
}
