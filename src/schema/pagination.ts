import type { ObjectRef } from '@pothos/core';
import type { Connection } from '../services/pagination.js';
import type { Scope } from '../access/principal.js';
import { builder, type Types } from './builder.js';

export const PageInfoRef = builder.objectRef<Connection<unknown>['pageInfo']>('PageInfo').implement({
  authScopes: { anyone: true },
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

/** `XEdge` and `XConnection` types for a node type, as the contract spells them, readable with `scopes`. */
export function connectionType<T>(name: string, node: ObjectRef<Types, T>, scopes: Partial<Record<Scope, boolean>> = { read: true }) {
  const edge = builder.objectRef<Connection<T>['edges'][number]>(`${name}Edge`).implement({
    authScopes: scopes,
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    authScopes: scopes,
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
      totalCount: t.exposeInt('totalCount'),
    }),
  });
}
