import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

type MaybePromise<T> = T | Promise<T>;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * Subscriptions whose events are the same objects for every subscriber (a bus message is one
 * object, whoever listens, and is never changed once published) share the execution of each
 * event: the result is computed once per
 * (event, document, operation, variables) and handed to every subscriber with that selection,
 * instead of once per subscriber. The result is the same because nothing in the schema's
 * subscription fields depends on who asked (no per-caller field rules); if that changes, the
 * caller's role must join the key.
 */
export function sharedSubscriptionResults(): Plugin {
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 0;
  const results = new WeakMap<object, Map<string, MaybePromise<ExecutionResult>>>();

  const selectionKey = (args: ExecutionArgs) => {
    let id = documentIds.get(args.document);
    if (id === undefined) {
      id = nextDocumentId++;
      documentIds.set(args.document, id);
    }
    return `${id}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
  };

  const resultOf = (event: unknown, key: string, args: ExecutionArgs): MaybePromise<ExecutionResult> => {
    if (typeof event !== 'object' || event === null) return execute({ ...args, rootValue: event });
    let byKey = results.get(event);
    if (!byKey) {
      byKey = new Map();
      results.set(event, byKey);
    }
    let result = byKey.get(key);
    if (result === undefined) {
      result = execute({ ...args, rootValue: event });
      byKey.set(key, result);
    }
    return result;
  };

  const subscribe = async (args: ExecutionArgs) => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const key = selectionKey(args);
    const events = source[Symbol.asyncIterator]();
    const mapped: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const step = await events.next();
        if (step.done) return step;
        return { value: await resultOf(step.value, key, args), done: false };
      },
      async return() {
        await events.return?.();
        return { value: undefined, done: true };
      },
      async throw(error: unknown) {
        await events.return?.();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return mapped;
      },
    };
    return mapped;
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as never);
    },
  };
}
