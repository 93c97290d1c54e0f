import { createdByOf } from './attribution.js';
import { audit } from './audit.js';
import type { ApiDefinition } from '../entities/index.js';
import { redactCredentials } from '../shared/credentials.js';
import { builder } from './builder.js';
import { ApiKindEnum } from './enums.js';
import { connectionType } from './pagination.js';
import { specField } from './jsonArguments.js';

const RuntimePolicyRef = builder.objectRef<ApiDefinition>('RuntimePolicy').implement({
  authScopes: { read: true },
  fields: (t) => ({
    timeoutMs: t.exposeInt('timeoutMs', { description: 'Wall-clock limit of one run, in milliseconds.' }),
    memoryLimitMb: t.exposeInt('memoryLimitMb', { description: 'Heap limit of the isolate, in MiB.' }),
    allowNetwork: t.exposeBoolean('allowNetwork', { description: 'Whether ctx.http is available to the script.' }),
    allowedHosts: t.exposeStringList('allowedHosts', { description: 'Hosts that ctx.http may reach when allowNetwork is true.' }),
  }),
});

export const ApiDefinitionRef = builder.objectRef<ApiDefinition>('ApiDefinition');

ApiDefinitionRef.implement({
  authScopes: { read: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    kind: t.field({ type: ApiKindEnum, resolve: (a) => a.kind }),
    source: t.exposeString('source', { nullable: true, description: 'Script source, for SCRIPT.' }),
    httpSpec: t.field({ type: 'JSON', nullable: true, description: 'Request template, for HTTP.', resolve: (a) => redactCredentials(a.httpSpec) }),
    paramSchema: t.field({ type: 'JSON', nullable: true, description: 'JSON Schema that params must satisfy, when set.', resolve: (a) => a.paramSchema }),
    runtimePolicy: t.field({ type: RuntimePolicyRef, resolve: (a) => a }),
    active: t.exposeBoolean('active'),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (a) => a.updatedAt }),
  }),
});

export const ApiDefinitionConnectionRef = connectionType('ApiDefinition', ApiDefinitionRef);

const RuntimePolicyInput = builder.inputType('RuntimePolicyInput', {
  fields: (t) => ({
    timeoutMs: t.int(),
    memoryLimitMb: t.int(),
    allowNetwork: t.boolean(),
    allowedHosts: t.stringList(),
  }),
});

const CreateApiDefinitionInput = builder.inputType('CreateApiDefinitionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    kind: t.field({ type: ApiKindEnum, defaultValue: 'SCRIPT' }),
    source: t.string(),
    httpSpec: t.field({ type: 'JSON', extensions: specField('input.httpSpec') }),
    paramSchema: t.field({ type: 'JSON', extensions: specField('input.paramSchema') }),
    runtimePolicy: t.field({ type: RuntimePolicyInput }),
    active: t.boolean({ defaultValue: true }),
    createdBy: t.string({ description: "Who created the definition; in KEYS mode the key's name, whatever this says." }),
  }),
});

const UpdateApiDefinitionInput = builder.inputType('UpdateApiDefinitionInput', {
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    source: t.string(),
    httpSpec: t.field({ type: 'JSON', extensions: specField('input.httpSpec') }),
    paramSchema: t.field({ type: 'JSON', extensions: specField('input.paramSchema') }),
    runtimePolicy: t.field({ type: RuntimePolicyInput }),
    active: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  apiDefinitions: t.field({
    authScopes: { read: true },
    type: ApiDefinitionConnectionRef,
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, { services }) => services.apis.list(args),
  }),
  apiDefinition: t.field({
    authScopes: { read: true },
    type: ApiDefinitionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.apis.get(String(id)),
  }),
}));

builder.mutationFields((t) => ({
  createApiDefinition: t.field({
    authScopes: { editor: true },
    type: ApiDefinitionRef,
    args: { input: t.arg({ type: CreateApiDefinitionInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      audit(context, 'createApiDefinition', {
        result: await context.services.apis.create({ ...input, createdBy: createdByOf(context.viewer, input.createdBy) }),
        targetId: (api) => api.id,
        detail: { input: { ...input, createdBy: createdByOf(context.viewer, input.createdBy) } },
      }),
  }),
  updateApiDefinition: t.field({
    authScopes: { editor: true },
    type: ApiDefinitionRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateApiDefinitionInput, required: true }) },
    resolve: async (_root, { id, input }, context) =>
      audit(context, 'updateApiDefinition', {
        result: await context.services.apis.update(String(id), input),
        targetId: (api) => api.id,
        detail: { id, input },
      }),
  }),
  deleteApiDefinition: t.field({
    authScopes: { editor: true },
    type: 'ID',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) =>
      audit(context, 'deleteApiDefinition', { result: await context.services.apis.delete(String(id)), targetId: (deleted) => deleted, detail: { id } }),
  }),
}));
