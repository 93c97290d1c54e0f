import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * GraphQL over HTTP takes application/json bodies only (SPEC.md, "Access"). yoga would also read
 * forms, multipart and application/graphql text: the types a page on any site may POST without
 * a CORS preflight. Refused with 415 before the body is read.
 */
export function jsonBodiesOnly(): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return;
      const mediaType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (mediaType === 'application/json') return;
      throw new GraphQLError('A GraphQL request body must be application/json', {
        extensions: { code: 'BAD_USER_INPUT', http: { status: 415, headers: { 'accept-post': 'application/json' } } },
      });
    },
  };
}
