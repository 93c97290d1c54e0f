import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.js';

export interface BuilderTypes {
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}

/** The resolved type parameters of the builder, for helpers that take refs. */
export type Types = PothosSchemaTypes.ExtendDefaultTypes<BuilderTypes>;

export const builder = new SchemaBuilder<BuilderTypes>({
  defaultFieldNullability: false,
});

builder.queryType({});
builder.mutationType({});
