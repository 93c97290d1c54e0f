import SchemaBuilder from '@pothos/core';
import ZodPlugin from '@pothos/plugin-zod';
import type { ZodError } from 'zod';
import { badInput } from '../errors.js';
import type { GraphQLContext } from './context.js';

function zodRefusal(error: ZodError) {
  const issue = error.issues[0];
  const path = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') ?? '';
  return badInput(path ? `${path}: ${issue?.message}` : (issue?.message ?? 'invalid argument'), path ? { field: path } : {});
}

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
  plugins: [ZodPlugin],
  defaultFieldNullability: false,
  zod: { validationError: (error) => zodRefusal(error) },
});

builder.queryType({});
builder.mutationType({});
