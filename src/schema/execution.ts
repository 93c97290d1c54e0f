import { executedByOf } from './attribution.js';
import type { ActionLog, CascadeEvent, DeliveryAttempt, Execution } from '../entities/index.js';
import type { BatchResult, PublishResult, RuleStats } from '../engine/index.js';
import type { Cascade, Simulation } from '../services/executions.js';
import { builder } from './builder.js';
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, startsOneRun } from './idempotency.js';
import { ITEMS_CHECKED_BY_RESOLVER } from './jsonArguments.js';
import { ActionTypeEnum, CascadeEventKindEnum, ExecutionStatusEnum, LogLevelEnum } from './enums.js';
import { connectionType } from './pagination.js';
import { RuleRef } from './rule.js';

export const ExecutionErrorRef = builder.objectRef<{ code: string; message: string }>('ExecutionError').implement({
  authScopes: { read: true },
  fields: (t) => ({
    code: t.exposeString('code', { description: "Machine-readable, from SPEC.md 'Error codes'." }),
    message: t.exposeString('message'),
  }),
});

/** The `error` field of an Execution or ApiExecution: null unless the run stored an error code. */
export function executionError(run: { errorCode: string | null; errorMessage: string | null }): { code: string; message: string } | null {
  return run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? run.errorCode } : null;
}

export const ActionLogRef = builder.objectRef<ActionLog>('ActionLog').implement({
  authScopes: { read: true },
  fields: (t) => ({
    executionId: t.exposeID('executionId', { description: 'The Execution, or for a direct executeApi run the ApiExecution, that wrote it.' }),
    cascadeId: t.exposeID('cascadeId', { nullable: true, description: 'Null for a direct executeApi run.' }),
    ruleId: t.exposeID('ruleId', { nullable: true, description: 'Null for a direct executeApi run.' }),
    apiExecutionId: t.exposeID('apiExecutionId', { nullable: true, description: 'Set on lines written by an API script, from a rule or direct.' }),
    seq: t.exposeInt('seq', { description: 'Order within the execution, from 1.' }),
    at: t.field({ type: 'DateTime', resolve: (l) => l.at }),
    level: t.field({ type: LogLevelEnum, resolve: (l) => l.level }),
    message: t.exposeString('message'),
    data: t.field({ type: 'JSON', nullable: true, resolve: (l) => l.data }),
  }),
});

export const DeliveryAttemptRef = builder.objectRef<DeliveryAttempt>('DeliveryAttempt').implement({
  authScopes: { read: true },
  fields: (t) => ({
    number: t.exposeInt('number', { description: 'From 1.' }),
    at: t.field({ type: 'DateTime', resolve: (a) => new Date(a.at) }),
    durationMs: t.exposeInt('durationMs'),
    httpStatus: t.exposeInt('httpStatus', { nullable: true, description: "The answer's HTTP status; null when no answer came." }),
    errorCode: t.exposeString('errorCode', {
      nullable: true,
      description: 'Null when the attempt succeeded (an answer below 400); else WEBHOOK_FAILED or SECRET_NOT_FOUND.',
    }),
    message: t.exposeString('message', { nullable: true, description: "What happened, with at most 1 KiB of the answer's body; secrets redacted." }),
  }),
});

export const ExecutionRef = builder.objectRef<Execution>('Execution');

ExecutionRef.implement({
  description: 'One run of one rule. A cascade is the tree of executions under one root.',
  authScopes: { read: true },
  fields: (t) => ({
    // What a PUBLISHER reads of the executions its events started (SPEC.md, 'Access').
    id: t.exposeID('id', { skipTypeScopes: true, authScopes: { anyone: true } }),
    ruleId: t.exposeID('ruleId', { skipTypeScopes: true, authScopes: { anyone: true } }),
    rule: t.field({
      type: RuleRef,
      nullable: true,
      description: 'Null once the rule is deleted.',
      resolve: (e, _args, { loaders }) => loaders.rule.load(e.ruleId),
    }),
    status: t.field({ type: ExecutionStatusEnum, skipTypeScopes: true, authScopes: { anyone: true }, resolve: (e) => e.status }),
    conditionMet: t.exposeBoolean('conditionMet'),
    executedBy: t.exposeString('executedBy', {
      description:
        "Who started it: the executedBy argument (default 'manual', or the key's name in KEYS mode), 'event', 'scheduler', 'metric-poll', 'cascade' or 'redeliver'.",
    }),
    payload: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.payload }),
    actionType: t.field({ type: ActionTypeEnum, nullable: true, resolve: (e) => e.actionType }),
    result: t.field({ type: 'JSON', nullable: true, description: 'What the action returned (SPEC.md, per action type).', resolve: (e) => e.result }),
    references: t.field({ type: 'JSON', description: "Condition and action references (SPEC.md, 'References').", resolve: (e) => e.references }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: executionError }),
    skipReason: t.exposeString('skipReason', {
      nullable: true,
      description: 'Why it was SKIPPED: RULE_ALREADY_RUNNING, QUEUE_FULL or CASCADE_DEPTH_EXCEEDED.',
    }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    startedAt: t.field({ type: 'DateTime', resolve: (e) => e.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.finishedAt }),
    cascadeId: t.exposeID('cascadeId', { description: 'Id of the root execution of its cascade (its own id for a root).' }),
    parentId: t.exposeID('parentId', { nullable: true }),
    depth: t.exposeInt('depth', { description: "0 for a root, parent's depth + 1 for a rule triggered by a trigger_rule action." }),
    children: t.field({ type: [ExecutionRef], description: 'Oldest first.', resolve: (e, _args, { loaders }) => loaders.children.load(e.id) }),
    logs: t.field({ type: [ActionLogRef], description: 'In seq order.', resolve: (e, _args, { loaders }) => loaders.logs.load(e.id) }),
    attempts: t.field({
      type: [DeliveryAttemptRef],
      description: "Webhook attempts, first first; empty for other actions (SPEC.md, 'Delivery').",
      resolve: (e) => e.attempts ?? [],
    }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, description: 'Set while RETRYING.', resolve: (e) => e.nextAttemptAt }),
    redeliveryOf: t.exposeID('redeliveryOf', { nullable: true, description: 'The execution that this one redelivers, when it is a redelivery.' }),
  }),
});

export const ExecutionConnectionRef = connectionType('Execution', ExecutionRef);

export const CascadeEventRef = builder.objectRef<CascadeEvent>('CascadeEvent').implement({
  authScopes: { read: true },
  fields: (t) => ({
    cascadeId: t.exposeID('cascadeId'),
    seq: t.exposeInt('seq', { description: 'Order within the cascade, from 1, without gaps.' }),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
    kind: t.field({ type: CascadeEventKindEnum, resolve: (e) => e.kind }),
    executionId: t.exposeID('executionId'),
    ruleId: t.exposeID('ruleId'),
    ruleName: t.exposeString('ruleName', { nullable: true }),
    depth: t.exposeInt('depth'),
    status: t.field({ type: ExecutionStatusEnum, nullable: true, resolve: (e) => e.status }),
    message: t.exposeString('message', { nullable: true }),
  }),
});

const CascadeRef = builder.objectRef<Cascade>('Cascade').implement({
  authScopes: { read: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({
      type: ExecutionStatusEnum,
      description: "RUNNING until every execution in it has finished; then FAILED if any failed, else the root's status.",
      resolve: (c) => c.status,
    }),
    root: t.field({ type: ExecutionRef, resolve: (c) => c.root }),
    executions: t.field({ type: [ExecutionRef], description: 'Oldest first.', resolve: (c) => c.executions }),
    events: t.field({ type: [CascadeEventRef], description: 'In seq order.', resolve: (c) => c.events }),
    startedAt: t.field({ type: 'DateTime', resolve: (c) => c.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (c) => c.finishedAt }),
  }),
});

const SimulationRef = builder.objectRef<Simulation>('Simulation').implement({
  authScopes: { read: true },
  fields: (t) => ({
    conditionMet: t.exposeBoolean('conditionMet'),
    wouldExecute: t.exposeBoolean('wouldExecute'),
    resolvedAction: t.field({ type: 'JSON', description: 'The action spec with templates filled in from the payload.', resolve: (s) => s.resolvedAction }),
    references: t.field({ type: 'JSON', resolve: (s) => s.references }),
  }),
});

const PublishEventResultRef = builder.objectRef<PublishResult>('PublishEventResult').implement({
  authScopes: { anyone: true },
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    matched: t.exposeInt('matched', { description: 'Active EVENT rules whose condition the event met, not counting matches held by a throttle.' }),
    executions: t.field({ type: [ExecutionRef], description: 'Root executions started by this event.', resolve: (r) => r.executions }),
  }),
});

const RuleStatsRef = builder.objectRef<RuleStats>('RuleStats').implement({
  authScopes: { read: true },
  fields: (t) => ({
    matched: t.exposeInt('matched', { description: 'Events whose condition this rule met, held ones included.' }),
    ran: t.exposeInt('ran', { description: 'Executions that ran (any trigger; SKIPPED rows not counted).' }),
    held: t.exposeInt('held', { description: "Matches held back by the rule's throttle; they leave no execution row." }),
    failed: t.exposeInt('failed', { description: 'Executions that ended FAILED.' }),
  }),
});

const RefusedEventRef = builder.objectRef<BatchResult['refused'][number]>('RefusedEvent').implement({
  authScopes: { anyone: true },
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the event in the request, from 0.' }),
    reason: t.exposeString('reason'),
  }),
});

const PublishEventsResultRef = builder.objectRef<BatchResult>('PublishEventsResult').implement({
  authScopes: { anyone: true },
  fields: (t) => ({
    accepted: t.exposeInt('accepted'),
    matched: t.exposeInt('matched', { description: 'Rule matches over all accepted events.' }),
    refused: t.field({ type: [RefusedEventRef], resolve: (r) => r.refused }),
  }),
});

builder.objectField(RuleRef, 'stats', (t) =>
  t.field({
    type: RuleStatsRef,
    description: "Counters since the rule was created (SPEC.md, 'Throttling, concurrency and counters').",
    resolve: (rule, _args, { loaders }) => loaders.stats.load(rule.id),
  }),
);

builder.objectField(RuleRef, 'executions', (t) =>
  t.field({
    type: ExecutionConnectionRef,
    description: 'Newest first.',
    args: { first: t.arg.int(), after: t.arg.string(), status: t.arg({ type: ExecutionStatusEnum }) },
    resolve: (rule, args, { services }) => services.executions.list({ ruleId: rule.id, status: args.status }, args),
  }),
);

builder.queryFields((t) => ({
  execution: t.field({
    authScopes: { read: true },
    type: ExecutionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.executions.get(String(id)),
  }),
  executions: t.field({
    authScopes: { read: true },
    type: ExecutionConnectionRef,
    args: {
      ruleId: t.arg.id(),
      cascadeId: t.arg.id(),
      status: t.arg({ type: ExecutionStatusEnum }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, { services }) =>
      services.executions.list(
        { ruleId: args.ruleId == null ? null : String(args.ruleId), cascadeId: args.cascadeId == null ? null : String(args.cascadeId), status: args.status },
        args,
      ),
  }),
  cascade: t.field({
    authScopes: { read: true },
    type: CascadeRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.executions.cascade(String(id)),
  }),
}));

builder.mutationFields((t) => ({
  triggerRule: t.field({
    authScopes: { editor: true },
    type: ExecutionRef,
    description: `Runs the rule now with this payload: evaluates its condition and, when met,
its action, and every rule that the action chains to. With wait: true
(default) it answers when every execution of the cascade is final or
RETRYING; with wait: false
it answers as soon as the root execution is written (RUNNING, or SKIPPED
when the rule is busy), and cascadeProgress(cascadeId) replays and streams
the rest.`,
    args: {
      ruleId: t.arg.id({ required: true }),
      payload: t.arg({ type: 'JSON' }),
      executedBy: t.arg.string(),
      wait: t.arg.boolean({ defaultValue: true }),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: (_root, args, ctx) => {
      const trigger = (started?: (execution: Execution) => Promise<void>) =>
        ctx.services.executions.trigger(
          String(args.ruleId),
          args.payload,
          executedByOf(ctx.viewer, args.executedBy),
          args.wait ?? true,
          ctx.services.rateLimits.admit('runs', ctx),
          started,
        );
      return idempotently(
        ctx,
        'triggerRule',
        args.idempotencyKey,
        { ruleId: String(args.ruleId), payload: args.payload ?? null, executedBy: args.executedBy ?? null },
        () => trigger(),
        () => startsOneRun('executionId', trigger, (id) => ctx.services.executions.existing(id)),
      );
    },
  }),
  redeliver: t.field({
    authScopes: { editor: true },
    type: ExecutionRef,
    description: "Sends a FAILED webhook execution's request again, as a new execution (SPEC.md, 'Delivery').",
    args: { executionId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.executions.redeliver(String(args.executionId), ctx.services.rateLimits.admit('runs', ctx)),
  }),
  redeliverFailed: t.field({
    authScopes: { editor: true },
    type: 'Int',
    description: 'Redelivers every FAILED webhook execution of the rule started at or after since and not yet redelivered; returns how many.',
    args: { ruleId: t.arg.id({ required: true }), since: t.arg({ type: 'DateTime', required: true }) },
    resolve: (_root, args, ctx) => ctx.services.executions.redeliverFailed(String(args.ruleId), args.since as Date, ctx.services.rateLimits.admit('runs', ctx)),
  }),
  simulateRule: t.field({
    authScopes: { editor: true },
    type: SimulationRef,
    description: 'Evaluates the condition and resolves the action without running it. Records nothing.',
    args: { ruleId: t.arg.id({ required: true }), payload: t.arg({ type: 'JSON' }) },
    resolve: (_root, args, { services }) => services.executions.simulate(String(args.ruleId), args.payload),
  }),
  publishEvents: t.field({
    authScopes: { publish: true },
    type: PublishEventsResultRef,
    description: 'Up to 10,000 events in one call; each is handled as publishEvent would.',
    args: {
      events: t.arg({ type: ['JSON'], required: true, extensions: ITEMS_CHECKED_BY_RESOLVER }),
      source: t.arg.string(),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: (_root, args, ctx) => {
      const publish = () => ctx.services.executions.publishEvents(args.events, args.source, ctx.services.rateLimits.admit('events', ctx));
      return idempotently(ctx, 'publishEvents', args.idempotencyKey, { events: args.events, source: args.source ?? null }, publish, () => ({
        run: publish,
        stored: (result) => result,
        replay: async (value) => value as BatchResult,
      }));
    },
  }),
  publishEvent: t.field({
    authScopes: { publish: true },
    type: PublishEventResultRef,
    description: 'Evaluates the event against every active EVENT rule and runs those it matches.',
    args: { event: t.arg({ type: 'JSON', required: true }), source: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.executions.publishEvent(args.event, args.source, ctx.services.rateLimits.admit('events', ctx)),
  }),
}));

builder.subscriptionType({});

builder.subscriptionFields((t) => ({
  actionLogs: t.field({
    authScopes: { read: true },
    type: ActionLogRef,
    description: 'Every log line of matching executions as it is written. All arguments are filters; none means all.',
    args: { ruleId: t.arg.id(), cascadeId: t.arg.id(), executionId: t.arg.id() },
    subscribe: (_root, args, { services }) =>
      services.executions.actionLogs({
        ruleId: args.ruleId == null ? null : String(args.ruleId),
        cascadeId: args.cascadeId == null ? null : String(args.cascadeId),
        executionId: args.executionId == null ? null : String(args.executionId),
      }),
    resolve: (log) => log,
  }),
  cascadeProgress: t.field({
    authScopes: { read: true },
    type: CascadeEventRef,
    description: `The events of one cascade: first those already past (from seq 1), then live
ones; completes after CASCADE_FINISHED.`,
    args: { cascadeId: t.arg.id({ required: true }) },
    subscribe: (_root, args, { services }) => services.executions.cascadeProgress(String(args.cascadeId)),
    resolve: (event) => event,
  }),
  executionUpdates: t.field({
    authScopes: { read: true },
    type: ExecutionRef,
    description: 'Each execution when it starts and when it finishes.',
    args: { ruleId: t.arg.id() },
    subscribe: (_root, args, { services }) => services.executions.executionUpdates(args.ruleId == null ? null : String(args.ruleId)),
    resolve: (execution) => execution,
  }),
}));
