import type { ActionLog, CascadeEvent, DeliveryPlan, Execution, LogLevelValue, Rule } from '../../entities/index.js';
import type { Action, ActionContext, ActionOutcome, ChildOutcome } from '../actions/types.js';
import { publishAll, type BusMessage } from '../bus/eventBus.js';
import { CascadeRun } from './cascade.js';
import type { LogSink } from './logSink.js';
import { actionScope, renderTemplates, secretNamesIn } from '../actions/templates.js';
import { Redactor } from '../secrets/redactor.js';
import { literalCredentials, redactCredentials } from '../../shared/credentials.js';
import type { TriggerEvaluation } from '../rules/evaluate.js';
import type { ConcurrencySpec, WebhookActionSpec } from '../rules/spec/index.js';
import { nextAttemptAt, nextAttemptNumber, unansweredAttempt } from '../delivery/backoff.js';
import type { CascadeContext, HeldAttempt } from '../store/deliveryStore.js';
import { newId } from '../../shared/ids.js';
import { storableJson } from '../../shared/storable.js';
import { boundedReferences } from './references.js';
import { STORE_FAILED, storeErrorFields, writeUntilTaken } from '../store/storeError.js';
import type { EngineResources } from '../resources.js';
import type { WebhookAttemptOutcome } from '../observer.js';
import { runFields } from './runFields.js';
import { spanned, type Span } from '../../observability/spans.js';
import { endRunSpan, failRunSpan, inActionSpan, startActionSpan, startAttemptSpan, startRunSpan } from './runSpans.js';

export interface RunSystemOptions {
  actions: Action[];
  maxCascadeDepth: number;
}

export interface RunRequest {
  rule: Rule;
  payload: unknown;
  executedBy: string;
  /** Extra keys of `references` (for example `event`). */
  references?: Record<string, unknown>;
  /** Event-driven and scheduled runs may wait in a queue-mode rule's queue; triggerRule and children skip. */
  queueable?: boolean;
  /** Already decided (a stream form's firing): used instead of evaluating the rule's condition. */
  evaluation?: TriggerEvaluation;
  /**
   * The payload as the row shows it, where it differs from the one the run uses: a trigger_rule
   * child's, with the secrets and literal credentials of its parent's spec hidden.
   */
  shownPayload?: unknown;
  /** A redelivery: the execution it sends again. */
  redeliveryOf?: string;
  /** The `webhook-id` to send, when not the new execution's own id (a redelivery's original's). */
  webhookId?: string;
}

export interface StartedRun {
  /** The row as first written: RUNNING, SKIPPED, or already final. */
  started: Execution;
  /** The row once it (and, for a root, its whole cascade) has finished. */
  finished: Promise<Execution>;
}

interface Parent {
  execution: Execution;
  cascade: CascadeRun;
  /** Rule ids of the chain from the root down to this execution (parallel mode ends loops with it). */
  chain: ReadonlySet<string>;
  /**
   * Final writes of children that finished inside this execution's action. A child finishes as
   * its parent's action returns (trigger_rule waits for it and answers at once), so its final
   * row, events and log lines ride on the parent's own final write: one statement for the whole
   * unwinding of a chain instead of one per rule.
   */
  carried: Step[];
  /** The span of this execution's action (null when tracing is off): its children's runs go under it. */
  actionSpan: Span | null;
}

/** One row written with its cascade events and log lines. */
interface Step {
  execution: Execution;
  events: CascadeEvent[];
  logs: ActionLog[];
  /** A queue-mode rule's lock holder: once written, the rule's next queued run may start. */
  freesQueue?: boolean;
}

const DEFAULT_CONCURRENCY: ConcurrencySpec = { mode: 'skip', maxQueued: 100 };

export const concurrencyOf = (rule: Rule): ConcurrencySpec => (rule.triggerSpec as { concurrency?: ConcurrencySpec }).concurrency ?? DEFAULT_CONCURRENCY;

/**
 * What a webhook run with retries keeps on its row from its start, so that any instance can
 * send its next attempt (or count one cut off): the spec it runs and, where the row shows
 * another, the payload it renders with. Null for every other run, which pays nothing for it.
 */
function deliveryPlanOf(rule: Rule, request: RunRequest): DeliveryPlan | null {
  const spec = rule.actionSpec as unknown as WebhookActionSpec;
  if (spec.type !== 'webhook' || (spec.retry?.maxAttempts ?? 1) <= 1) return null;
  return { spec: rule.actionSpec as object, ...(request.shownPayload === undefined ? {} : { payload: request.payload }) };
}

/** The rule-like view of what an action runs: a live rule, or the spec a RETRYING row kept. */
type ActionSource = { id: string; name: string; actionSpec: Rule['actionSpec'] };

const specSecrets = new WeakMap<object, { secretNames: string[]; literals: string[] }>();

/**
 * The secrets an action spec names and its literal credentials: found once per spec object (a
 * rule's spec is shared by its runs until the rule changes), not walked again by every run.
 */
function secretsOfSpec(spec: object): { secretNames: string[]; literals: string[] } {
  let found = specSecrets.get(spec);
  if (!found) {
    found = { secretNames: secretNamesIn(spec), literals: literalCredentials(spec) };
    specSecrets.set(spec, found);
  }
  return found;
}

const NO_SECRETS = { ok: true, values: {} } as const;

/** A request with its payload and extra references, text from outside, made storable (see shared/storable.ts). */
function storableRequest(request: RunRequest): RunRequest {
  const payload = storableJson(request.payload);
  const references = storableJson(request.references);
  const shownPayload = storableJson(request.shownPayload);
  return payload === request.payload && references === request.references && shownPayload === request.shownPayload
    ? request
    : { ...request, payload, references, shownPayload };
}

/**
 * The final write of a step the database refused, as small as it can be: FAILED with
 * STORE_FAILED, no result, action references or log lines, and its events (the same seqs)
 * saying so. The references the start wrote (the trigger, the event, a schedule's due time) were
 * taken by the database then, and stay.
 */
function storeFailedStep(step: Step, cascadeRoot?: { id: string; ruleId: string; ruleName: string | null }): Step {
  const { action: _action, ...started } = (step.execution.references ?? {}) as Record<string, unknown>;
  const finishedAt = step.execution.finishedAt ?? new Date();
  const execution: Execution = {
    ...step.execution,
    status: 'FAILED',
    result: null,
    references: started,
    errorCode: STORE_FAILED.code,
    errorMessage: STORE_FAILED.message,
    lockKey: null,
    // A step that would have left the row RETRYING ends it instead: no attempt follows.
    finishedAt,
    durationMs: step.execution.durationMs ?? Math.max(0, finishedAt.getTime() - step.execution.startedAt.getTime()),
    nextAttemptAt: null,
    delivery: null,
    attemptOwner: null,
  };
  const messageOf = (kind: CascadeEvent['kind']) =>
    kind === 'RULE_FINISHED'
      ? `rule ${execution.ruleName} finished: FAILED (${STORE_FAILED.code})`
      : kind === 'CASCADE_FINISHED'
        ? 'cascade finished'
        : STORE_FAILED.message;
  const events: CascadeEvent[] = step.events.map((e) => {
    // The same seq: the execution's ACTION_RETRYING becomes the RULE_FINISHED it then needs.
    const kind = e.kind === 'ACTION_RETRYING' ? 'RULE_FINISHED' : e.kind;
    return { ...e, kind, status: e.status && ('FAILED' as const), message: messageOf(kind) };
  });
  const last = events.at(-1);
  // A step that would have gone RETRYING wrote no CASCADE_FINISHED: when nothing else of the
  // cascade is going (a root, or `cascadeRoot` given), the cascade ends here.
  const root = cascadeRoot ?? (execution.id === execution.cascadeId ? execution : null);
  if (step.execution.status === 'RETRYING' && root && last && last.kind !== 'CASCADE_FINISHED') {
    const ids = { executionId: root.id, ruleId: root.ruleId, ruleName: root.ruleName, depth: 0 };
    events.push({ ...last, ...ids, seq: last.seq + 1, kind: 'CASCADE_FINISHED', status: 'FAILED', message: messageOf('CASCADE_FINISHED') });
  }
  return { execution, events, logs: [], freesQueue: step.freesQueue };
}

/** A RETRYING row without its delivery plan (written by no version of this service): it cannot be sent again. */
function lostPlan(row: Execution, at: Date): ActionOutcome {
  const message = 'the webhook cannot be sent again: its execution lost what it was sending';
  const attempt = unansweredAttempt(nextAttemptNumber(row), at, message);
  return {
    status: 'FAILED',
    result: row.result,
    references: { action_type: 'webhook' },
    error: { code: 'WEBHOOK_FAILED', message },
    delivery: { attempt, retryAt: null },
  };
}

const skipMessages: Record<string, string> = {
  RULE_ALREADY_RUNNING: 'the rule is already running',
  CASCADE_DEPTH_EXCEEDED: 'the cascade depth limit was reached',
  QUEUE_FULL: 'the rule already has its maximum of queued runs',
};

/**
 * Runs rules: lock, condition, action, cascade, records. Every trigger that reaches it leaves
 * exactly one execution row; every step writes its row, events and logs in one statement before
 * they are published.
 */
export class RunSystem {
  private readonly actions: Map<string, Action>;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Queue mode: the last start of each rule on this instance, which the next one waits for. */
  private readonly queueTails = new Map<string, Promise<unknown>>();
  /** Queue mode: the `startedAt` of each rule's last QUEUED row written here (its place in the queue). */
  private readonly lastQueuedAt = new Map<string, number>();

  constructor(
    private readonly resources: EngineResources,
    private readonly options: RunSystemOptions,
  ) {
    this.actions = new Map(options.actions.map((a) => [a.type, a]));
  }

  get instanceId() {
    return this.resources.instanceId;
  }

  /**
   * Starts a root run: answers once its row is written (RUNNING, SKIPPED or final); the action and
   * the cascade go on in `finished`.
   */
  async trigger(request: RunRequest): Promise<StartedRun> {
    const run = await this.startInOrder(storableRequest(request));
    // A QUEUED run is not in flight here: whichever instance promotes it tracks it.
    return run.started.status === 'QUEUED' ? run : this.track(run);
  }

  /**
   * Queue mode: queueable starts of one rule on this instance go one after another, in the order
   * they came (the events of a batch in their order), so that the queue keeps that order and the
   * count of waiting runs that maxQueued is checked against is not raced by our own inserts.
   */
  private startInOrder(request: RunRequest): Promise<StartedRun> {
    if (!request.queueable || concurrencyOf(request.rule).mode !== 'queue') return this.start(request, null);
    const id = request.rule.id;
    const run = (this.queueTails.get(id) ?? Promise.resolve()).then(() => this.start(request, null));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queueTails.set(id, tail);
    void tail.then(() => {
      if (this.queueTails.get(id) === tail) this.queueTails.delete(id);
    });
    return run;
  }

  /** Waits for runs in flight, at most `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  /**
   * Writes a root row that failed before its rule could run (a METRIC poll that failed): born
   * FAILED with `error`, condition not evaluated, no action, no lock taken; its events are
   * RULE_STARTED, RULE_FINISHED and CASCADE_FINISHED, written with the row in one statement and
   * published like every other step.
   */
  async recordFailed(raw: RunRequest, error: { code: string; message: string }, startedAt?: Date): Promise<Execution> {
    const request = storableRequest(raw);
    const finishedAt = this.resources.clock.now();
    const start = startedAt && startedAt.getTime() <= finishedAt.getTime() ? startedAt : finishedAt;
    const id = newId();
    const cascade = new CascadeRun(id);
    cascade.failed = true;
    const failed: Execution = {
      ...this.newExecution(request.rule, request, null, id, start),
      status: 'FAILED',
      errorCode: error.code,
      errorMessage: error.message,
      durationMs: finishedAt.getTime() - start.getTime(),
      finishedAt,
    };
    const events = [
      cascade.event('RULE_STARTED', failed, start, null, `rule ${failed.ruleName} started`),
      cascade.event('RULE_FINISHED', failed, finishedAt, 'FAILED', `rule ${failed.ruleName} finished: FAILED (${error.code})`),
      cascade.event('CASCADE_FINISHED', failed, finishedAt, 'FAILED', 'cascade finished'),
    ];
    await this.insert(failed, events);
    return failed;
  }

  private track(run: StartedRun): StartedRun {
    this.keep(run.finished.catch(() => undefined));
    return run;
  }

  /** Work that drain() waits for. */
  private keep<T>(done: Promise<T>): Promise<T> {
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    return done;
  }

  /**
   * Writes steps (a row with its events and logs; a start is always one step, a finish may carry
   * its children's) in one statement and publishes what was written: in the same statement when
   * the bus rides on the database, else right after the commit. Answers, per step, whether its
   * row was written.
   */
  private async write(kind: 'insert' | 'finish', steps: Step[]): Promise<boolean[]> {
    const { bus, store } = this.resources;
    const messages = steps.map((step): BusMessage[] => [
      ...step.logs.map((message) => ({ topic: 'log' as const, message })),
      { topic: 'execution' as const, message: step.execution },
      ...step.events.map((message) => ({ topic: 'cascade' as const, message })),
    ]);
    const writes = steps.map((step, i) => ({
      execution: step.execution,
      attached: { events: step.events, logs: step.logs, notify: bus.encodeForWrite?.(messages[i]!) },
    }));
    const written = kind === 'insert' ? [await store.tryInsert(writes[0]!.execution, writes[0]!.attached)] : await store.finishAll(writes);
    steps.forEach(({ execution }, i) => {
      if (!written[i]) return;
      if (!writes[i]!.attached.notify) publishAll(bus, messages[i]!);
      if (!execution.finishedAt) return;
      this.resources.observer.executionFinished(execution);
      if (execution.status !== 'SKIPPED') {
        this.resources.stats.add(execution.ruleId, 'ran');
        if (execution.status === 'FAILED') this.resources.stats.add(execution.ruleId, 'failed');
      }
    });
    return written;
  }

  private async insert(execution: Execution, events: CascadeEvent[]): Promise<boolean> {
    const [written] = await this.write('insert', [{ execution, events, logs: [] }]);
    return written === true;
  }

  private newExecution(rule: Rule, request: RunRequest, parent: Parent | null, id: string, now: Date): Execution {
    return {
      id,
      ruleId: rule.id,
      ruleName: rule.name,
      status: 'RUNNING',
      conditionMet: false,
      executedBy: request.executedBy,
      payload: (request.shownPayload === undefined ? request.payload : request.shownPayload) ?? null,
      actionType: rule.actionType,
      result: null,
      references: { trigger: null, ...request.references },
      errorCode: null,
      errorMessage: null,
      skipReason: null,
      durationMs: null,
      startedAt: now,
      finishedAt: null,
      cascadeId: parent ? parent.cascade.id : id,
      parentId: parent ? parent.execution.id : null,
      depth: parent ? parent.execution.depth + 1 : 0,
      lockKey: null,
      instanceId: this.resources.instanceId,
      attempts: null,
      nextAttemptAt: null,
      redeliveryOf: request.redeliveryOf ?? null,
      webhookId: request.webhookId ?? null,
      delivery: null,
      attemptOwner: null,
    };
  }

  private async writeSkipped(execution: Execution, reason: string, cascade: CascadeRun, isRoot: boolean): Promise<Execution> {
    const skipped: Execution = {
      ...execution,
      status: 'SKIPPED',
      conditionMet: false,
      references: { ...execution.references, trigger: null },
      skipReason: reason,
      durationMs: 0,
      finishedAt: execution.startedAt,
      lockKey: null,
    };
    const events = [cascade.event('RULE_SKIPPED', skipped, skipped.startedAt, 'SKIPPED', skipMessages[reason] ?? reason)];
    if (isRoot) events.push(cascade.event('CASCADE_FINISHED', skipped, skipped.startedAt, 'SKIPPED', 'cascade finished'));
    await this.insert(skipped, events);
    return skipped;
  }

  private async skipped(execution: Execution, reason: string, cascade: CascadeRun, isRoot: boolean): Promise<StartedRun> {
    const row = await this.writeSkipped(execution, reason, cascade, isRoot);
    return { started: row, finished: Promise.resolve(row) };
  }

  /** A run in a span of its own, ended with the row it finishes with (or starts with, when it waits or is skipped). */
  private async start(request: RunRequest, parent: Parent | null): Promise<StartedRun> {
    const span = startRunSpan(request.rule, request.executedBy, parent?.actionSpan);
    if (!span) return this.begin(request, parent, null);
    try {
      const run = await this.begin(request, parent, span);
      if (run.started.status === 'QUEUED') endRunSpan(span, run.started);
      else
        void run.finished.then(
          (row) => endRunSpan(span, row),
          () => failRunSpan(span),
        );
      return run;
    } catch (error) {
      failRunSpan(span);
      throw error;
    }
  }

  private async begin(request: RunRequest, parent: Parent | null, span: Span | null): Promise<StartedRun> {
    const { rule } = request;
    const { clock, evaluator } = this.resources;
    const { maxCascadeDepth } = this.options;
    const id = newId();
    const now = clock.now();
    const cascade = parent?.cascade ?? new CascadeRun(id);
    const isRoot = parent === null;
    const execution = this.newExecution(rule, request, parent, id, now);
    const concurrency = concurrencyOf(rule);

    if (execution.depth > maxCascadeDepth) return this.skipped(execution, 'CASCADE_DEPTH_EXCEEDED', cascade, isRoot);
    // Without a lock (parallel), a rule already in its own chain of parents would loop forever.
    if (concurrency.mode === 'parallel' && parent?.chain.has(rule.id)) return this.skipped(execution, 'RULE_ALREADY_RUNNING', cascade, isRoot);

    // The condition is pure, so it is evaluated before the write that takes the lock; it counts
    // only when the lock was free (SPEC: a busy rule is SKIPPED without evaluating its condition).
    const evaluation =
      request.evaluation ??
      spanned(
        'cepheus.condition',
        span && { parent: span },
        () => evaluator.evaluate(rule, request.payload),
        (e) => ({ 'cepheus.condition.met': e.met }),
      );
    const delivery = evaluation.met ? deliveryPlanOf(rule, request) : null;
    const running: Execution = {
      ...execution,
      conditionMet: evaluation.met,
      references: boundedReferences({ ...execution.references, trigger: evaluation.trigger }),
      lockKey: concurrency.mode === 'parallel' ? null : rule.id,
      delivery,
      // The instance sending the first attempt: if it stops, another counts the attempt as failed.
      attemptOwner: delivery ? this.resources.instanceId : null,
    };
    const mark = cascade.mark();
    const events = this.startEvents(cascade, running, now);
    const inserted = await this.insert(running, events);
    if (!inserted) {
      cascade.rollback(mark);
      if (concurrency.mode === 'queue' && request.queueable && isRoot) return this.enqueue(running, concurrency, cascade);
      return this.skipped(execution, 'RULE_ALREADY_RUNNING', cascade, isRoot);
    }
    const chain = new Set(parent?.chain).add(rule.id);
    const finished = this.complete(running, request, cascade, parent, chain, null, span);
    return { started: running, finished };
  }

  private startEvents(cascade: CascadeRun, running: Execution, at: Date): CascadeEvent[] {
    const events = [
      cascade.event('RULE_STARTED', running, at, null, `rule ${running.ruleName} started`),
      cascade.event('CONDITION_EVALUATED', running, at, null, running.conditionMet ? 'condition met' : 'condition not met'),
    ];
    if (running.conditionMet) events.push(cascade.event('ACTION_STARTED', running, at, null, `${running.actionType?.toLowerCase()} action started`));
    return events;
  }

  /**
   * Queue mode: the rule is busy, so the run waits as a QUEUED row (at most maxQueued of them;
   * one more is SKIPPED with QUEUE_FULL). Its events begin when it is promoted to RUNNING.
   */
  private async enqueue(running: Execution, concurrency: ConcurrencySpec, cascade: CascadeRun): Promise<StartedRun> {
    // The queue is read oldest first by (started_at, id) at millisecond precision, and an id
    // tells nothing of the order runs were queued in (it is made before the run waits its turn
    // here): runs queued here within one millisecond get distinct, increasing times, so they
    // keep their order (promotion sets the real start time).
    const at = Math.max(running.startedAt.getTime(), (this.lastQueuedAt.get(running.ruleId) ?? 0) + 1);
    this.lastQueuedAt.set(running.ruleId, at);
    // Its delivery plan is written when it is promoted, from the rule as it is then.
    const queued: Execution = { ...running, status: 'QUEUED', lockKey: null, delivery: null, attemptOwner: null, startedAt: new Date(at) };
    const { bus, store } = this.resources;
    if (!(await store.insertQueued(queued, concurrency.maxQueued))) {
      const row = await this.writeSkipped(running, 'QUEUE_FULL', cascade, true);
      return { started: row, finished: Promise.resolve(row) };
    }
    bus.publish('execution', queued);
    // The holder may have finished between our failed lock and the insert: look once more now.
    void this.promoteNext(queued.ruleId);
    return { started: queued, finished: this.waitFor(queued.id) };
  }

  /** Resolves when the queued execution finishes, on whichever instance runs it. */
  private waitFor(executionId: string): Promise<Execution> {
    return new Promise((resolve) => {
      const unsubscribe = this.resources.bus.subscribe('execution', (e) => {
        if (e.id === executionId && e.finishedAt) {
          unsubscribe();
          resolve(e);
        }
      });
    });
  }

  /**
   * Starts the oldest QUEUED run of a rule when its lock is free: first in, first out, across
   * instances (the lock is the unique index, so two instances cannot both promote).
   */
  async promoteNext(ruleId: string): Promise<boolean> {
    const { store, rules, clock, logger } = this.resources;
    let row: Execution | null;
    let rule: Rule | null;
    try {
      // The run goes with the rule as it is now: its first attempt and any later one (the plan
      // written with the promotion) send the same spec.
      rule = await rules.getRule(ruleId);
      const plan = rule?.active ? deliveryPlanOf(rule, { rule, payload: null, executedBy: '' }) : null;
      row = await store.promoteQueued(ruleId, this.resources.instanceId, clock.now(), plan);
    } catch (error) {
      logger.warn({ ruleId, ...storeErrorFields(error) }, 'could not promote a queued run');
      return false;
    }
    if (!row) return false;
    const promoted = row;
    const current = rule;
    // Its trigger's trace ended when it was queued: it runs in a trace of its own.
    const span = startRunSpan({ id: promoted.ruleId, name: promoted.ruleName ?? promoted.ruleId }, promoted.executedBy, null, true);
    const run = (async () => {
      const cascade = new CascadeRun(promoted.id);
      const events = this.startEvents(cascade, promoted, promoted.startedAt);
      await this.resources.store.appendEvents(events);
      publishAll(this.resources.bus, [{ topic: 'execution', message: promoted }, ...events.map((message) => ({ topic: 'cascade' as const, message }))]);
      const request: RunRequest | null = current ? { rule: current, payload: promoted.payload, executedBy: promoted.executedBy } : null;
      return this.complete(
        promoted,
        request,
        cascade,
        null,
        new Set([promoted.ruleId]),
        current ? (current.active ? null : 'RULE_INACTIVE') : 'RULE_NOT_FOUND',
        span,
      );
    })();
    if (span)
      void run.then(
        (final) => endRunSpan(span, final),
        () => failRunSpan(span),
      );
    this.track({ started: promoted, finished: run });
    return true;
  }

  /** Every rule with QUEUED runs and a free lock gets its next run started (called periodically). */
  async promoteWaiting(): Promise<void> {
    for (const ruleId of await this.resources.store.rulesWithQueue()) await this.promoteNext(ruleId);
  }

  /**
   * Runs the action (when the condition was met) and writes the final state, with the final
   * writes its children carried up; a child hands its own (and what it carries) to its parent.
   */
  private async complete(
    running: Execution,
    /** Null for a run promoted from its queue after its rule was deleted (unrunnable: RULE_NOT_FOUND). */
    request: RunRequest | null,
    cascade: CascadeRun,
    parent: Parent | null,
    chain: ReadonlySet<string>,
    unrunnable: 'RULE_NOT_FOUND' | 'RULE_INACTIVE' | null = null,
    span: Span | null = null,
  ): Promise<Execution> {
    const { clock, logger } = this.resources;
    const isRoot = parent === null;
    // Everything this run writes (lines, result, references, error, events) hides the secrets it read.
    const redactor = new Redactor();
    const sink = this.resources.logSinks(runFields(running), redactor);
    const carried: Step[] = [];
    let outcome: ActionOutcome | null = null;
    if (unrunnable) {
      const message =
        unrunnable === 'RULE_NOT_FOUND'
          ? 'the rule was deleted while this run waited in its queue'
          : 'the rule was switched off while this run waited in its queue';
      sink.add('ERROR', message);
      outcome = { status: 'FAILED', result: null, references: { action_type: null }, error: { code: unrunnable, message } };
    } else if (running.conditionMet && request) {
      const actionSpan = startActionSpan(span, request.rule.actionSpec.type);
      const self: Parent = { execution: running, cascade, chain, carried, actionSpan };
      outcome = await inActionSpan(actionSpan, () =>
        this.runAction(running, request.rule, request.payload, sink, redactor, 1, (ruleId, payload) => this.runChild(ruleId, payload, self, redactor)),
      );
    }
    const logs = await sink.close();

    const finishedAt = clock.now();
    const { execution: final, events } = this.afterAction(running, outcome, cascade, finishedAt);
    this.observeAttempt(running, outcome);
    if (isRoot && !cascade.retrying) events.push(cascade.event('CASCADE_FINISHED', final, finishedAt, cascade.status(final), 'cascade finished'));
    // Only a queue-mode rule's runs wait in a queue, so a run promoted after its rule was deleted frees one.
    const queueMode = request ? concurrencyOf(request.rule).mode === 'queue' : true;
    const freesQueue = running.lockKey !== null && queueMode;
    const steps = [...carried, { execution: final, events, logs, freesQueue }];
    if (parent) {
      parent.carried.push(...steps);
      return final;
    }
    const { rows, swept } = await this.finish(steps);
    steps.forEach((step, i) => {
      if (swept[i]) logger.warn(runFields(step.execution), 'execution was already finished elsewhere (swept as interrupted); its result is dropped');
      else if (rows[i]!.nextAttemptAt) this.onRetrying(rows[i]!.nextAttemptAt!);
      if (step.freesQueue) void this.promoteNext(step.execution.ruleId);
    });
    return rows[rows.length - 1]!;
  }

  /**
   * The final write of a root and the steps it carries. When the database refuses it, each step
   * is tried alone, and one still refused is written FAILED with STORE_FAILED (storeFailedStep):
   * no run stays RUNNING, its rule locked, while this process lives. Answers the rows as they
   * were written and, per step, whether its row had already been finished elsewhere (swept).
   */
  private async finish(steps: Step[]): Promise<{ rows: Execution[]; swept: boolean[] }> {
    try {
      const written = await this.write('finish', steps);
      return { rows: steps.map((step) => step.execution), swept: written.map((w) => !w) };
    } catch (error) {
      const rows: Execution[] = [];
      const swept: boolean[] = [];
      /** Events of the steps written FAILED with STORE_FAILED (the others are their steps' own). */
      const written: CascadeEvent[] = [];
      for (const step of steps) {
        let refusal: unknown = error;
        if (steps.length > 1) {
          try {
            const [alone] = await this.write('finish', [step]);
            rows.push(step.execution);
            swept.push(!alone);
            continue;
          } catch (own) {
            refusal = own;
          }
        }
        const failed = storeFailedStep(step);
        rows.push(failed.execution);
        swept.push(await this.writeStoreFailed(failed, refusal));
        written.push(...failed.events);
      }
      await this.endCascadeOfRefusedRetry(steps, rows, written);
      return { rows, swept };
    }
  }

  /**
   * A child that would have gone RETRYING but was written FAILED with STORE_FAILED leaves its
   * cascade with nothing going, yet its root's write left CASCADE_FINISHED out: it is added
   * after the rest.
   */
  private async endCascadeOfRefusedRetry(steps: Step[], rows: Execution[], written: CascadeEvent[]): Promise<void> {
    const root = rows.at(-1)!;
    const ended = steps.some((step, i) => step.execution.status === 'RETRYING' && rows[i]!.status !== 'RETRYING');
    if (!ended || rows.some((row) => row.status === 'RETRYING') || root.id !== root.cascadeId) return;
    const all = [...written, ...steps.flatMap((step, i) => (rows[i] === step.execution ? step.events : []))];
    if (all.some((e) => e.kind === 'CASCADE_FINISHED')) return;
    const lastSeq = Math.max(...all.map((e) => e.seq));
    const cascade = CascadeRun.resume(root.cascadeId, lastSeq);
    const event = cascade.event('CASCADE_FINISHED', root, root.finishedAt ?? this.resources.clock.now(), 'FAILED', 'cascade finished');
    await writeUntilTaken(
      () => this.resources.store.appendEvents([event]),
      (error, attempt) => this.resources.logger.warn({ ...runFields(root), attempt, ...storeErrorFields(error) }, 'could not end a cascade yet; trying again'),
    );
    this.resources.bus.publish('cascade', event);
  }

  /**
   * Writes a STORE_FAILED step; logs the refusal it stands for (its code only) and its own.
   * Tries until the database takes it; answers whether the row had already been finished elsewhere.
   */
  private async writeStoreFailed(failed: Step, refusal: unknown): Promise<boolean> {
    const { logger } = this.resources;
    const ids = runFields(failed.execution);
    logger.error({ ...ids, ...storeErrorFields(refusal) }, 'the database refused the final write of an execution; it is written FAILED with STORE_FAILED');
    const [written] = await writeUntilTaken(
      () => this.write('finish', [failed]),
      (error, attempt) =>
        logger.warn({ ...ids, attempt, ...storeErrorFields(error) }, 'could not write an execution FAILED with STORE_FAILED yet; trying again'),
    );
    return !written;
  }

  private async runAction(
    running: Execution,
    rule: ActionSource,
    payload: unknown,
    sink: LogSink,
    redactor: Redactor,
    attempt: number,
    runChild: ActionContext['runChild'],
  ): Promise<ActionOutcome> {
    const spec = rule.actionSpec;
    const action = this.actions.get(String(spec.type));
    const ctx: ActionContext = {
      rule: { id: rule.id, name: rule.name },
      execution: { id: running.id, depth: running.depth, cascadeId: running.cascadeId },
      webhookId: running.webhookId ?? running.id,
      payload,
      log: (level: LogLevelValue, message: string, data?: unknown, apiExecutionId?: string | null) => sink.add(level, message, data, apiExecutionId ?? null),
      runChild,
      redactor,
      attempt,
    };
    if (!action) {
      return {
        status: 'FAILED',
        result: null,
        references: { action_type: spec.type },
        error: { code: 'INTERNAL', message: `no action of type ${String(spec.type)}` },
      };
    }
    const { secretNames, literals } = secretsOfSpec(spec);
    redactor.addAll(literals);
    try {
      // Secrets are read now, at send time, so a new value takes effect on the next send.
      const at = this.resources.clock.now();
      const secrets = secretNames.length === 0 ? NO_SECRETS : await this.resources.secrets.lookup(secretNames, redactor);
      if (!secrets.ok) {
        ctx.log('ERROR', `${action.type} not sent: ${secrets.message}`, { secret: secrets.name });
        const references = { action_type: action.type, ...('endpoint' in spec ? { endpoint: redactCredentials(spec.endpoint) } : {}) };
        const error = { code: 'SECRET_NOT_FOUND', message: secrets.message };
        // A webhook's attempt that could not be sent; a missing secret is never retried.
        const unsent = unansweredAttempt(attempt, at, error.message, error.code);
        return { status: 'FAILED', result: null, references, error, ...(action.type === 'webhook' ? { delivery: { attempt: unsent, retryAt: null } } : {}) };
      }
      const resolved = renderTemplates(spec, { ...actionScope(rule, payload, running), secrets: secrets.values });
      // What an action hands back holds text from outside (answers, outputs, error messages),
      // which may echo a secret it was sent.
      return storableJson(redactor.apply(await action.run(resolved, ctx)));
    } catch (error) {
      const reason = redactor.text(error instanceof Error ? error.message : String(error));
      this.resources.logger.error({ ...runFields(running), reason }, 'action threw');
      ctx.log('ERROR', 'the action failed unexpectedly');
      return {
        status: 'FAILED',
        result: null,
        references: { action_type: action.type },
        error: { code: 'INTERNAL', message: 'the action failed unexpectedly' },
      };
    }
  }

  /**
   * The row and events after an action ran (or did not): RETRYING with ACTION_RETRYING when a
   * webhook attempt failed and another is due, else final with ACTION_FINISHED (when the action
   * ran) and RULE_FINISHED. A RETRYING row frees its rule (SPEC.md, 'Delivery').
   */
  private afterAction(running: Execution, outcome: ActionOutcome | null, cascade: CascadeRun, at: Date): { execution: Execution; events: CascadeEvent[] } {
    const attempts = outcome?.delivery ? [...(running.attempts ?? []), outcome.delivery.attempt] : running.attempts;
    const references = outcome ? boundedReferences({ ...running.references, action: outcome.references }) : running.references;
    const retryAt = outcome?.delivery?.retryAt ?? null;
    if (retryAt) {
      cascade.retrying = true;
      const retrying: Execution = {
        ...running,
        status: 'RETRYING',
        result: outcome!.result ?? null,
        references,
        lockKey: null,
        attempts,
        nextAttemptAt: retryAt,
        attemptOwner: null,
      };
      const { number, httpStatus } = outcome!.delivery!.attempt;
      const message = `attempt ${number} failed${httpStatus === null ? '' : ` (HTTP ${httpStatus})`}; next attempt at ${retryAt.toISOString()}`;
      return { execution: retrying, events: [cascade.event('ACTION_RETRYING', retrying, at, 'RETRYING', message)] };
    }
    const final: Execution = {
      ...running,
      status: outcome ? outcome.status : 'NOT_MATCHED',
      result: outcome ? (outcome.result ?? null) : null,
      references,
      errorCode: outcome?.error?.code ?? null,
      errorMessage: outcome?.error?.message ?? null,
      durationMs: Math.max(0, at.getTime() - running.startedAt.getTime()),
      finishedAt: at,
      lockKey: null,
      attempts,
      nextAttemptAt: null,
      delivery: null,
      attemptOwner: null,
    };
    if (final.status === 'FAILED') cascade.failed = true;
    const events: CascadeEvent[] = [];
    if (outcome) events.push(cascade.event('ACTION_FINISHED', final, at, final.status, outcome.error ? outcome.error.message : 'action finished'));
    events.push(cascade.event('RULE_FINISHED', final, at, final.status, `rule ${final.ruleName} finished: ${final.status}`));
    return { execution: final, events };
  }

  /**
   * Counts a webhook attempt by what it led to; a failed one is logged at WARN with its run's
   * ids (the action log has the details). Nothing for an action that is not a webhook.
   */
  private observeAttempt(row: Execution, outcome: ActionOutcome | null): void {
    const delivery = outcome?.delivery;
    if (!delivery) return;
    const result: WebhookAttemptOutcome = delivery.retryAt ? 'RETRYING' : outcome.status === 'SUCCESS' ? 'SUCCESS' : 'FAILED';
    this.resources.observer.webhookAttempt(result);
    if (result === 'SUCCESS') return;
    const { number, httpStatus, errorCode } = delivery.attempt;
    this.resources.logger.warn(
      { ...runFields(row), attempt: number, httpStatus, errorCode, nextAttemptAt: delivery.retryAt?.toISOString() ?? null },
      result === 'RETRYING' ? 'webhook attempt failed; another attempt follows' : 'webhook attempt failed; no attempt follows',
    );
  }

  /** Called with the due time of every attempt scheduled here (the delivery worker wakes for it). */
  onRetrying: (at: Date) => void = () => undefined;

  /** Sends the next attempt of a RETRYING execution this instance claimed, and writes what it led to. */
  sendAttempt(held: HeldAttempt): Promise<void> {
    const run = (async () => {
      const row = held.execution;
      const plan = row.delivery;
      const redactor = new Redactor();
      const sink = this.resources.logSinks(runFields(row), redactor, held.lastLogSeq);
      const attempt = nextAttemptNumber(row);
      const outcome = plan
        ? await inActionSpan(startAttemptSpan(row, attempt), () =>
            this.runAction(
              row,
              { id: row.ruleId, name: row.ruleName ?? row.ruleId, actionSpec: plan.spec as unknown as Rule['actionSpec'] },
              'payload' in plan ? plan.payload : row.payload,
              sink,
              redactor,
              attempt,
              async () => ({ ok: false, code: 'RULE_NOT_FOUND', message: 'a webhook attempt starts no child' }),
            ),
          )
        : null;
      await this.settleAttempt(held, outcome ?? lostPlan(row, this.resources.clock.now()), await sink.close());
    })();
    return this.keep(
      run.catch(async (error: unknown) => {
        this.resources.logger.error({ ...runFields(held.execution), ...storeErrorFields(error) }, 'a webhook attempt could not be written');
        // Not left claimed while this instance lives: due again for any instance.
        await this.resources.deliveries.release([held.execution.id], this.resources.instanceId).catch(() => undefined);
      }),
    );
  }

  /**
   * An attempt cut off by a stopped process (the first one too) counts as a failed attempt:
   * another follows while the policy has attempts left (SPEC.md, 'Delivery').
   */
  async interruptAttempt(held: HeldAttempt): Promise<void> {
    const row = held.execution;
    const now = this.resources.clock.now();
    const policy = (row.delivery?.spec as WebhookActionSpec | undefined)?.retry;
    const number = nextAttemptNumber(row);
    const retryAt = nextAttemptAt(policy, number, now);
    const reason = 'the process sending it stopped';
    const sink = this.resources.logSinks(runFields(row), new Redactor(), held.lastLogSeq);
    if (retryAt) sink.add('WARN', `webhook attempt ${number} was cut off: ${reason}; next attempt at ${retryAt.toISOString()}`, { attempt: number });
    else sink.add('ERROR', `webhook attempt ${number} was cut off: ${reason}`, { attempt: number });
    const attempt = unansweredAttempt(number, now, `interrupted: ${reason}`);
    const outcome: ActionOutcome = {
      status: 'FAILED',
      result: row.result,
      references: (row.references.action as Record<string, unknown> | undefined) ?? { action_type: 'webhook' },
      error: { code: 'WEBHOOK_FAILED', message: `webhook attempt ${number} was cut off: ${reason}` },
      delivery: { attempt, retryAt },
    };
    await this.settleAttempt(held, outcome, await sink.close());
  }

  /**
   * Writes an attempt's outcome under the claim it was made with: RETRYING again, or final with
   * the cascade's CASCADE_FINISHED when no other execution of it is still going.
   */
  private async settleAttempt(held: HeldAttempt, outcome: ActionOutcome, logs: ActionLog[]): Promise<void> {
    const { clock, logger, bus, stats, deliveries } = this.resources;
    const row = held.execution;
    const at = clock.now();
    this.observeAttempt(row, outcome);
    const build = (context: CascadeContext): Step => {
      const cascade = CascadeRun.resume(row.cascadeId, context.lastSeq);
      const { execution, events } = this.afterAction(row, outcome, cascade, at);
      if (execution.status !== 'RETRYING' && !context.othersPending) {
        const { root } = context;
        const failed = context.othersFailed || execution.status === 'FAILED';
        const status = failed ? 'FAILED' : root.id === row.id ? execution.status : root.status;
        const named = { ...execution, id: root.id, ruleId: root.ruleId, ruleName: root.ruleName, depth: 0 };
        events.push(cascade.event('CASCADE_FINISHED', named, at, status, 'cascade finished'));
      }
      return { execution, events, logs };
    };
    let step: Step | null;
    try {
      step = await deliveries.writeAttempt(row, build);
    } catch (error) {
      logger.error(
        { ...runFields(row), ...storeErrorFields(error) },
        'the database refused a webhook attempt of an execution; it is written FAILED with STORE_FAILED',
      );
      step = await writeUntilTaken(
        () => deliveries.writeAttempt(row, (context) => storeFailedStep(build(context), context.othersPending ? undefined : context.root)),
        (again, attempt) =>
          logger.warn({ ...runFields(row), attempt, ...storeErrorFields(again) }, 'could not write an execution FAILED with STORE_FAILED yet; trying again'),
      );
    }
    if (!step) {
      logger.warn(runFields(row), 'a webhook attempt was already counted elsewhere (its instance was taken for stopped); its result is dropped');
      return;
    }
    const final = step.execution;
    publishAll(bus, [
      ...step.logs.map((message) => ({ topic: 'log' as const, message })),
      // executionUpdates sends a row at each change of status.
      ...(final.status === row.status ? [] : [{ topic: 'execution' as const, message: final }]),
      ...step.events.map((message) => ({ topic: 'cascade' as const, message })),
    ]);
    if (final.nextAttemptAt) this.onRetrying(final.nextAttemptAt);
    else {
      this.resources.observer.executionFinished(final);
      stats.add(final.ruleId, 'ran');
      if (final.status === 'FAILED') stats.add(final.ruleId, 'failed');
    }
    // A first attempt cut off held its rule's lock until now.
    if (row.lockKey) void this.promoteNext(row.ruleId);
  }

  /**
   * Sends a FAILED webhook execution's request again as a new root run of its rule (SPEC.md,
   * 'Delivery'): the original payload through the rule's current spec, the original's
   * `webhook-id`, the condition not evaluated again.
   */
  redeliver(original: Execution, rule: Rule): Promise<StartedRun> {
    return this.trigger({
      rule,
      payload: original.payload,
      executedBy: 'redeliver',
      evaluation: { met: true, trigger: { redelivery_of: original.id } },
      redeliveryOf: original.id,
      webhookId: original.webhookId ?? original.id,
    });
  }

  private async runChild(ruleId: string, payload: unknown, parent: Parent, redactor: Redactor): Promise<ChildOutcome> {
    const rule = await this.resources.rules.getRule(ruleId);
    if (!rule) return { ok: false, code: 'RULE_NOT_FOUND', message: `no rule with id ${ruleId}` };
    if (!rule.active) return { ok: false, code: 'RULE_INACTIVE', message: `rule ${rule.name} (${rule.id}) is inactive` };
    const run = await this.start({ rule, payload, shownPayload: redactor.apply(payload), executedBy: 'cascade' }, parent);
    return { ok: true, execution: await run.finished };
  }
}
