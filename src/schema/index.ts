import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import { guardJsonArguments } from './jsonArguments.js';
import './scalars.js';
import './enums.js';
import './rule.js';
import './apiDefinition.js';
import './execution.js';
import './apiExecution.js';
import './access.js';
import './secret.js';

export type { GraphQLContext, Services } from './context.js';
export { createLoaders } from './loaders.js';

let built: GraphQLSchema | undefined;

/** The one schema of the service, built once from every registered type. */
export function buildSchema(): GraphQLSchema {
  built ??= guardJsonArguments(builder.toSchema());
  return built;
}

/** The schema as committed in schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}
