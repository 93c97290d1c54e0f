import type { GraphQLField, GraphQLObjectType } from 'graphql';
import { hasScope, type Role, type Scope } from '../access/principal.js';

type ScopeMap = Partial<Record<Scope, boolean>>;

const scopesIn = (extensions: Readonly<Record<string, unknown>> | null | undefined): Scope[] | null => {
  const options = extensions?.pothosOptions as { authScopes?: ScopeMap; skipTypeScopes?: boolean } | undefined;
  if (!options?.authScopes || typeof options.authScopes !== 'object') return null;
  return (Object.entries(options.authScopes) as [Scope, boolean][]).filter(([, on]) => on).map(([scope]) => scope);
};

/**
 * The scopes that may use a field (any one of them suffices), as its `authScopes` states them,
 * else its type's; null when neither states any.
 */
export function fieldScopes(type: GraphQLObjectType, field: GraphQLField<unknown, unknown>): Scope[] | null {
  const own = scopesIn(field.extensions);
  const options = field.extensions?.pothosOptions as { skipTypeScopes?: boolean } | undefined;
  if (options?.skipTypeScopes) return own;
  return own ?? scopesIn(type.extensions);
}

export const mayUse = (role: Role, scopes: readonly Scope[] | null): boolean => scopes === null || scopes.some((scope) => hasScope(role, scope));
