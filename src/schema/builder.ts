import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { hasScope, type Scope } from '../access/principal.js';
import { AppError } from '../errors.js';
import type { GraphQLContext } from './context.js';

export interface BuilderTypes {
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
  AuthScopes: Record<Scope, boolean>;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}

/** The resolved type parameters of the builder, for helpers that take refs. */
export type Types = PothosSchemaTypes.ExtendDefaultTypes<BuilderTypes>;

export const builder = new SchemaBuilder<BuilderTypes>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin],
  scopeAuth: {
    // A subscription's role is checked once, when it starts; its events are not checked again.
    authorizeOnSubscribe: true,
    authScopes: ({ viewer }) => ({
      admin: hasScope(viewer.role, 'admin'),
      editor: hasScope(viewer.role, 'editor'),
      read: hasScope(viewer.role, 'read'),
      publish: hasScope(viewer.role, 'publish'),
      anyone: true,
    }),
    unauthorizedError: (_parent, { viewer }, info) => new AppError('FORBIDDEN', `Role ${viewer.role} may not use ${info.parentType.name}.${info.fieldName}`),
  },
});

builder.queryType({});
builder.mutationType({});
