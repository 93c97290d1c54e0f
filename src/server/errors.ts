import { GraphQLError } from 'graphql';
import { SpecError } from '../engine/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

function withExtensions(error: GraphQLError, message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, ...extensions },
  });
}

const isVariableCoercion = (message: string) => /^Variable "\$[^"]+" (got invalid value|of required type|of non-null type)/.test(message);

/**
 * Every error leaves with an `extensions.code`. Errors the service raised on purpose keep their
 * message; anything unexpected is logged here and leaves as INTERNAL_SERVER_ERROR with a fixed
 * message, so no stack trace, SQL or secret reaches a client.
 */
export function createErrorMasker(logger: Logger) {
  return (error: unknown): Error => {
    const graphqlError = error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.', { originalError: error as Error });
    const original = graphqlError.originalError ?? null;
    if (original instanceof AppError) {
      return withExtensions(graphqlError, original.message, { code: original.code, ...original.extensions });
    }
    if (original instanceof SpecError) {
      return withExtensions(graphqlError, original.message, { code: 'BAD_USER_INPUT', specPath: original.specPath });
    }
    if (original instanceof GraphQLError) {
      // Coercion of an argument (a scalar's parseValue): the caller's input is wrong.
      return withExtensions(graphqlError, graphqlError.message, { code: original.extensions.code ?? 'BAD_USER_INPUT' });
    }
    if (!original) {
      if (graphqlError.extensions.code) return graphqlError;
      const code = isVariableCoercion(graphqlError.message) ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED';
      return withExtensions(graphqlError, graphqlError.message, { code });
    }
    logger.error({ err: original, path: graphqlError.path }, 'unexpected error in a GraphQL operation');
    return withExtensions(graphqlError, 'Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' });
  };
}
