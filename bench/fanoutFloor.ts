import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLScalarType } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { ActionLog } from '../src/entities/index.js';

/** The plainest pubsub: an EventEmitter topic per rule, and a queue per subscriber that its iterator pulls. */
function createPlainPubSub() {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: (ruleId: string, log: ActionLog) => emitter.emit(ruleId, log),
    subscribe(ruleId: string): AsyncIterableIterator<ActionLog> {
      const queue: ActionLog[] = [];
      let waiting: ((result: IteratorResult<ActionLog>) => void) | null = null;
      const listener = (log: ActionLog) => {
        if (!waiting) return void queue.push(log);
        const resolve = waiting;
        waiting = null;
        resolve({ value: log, done: false });
      };
      emitter.on(ruleId, listener);
      const iterator: AsyncIterableIterator<ActionLog> = {
        next: () => (queue.length > 0 ? Promise.resolve({ value: queue.shift()!, done: false }) : new Promise((resolve) => (waiting = resolve))),
        return() {
          emitter.off(ruleId, listener);
          waiting?.({ value: undefined, done: true });
          return Promise.resolve({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },
  };
}

/**
 * The fan-out floor: a bare graphql-yoga + graphql-ws server (the integration graphql-ws
 * documents for yoga) whose `actionLogs(ruleId)` yields, from a plain in-process pubsub, the
 * same log lines with the same fields as Cepheus's. What any service delivering these messages
 * over graphql-ws pays.
 */
export async function startFanoutFloor(): Promise<{ url: string; publish(log: ActionLog): void; stop(): Promise<void> }> {
  const pubsub = createPlainPubSub();
  const schema = createSchema({
    typeDefs: `
      scalar DateTime
      scalar JSON
      enum LogLevel { DEBUG INFO WARN ERROR }
      type ActionLog { executionId: ID! cascadeId: ID ruleId: ID apiExecutionId: ID seq: Int! at: DateTime! level: LogLevel! message: String! data: JSON }
      type Query { ok: Boolean }
      type Subscription { actionLogs(ruleId: ID!): ActionLog! }
    `,
    resolvers: {
      DateTime: new GraphQLScalarType({ name: 'DateTime', serialize: (value) => (value as Date).toISOString() }),
      JSON: new GraphQLScalarType({ name: 'JSON', serialize: (value) => value }),
      Subscription: {
        actionLogs: {
          subscribe: (_root: unknown, args: { ruleId: string }) => pubsub.subscribe(args.ruleId),
          resolve: (log: ActionLog) => log,
        },
      },
    },
  });
  const yoga = createYoga({ schema, logging: false, graphiql: false });
  const server: Server = createServer(yoga);
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    wsServer,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}${yoga.graphqlEndpoint}`,
    publish: (log) => pubsub.publish(log.ruleId!, log),
    async stop() {
      for (const client of wsServer.clients) client.terminate();
      await new Promise((resolve) => wsServer.close(resolve));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
