import type { ApiKey, AuditEntry } from '../entities/index.js';
import type { ROLES } from '../access/principal.js';
import { audit } from './audit.js';
import { builder } from './builder.js';
import { connectionType } from './pagination.js';

export const RoleEnum = builder.enumType('Role', {
  description: "What a key may do (SPEC.md, 'Access').",
  values: {
    ADMIN: { description: "Everything: EDITOR's rights plus apiKeys, createApiKey, revokeApiKey and auditLog." },
    EDITOR: {
      description:
        'Rules, API definitions and secrets; running, simulating, redelivering and publishing; every read and subscription except apiKeys and auditLog.',
    },
    VIEWER: { description: 'Every read query and subscription except apiKeys, secrets and auditLog.' },
    PUBLISHER: { description: "publishEvent, publishEvents, POST /events and viewer (SPEC.md, 'Access')." },
  } as const,
});

const AuthModeEnum = builder.enumType('AuthMode', {
  values: {
    OPEN: { description: 'Every request acts as ADMIN; allowed on a loopback address, or anywhere with AUTH_MODE=open.' },
    KEYS: { description: 'Every request presents an API key.' },
  } as const,
});

const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey').implement({
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.field({ type: RoleEnum, resolve: (k) => k.role }),
    prefix: t.exposeString('prefix', { description: 'The first 12 characters of the key, to recognise it; never the whole key.' }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.lastUsedAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ apiKey: ApiKey; secret: string }>('CreatedApiKey').implement({
  authScopes: { admin: true },
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (c) => c.apiKey }),
    secret: t.exposeString('secret', { description: 'The whole key, shown only here, once; the service keeps only a hash.' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    role: t.field({ type: RoleEnum, required: true }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

const ViewerRef = builder.objectRef<{ name: string; role: (typeof ROLES)[number]; authMode: 'OPEN' | 'KEYS' }>('Viewer').implement({
  description: 'Who is asking.',
  authScopes: { anyone: true },
  fields: (t) => ({
    name: t.exposeString('name', { description: "The key's name; 'local' in OPEN mode." }),
    role: t.field({ type: RoleEnum, resolve: (v) => v.role }),
    authMode: t.field({ type: AuthModeEnum, resolve: (v) => v.authMode }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditEntry>('AuditEntry').implement({
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.field({ type: 'DateTime', resolve: (e) => e.at }),
    actor: t.exposeString('actor', { description: "The name of the key that made the change; 'local' in OPEN mode." }),
    action: t.exposeString('action', { description: "The mutation's field name, e.g. updateRule." }),
    targetId: t.exposeID('targetId', {
      nullable: true,
      description: "The rule's, API definition's or key's id; null for secrets (the name is in detail).",
    }),
    detail: t.field({
      type: 'JSON',
      nullable: true,
      description: "The mutation's arguments, with secret values, key secrets and literal credentials removed.",
      resolve: (e) => e.detail,
    }),
  }),
});

const AuditEntryConnectionRef = connectionType('AuditEntry', AuditEntryRef, { admin: true });

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    authScopes: { anyone: true },
    resolve: (_root, _args, { viewer }) => viewer,
  }),
  apiKeys: t.field({
    type: [ApiKeyRef],
    description: 'ADMIN only. Newest first; revoked and expired keys included.',
    authScopes: { admin: true },
    resolve: (_root, _args, { services }) => services.apiKeys.list(),
  }),
  auditLog: t.field({
    type: AuditEntryConnectionRef,
    description: 'ADMIN only. Newest first.',
    authScopes: { admin: true },
    args: { actor: t.arg.string(), targetId: t.arg.id(), first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, { services }) => services.audit.list({ actor: args.actor, targetId: args.targetId == null ? null : String(args.targetId) }, args),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'ADMIN only.',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      audit(context, 'createApiKey', {
        result: await context.services.apiKeys.create(input, context.viewer.name),
        targetId: (created) => created.apiKey.id,
        detail: { name: input.name, role: input.role, expiresAt: input.expiresAt ?? null },
      }),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: 'ADMIN only. Refuses new requests with the key and ends its open connections.',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) =>
      audit(context, 'revokeApiKey', { result: await context.services.apiKeys.revoke(String(id)), targetId: (key) => key.id, detail: { id } }),
  }),
}));
