import { executedByOf } from './attribution.js';
import type { ApiExecution } from '../entities/index.js';
import { ApiDefinitionRef } from './apiDefinition.js';
import { builder } from './builder.js';
import { ExecutionStatusEnum } from './enums.js';
import { IDEMPOTENCY_KEY_DESCRIPTION, idempotently, startsOneRun } from './idempotency.js';
import { ActionLogRef, ExecutionErrorRef, executionError } from './execution.js';
import { connectionType } from './pagination.js';

export const ApiExecutionRef = builder.objectRef<ApiExecution>('ApiExecution').implement({
  authScopes: { read: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    apiId: t.exposeID('apiId'),
    status: t.field({ type: ExecutionStatusEnum, resolve: (e) => e.status }),
    params: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.params }),
    input: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.input }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.output }),
    logs: t.field({ type: [ActionLogRef], resolve: (e, _args, { loaders }) => loaders.apiLogs.load(e.id) }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: executionError }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    executedBy: t.exposeString('executedBy'),
    startedAt: t.field({ type: 'DateTime', resolve: (e) => e.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.finishedAt }),
    executionId: t.exposeID('executionId', { nullable: true, description: 'The rule execution whose api_script action ran it, when a rule did.' }),
  }),
});

const ApiExecutionConnectionRef = connectionType('ApiExecution', ApiExecutionRef);

builder.objectField(ApiDefinitionRef, 'executions', (t) =>
  t.field({
    type: ApiExecutionConnectionRef,
    description: 'Newest first.',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (api, args, { services }) => services.apiRuns.list(api.id, args),
  }),
);

builder.mutationField('executeApi', (t) =>
  t.field({
    authScopes: { editor: true },
    type: ApiExecutionRef,
    description: 'Runs a SCRIPT or HTTP API definition directly.',
    args: {
      apiId: t.arg.id({ required: true }),
      params: t.arg({ type: 'JSON' }),
      input: t.arg({ type: 'JSON' }),
      executedBy: t.arg.string(),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_DESCRIPTION }),
    },
    resolve: (_root, args, ctx) => {
      const execute = (started?: (execution: ApiExecution) => Promise<void>) =>
        ctx.services.apiRuns.execute(
          String(args.apiId),
          args.params,
          args.input,
          executedByOf(ctx.viewer, args.executedBy),
          ctx.services.rateLimits.admit('runs', ctx),
          started,
        );
      return idempotently(
        ctx,
        'executeApi',
        args.idempotencyKey,
        { apiId: String(args.apiId), params: args.params ?? null, input: args.input ?? null, executedBy: args.executedBy ?? null },
        () => execute(),
        () => startsOneRun('apiExecutionId', execute, (id) => ctx.services.apiRuns.existing(id)),
      );
    },
  }),
);
