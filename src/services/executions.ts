import type { ActionLog, CascadeEvent, Execution, ExecutionStatusValue, Rule } from '../entities/index.js';
import { isEventObject, MAX_EVENTS_PER_CALL, type BatchResult, type Engine, type PublishResult, type RuleStats } from '../engine/index.js';
import type { Admit } from '../access/rateLimit/index.js';
import { AppError, badInput, notFound } from '../errors.js';
import { checkExecutedBy } from './names.js';
import { isUuid, parsePage, toConnection, type Connection, type PageArgs } from './pagination.js';
import { KeyedFanout } from './fanout.js';
import { createChannel } from './boundedChannel.js';

export interface Simulation {
  conditionMet: boolean;
  wouldExecute: boolean;
  resolvedAction: unknown;
  references: Record<string, unknown>;
}

export interface Cascade {
  id: string;
  status: ExecutionStatusValue;
  root: Execution;
  executions: Execution[];
  events: CascadeEvent[];
  startedAt: Date;
  finishedAt: Date | null;
}

export interface ExecutionListFilter {
  ruleId?: string | null;
  cascadeId?: string | null;
  status?: ExecutionStatusValue | null;
}

/** The most executions one redeliverFailed call sends again (SPEC.md, 'Delivery'). */
export const MAX_REDELIVERIES = 10_000;

/** Runs, simulations, events and the history they leave; what the GraphQL layer calls. */
export class ExecutionService {
  private readonly logs: KeyedFanout<'log', 'executionId' | 'cascadeId' | 'ruleId'>;
  private readonly executions: KeyedFanout<'execution', 'ruleId'>;
  private readonly cascades: KeyedFanout<'cascade', 'cascadeId'>;
  /** Messages a subscriber may fall behind before SLOW_CONSUMER ends it. */
  private readonly subscriptionBuffer: number;

  constructor(
    private readonly engine: Engine,
    options: { subscriptionBuffer?: number } = {},
  ) {
    this.subscriptionBuffer = options.subscriptionBuffer ?? Number.POSITIVE_INFINITY;
    this.logs = new KeyedFanout(engine, 'log', ['executionId', 'cascadeId', 'ruleId']);
    this.executions = new KeyedFanout(engine, 'execution', ['ruleId']);
    this.cascades = new KeyedFanout(engine, 'cascade', ['cascadeId']);
  }

  private async findRule(ruleId: string): Promise<Rule> {
    const rule = await this.engine.getRule(ruleId);
    if (!rule) throw notFound(`No rule with id ${JSON.stringify(ruleId)}`);
    return rule;
  }

  /** The payload a run of this rule sees: METRIC rules need one; SCHEDULE rules fall back to their own. */
  private payloadFor(rule: Rule, payload: unknown): unknown {
    if (rule.triggerType === 'METRIC' && payload == null) {
      throw badInput('payload: a METRIC rule reads its value from the payload when triggered or simulated; give one', { field: 'payload' });
    }
    if (rule.triggerType === 'SCHEDULE' && payload == null) return (rule.triggerSpec as { payload?: unknown }).payload ?? null;
    return payload ?? null;
  }

  /**
   * `admit` (a rate limit) is spent once the request is known good, just before the run starts;
   * `started` hears of the root row as soon as it is written (before a waiting call answers).
   */
  async trigger(
    ruleId: string,
    payload: unknown,
    executedBy: string | null | undefined,
    wait: boolean,
    admit?: Admit,
    started?: (execution: Execution) => Promise<void>,
  ): Promise<Execution> {
    const rule = await this.findRule(ruleId);
    if (!rule.active) throw new AppError('RULE_INACTIVE', `Rule ${rule.name} (${rule.id}) is inactive`);
    const by = checkExecutedBy(executedBy, 'manual');
    const input = this.payloadFor(rule, payload);
    if (admit) await admit(1);
    const run = await this.engine.trigger({ rule, payload: input, executedBy: by });
    if (started) await started(run.started);
    return wait ? run.finished : run.started;
  }

  /**
   * Sends a FAILED webhook execution again as a new execution of its rule (SPEC.md, 'Delivery');
   * answers as triggerRule(wait: true) does.
   */
  async redeliver(executionId: string, admit?: Admit): Promise<Execution> {
    const original = await this.get(executionId);
    if (!original) throw notFound(`No execution with id ${JSON.stringify(executionId)}`);
    if (original.actionType !== 'WEBHOOK')
      throw badInput(`executionId: execution ${original.id} did not run a webhook; only webhooks are redelivered`, { field: 'executionId' });
    if (original.status !== 'FAILED')
      throw badInput(`executionId: execution ${original.id} is ${original.status}; only FAILED executions are redelivered`, { field: 'executionId' });
    const rule = await this.redeliverableRule(original.ruleId);
    if (admit) await admit(1);
    return (await this.engine.redeliver(original, rule)).finished;
  }

  /**
   * Redelivers, oldest first and one after another (so that a rule that runs one at a time does
   * not skip its own redeliveries), every FAILED webhook execution of the rule started at or
   * after `since` that has no redelivery yet, at most MAX_REDELIVERIES per call. Answers how many
   * it started.
   */
  async redeliverFailed(ruleId: string, since: Date, admit?: Admit): Promise<number> {
    await this.redeliverableRule(ruleId);
    if (admit) await admit(1);
    const originals = await this.engine.undeliveredSince(ruleId, since, MAX_REDELIVERIES);
    let started = 0;
    for (const original of originals) {
      // Read again for each: the rule may change or be switched off while the others run.
      const rule = await this.engine.getRule(ruleId);
      if (!rule?.active || rule.actionType !== 'WEBHOOK') break;
      const run = await this.engine.redeliver(original, rule);
      // A SKIPPED one (the rule was busy) did not start: the original stays to be redelivered.
      if (run.started.status !== 'SKIPPED') started++;
      await run.finished;
    }
    return started;
  }

  private async redeliverableRule(ruleId: string): Promise<Rule> {
    const rule = await this.engine.getRule(ruleId);
    if (!rule) throw notFound(`No rule with id ${JSON.stringify(ruleId)} (it was deleted)`);
    if (rule.actionType !== 'WEBHOOK') throw badInput(`Rule ${rule.name} (${rule.id}) no longer has a webhook action; only webhooks are redelivered`);
    if (!rule.active) throw new AppError('RULE_INACTIVE', `Rule ${rule.name} (${rule.id}) is inactive`);
    return rule;
  }

  /** An execution that must exist (the answer remembered for an idempotency key). */
  async existing(id: string): Promise<Execution> {
    const execution = await this.get(id);
    if (!execution) throw notFound(`The execution ${id} that this idempotency key answered no longer exists`);
    return execution;
  }

  async simulate(ruleId: string, payload: unknown): Promise<Simulation> {
    const rule = await this.findRule(ruleId);
    const input = this.payloadFor(rule, payload);
    const { conditionMet, trigger, resolvedAction } = this.engine.simulate(rule, input);
    return { conditionMet, wouldExecute: conditionMet && rule.active, resolvedAction, references: { trigger } };
  }

  async publishEvent(event: unknown, source: string | null | undefined, admit?: Admit): Promise<PublishResult> {
    if (!isEventObject(event)) throw badInput('event: must be a JSON object', { field: 'event' });
    if (admit) await admit(1);
    return this.engine.publish(event, source ?? null);
  }

  /**
   * Up to 10,000 events, each as publishEvent would handle it; a refused one does not stop the
   * others. `admit` is spent for every event of the call, or none of them runs.
   */
  async publishEvents(events: unknown[], source: string | null | undefined, admit?: Admit): Promise<BatchResult> {
    if (events.length > MAX_EVENTS_PER_CALL)
      throw badInput(`events: at most ${MAX_EVENTS_PER_CALL} events per call, got ${events.length}`, { field: 'events' });
    if (admit) await admit(events.length);
    return this.engine.publishMany(
      events.map((event, index) => ({ index, event })),
      source ?? null,
    );
  }

  /** The batch behind POST /events (already parsed; lines that did not parse are in `refused`). */
  publishParsed(items: { index: number; event: unknown }[], source: string | null, refused: BatchResult['refused']): Promise<BatchResult> {
    return this.engine.publishMany(items, source, refused);
  }

  async get(id: string): Promise<Execution | null> {
    return isUuid(id) ? this.engine.execution(id) : null;
  }

  async list(filter: ExecutionListFilter, pageArgs: PageArgs): Promise<Connection<Execution>> {
    const page = parsePage(pageArgs);
    const empty = (filter.ruleId != null && !isUuid(filter.ruleId)) || (filter.cascadeId != null && !isUuid(filter.cascadeId));
    if (empty) return toConnection([], page, 0, (e: Execution) => ({ at: e.startedAt, id: e.id }));
    const { rows, total } = await this.engine.executions({ ...filter, limit: page.limit, after: page.after });
    return toConnection(rows, page, total, (e) => ({ at: e.startedAt, id: e.id }));
  }

  statsOf(ruleIds: readonly string[]): Promise<Map<string, RuleStats>> {
    return this.engine.ruleStats(ruleIds.filter(isUuid));
  }

  childrenOf(parentIds: readonly string[]): Promise<Map<string, Execution[]>> {
    return this.engine.childrenOf(parentIds);
  }

  logsOf(executionIds: readonly string[]): Promise<Map<string, ActionLog[]>> {
    return this.engine.logsOf(executionIds);
  }

  async cascade(id: string): Promise<Cascade | null> {
    if (!isUuid(id)) return null;
    const executions = await this.engine.cascadeExecutions(id);
    const root = executions.find((e) => e.id === id);
    if (!root) return null;
    const events = await this.engine.cascadeEvents(id);
    const unfinished = executions.some((e) => e.status === 'RUNNING' || e.status === 'QUEUED' || e.status === 'RETRYING');
    const finishedEvent = events.find((e) => e.kind === 'CASCADE_FINISHED');
    const status: ExecutionStatusValue = unfinished ? 'RUNNING' : executions.some((e) => e.status === 'FAILED') ? 'FAILED' : root.status;
    return { id, status, root, executions, events, startedAt: root.startedAt, finishedAt: unfinished ? null : (finishedEvent?.at ?? root.finishedAt) };
  }

  /** Every log line as it is written, filtered. */
  actionLogs(filter: { ruleId?: string | null; cascadeId?: string | null; executionId?: string | null }): AsyncIterableIterator<ActionLog> {
    const channel = createChannel<ActionLog>(() => unsubscribe(), this.subscriptionBuffer);
    const unsubscribe = this.logs.subscribe(filter, (log) => channel.push(log));
    return channel.iterator;
  }

  executionUpdates(ruleId: string | null | undefined): AsyncIterableIterator<Execution> {
    const channel = createChannel<Execution>(() => unsubscribe(), this.subscriptionBuffer);
    const unsubscribe = this.executions.subscribe({ ruleId }, (execution) => channel.push(execution));
    return channel.iterator;
  }

  /**
   * Past events from seq 1, then live ones, each exactly once, ending after CASCADE_FINISHED.
   * The bus is joined before the past is read, so nothing falls between the two; a gap in what
   * arrives live (another instance's message overtaken) is filled from the database.
   */
  async cascadeProgress(cascadeId: string): Promise<AsyncIterableIterator<CascadeEvent>> {
    if (!isUuid(cascadeId)) throw notFound(`No cascade with id ${JSON.stringify(cascadeId)}`);
    const { engine } = this;
    const channel = createChannel<CascadeEvent>(() => unsubscribe(), this.subscriptionBuffer);
    let lastSeq = 0;
    let catchingUp = true;
    const buffered: CascadeEvent[] = [];
    let chain: Promise<void> = Promise.resolve();

    const emit = (event: CascadeEvent) => {
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      if (catchingUp) channel.replay(event);
      else channel.push(event);
      if (event.kind === 'CASCADE_FINISHED') channel.end();
    };
    const fillUpTo = async (seq: number) => {
      if (seq <= lastSeq + 1) return;
      for (const missing of await engine.cascadeEvents(cascadeId, lastSeq)) if (missing.seq < seq) emit(missing);
    };
    const receive = (event: CascadeEvent) => {
      chain = chain
        .then(async () => {
          await fillUpTo(event.seq);
          emit(event);
        })
        .catch((error: unknown) => channel.fail(error));
    };
    const unsubscribe = this.cascades.subscribe({ cascadeId }, (event) => {
      if (catchingUp) buffered.push(event);
      else receive(event);
    });
    try {
      const past = await engine.cascadeEvents(cascadeId);
      if (past.length === 0 && !(await engine.cascadeExists(cascadeId))) {
        channel.end();
        throw notFound(`No cascade with id ${JSON.stringify(cascadeId)}`);
      }
      for (const event of past) emit(event);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    catchingUp = false;
    for (const event of buffered.sort((a, b) => a.seq - b.seq)) receive(event);
    return channel.iterator;
  }
}
