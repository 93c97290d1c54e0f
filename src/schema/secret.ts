import type { SecretListing } from '../engine/index.js';
import { audit } from './audit.js';
import { builder } from './builder.js';

const SecretRef = builder.objectRef<SecretListing>('Secret');

SecretRef.implement({
  description: 'A named secret. No field ever returns its value.',
  authScopes: { editor: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (s) => s.updatedAt }),
  }),
});

builder.queryFields((t) => ({
  secrets: t.field({
    type: [SecretRef],
    description: 'Every secret by name, sorted by name; never a value.',
    authScopes: { editor: true },
    resolve: (_root, _args, { services }) => services.secrets.list(),
  }),
}));

builder.mutationFields((t) => ({
  setSecret: t.field({
    type: SecretRef,
    description: "Creates or replaces a secret (SPEC.md, 'Secrets').",
    authScopes: { editor: true },
    args: { name: t.arg.string({ required: true }), value: t.arg.string({ required: true }) },
    // The audit entry keeps the name only: the value never leaves this call.
    resolve: async (_root, { name, value }, context) =>
      audit(context, 'setSecret', { result: await context.services.secrets.set(name, value), targetId: () => null, detail: { name } }),
  }),
  deleteSecret: t.field({
    type: 'Boolean',
    description: 'False when there was no such secret.',
    authScopes: { editor: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, context) =>
      audit(context, 'deleteSecret', { result: await context.services.secrets.delete(name), targetId: () => null, detail: { name } }),
  }),
}));
