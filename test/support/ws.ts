import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * Subscriptions as a client sees them: over graphql-ws (a real WebSocket on the same port and
 * path as HTTP) and over SSE (a POST with `accept: text/event-stream`). Each subscription collects
 * what arrives until the server completes it, it fails, or its deadline passes.
 */

export interface SubscriptionError {
  message: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, any>;
}

export interface Outcome<T> {
  /** The value of the subscribed field in each `next` that had data, in arrival order. */
  events: T[];
  /** Errors of `next` payloads, of an `error` message, or of the transport. */
  errors: SubscriptionError[];
  /** True when the server completed the subscription (not when it failed or timed out). */
  completed: boolean;
}

export interface LiveSubscription<T> {
  /** What has arrived so far; grows while the subscription lives. */
  readonly events: T[];
  readonly errors: SubscriptionError[];
  /** Settles when the server completes or fails the subscription; rejects when the deadline passes first. */
  readonly done: Promise<Outcome<T>>;
  /** Resolves once `predicate(events)` holds; rejects at the deadline or if the subscription ends first without it. */
  waitFor(predicate: (events: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Stops listening (unsubscribes); safe to call more than once. */
  dispose(): void;
}

export const DEFAULT_DEADLINE_MS = 15_000;

function fieldValue<T>(data: unknown): T | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const values = Object.values(data as Record<string, unknown>);
  return values.length === 1 ? (values[0] as T) : (data as T);
}

/**
 * The shared bookkeeping of both transports: events, errors, completion, a deadline, and waiters.
 */
function collector<T>(description: string, deadlineMs: number, stop: () => void) {
  const events: T[] = [];
  const errors: SubscriptionError[] = [];
  let settled = false;
  let resolveDone!: (outcome: Outcome<T>) => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<Outcome<T>>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only uses waitFor must not see an unhandled rejection of `done`.
  done.catch(() => undefined);
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    stop();
    rejectDone(
      new Error(`${description}: no completion within ${deadlineMs} ms; received ${events.length} event(s): ${JSON.stringify(events).slice(0, 2000)}`),
    );
    wake();
  }, deadlineMs);

  const finish = (completed: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    resolveDone({ events, errors, completed });
    wake();
  };

  return {
    events,
    errors,
    done,
    get settled() {
      return settled;
    },
    next(payload: { data?: unknown; errors?: readonly SubscriptionError[] | null }) {
      if (settled) return;
      if (payload.errors?.length) errors.push(...payload.errors);
      const value = payload.data == null ? undefined : fieldValue<T>(payload.data);
      if (value !== undefined && value !== null) events.push(value);
      wake();
    },
    error(error: unknown) {
      if (settled) return;
      if (Array.isArray(error)) errors.push(...(error as SubscriptionError[]));
      else if (error instanceof Error) errors.push({ message: error.message });
      else
        errors.push({
          message: `transport error: ${String((error as { reason?: string; code?: number })?.reason ?? (error as { code?: number })?.code ?? error)}`,
        });
      finish(false);
    },
    complete() {
      finish(true);
    },
    cancel() {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveDone({ events, errors, completed: false });
      wake();
    },
    waitFor(predicate: (events: T[]) => boolean, timeoutMs = deadlineMs): Promise<T[]> {
      return new Promise<T[]>((resolve, reject) => {
        const check = () => {
          if (predicate(events)) {
            cleanup();
            resolve(events);
          } else if (settled) {
            cleanup();
            reject(
              new Error(
                `${description}: ended without the awaited events; received ${JSON.stringify(events).slice(0, 2000)}; errors ${JSON.stringify(errors)}`,
              ),
            );
          }
        };
        const timeout = setTimeout(() => {
          cleanup();
          reject(new Error(`${description}: the awaited events did not arrive within ${timeoutMs} ms; received ${JSON.stringify(events).slice(0, 2000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timeout);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** ws://... for an http://.../graphql URL. */
export function wsUrlOf(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

/** A graphql-ws client of a test app; no retries, so a failure shows at once. */
export function wsClient(httpUrl: string): Client {
  return createClient({ url: wsUrlOf(httpUrl), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, lazyCloseTimeout: 0 });
}

/**
 * Subscribes over graphql-ws. Pass a client to share one WebSocket between subscriptions (the
 * server handles a socket's messages in order); without one, a client of its own is made and
 * closed with the subscription.
 */
export function subscribeWs<T = any>(
  target: string | Client,
  query: string,
  variables: Record<string, unknown> = {},
  deadlineMs = DEFAULT_DEADLINE_MS,
): LiveSubscription<T> {
  const own = typeof target === 'string';
  const client = own ? wsClient(target) : target;
  let unsubscribe: () => void = () => undefined;
  const closeOwn = () => {
    if (own) void client.dispose();
  };
  const c = collector<T>(`graphql-ws ${query.replace(/\s+/g, ' ').trim().slice(0, 80)}`, deadlineMs, () => {
    unsubscribe();
    closeOwn();
  });
  unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (value) => c.next(value as never),
      error: (error) => {
        c.error(error);
        closeOwn();
      },
      complete: () => {
        c.complete();
        closeOwn();
      },
    },
  );
  return {
    events: c.events,
    errors: c.errors,
    done: c.done,
    waitFor: c.waitFor,
    dispose() {
      unsubscribe();
      c.cancel();
      closeOwn();
    },
  };
}

/** Subscribes over graphql-ws and resolves with everything that arrived once the server completes it. */
export function collectWs<T = any>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<Outcome<T>> {
  return subscribeWs<T>(httpUrl, query, variables, deadlineMs).done;
}

/** One server-sent event. */
interface SseMessage {
  event: string;
  data: string;
}

/** Splits a text/event-stream into messages; returns the messages and the unfinished rest. */
function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const normalised = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0 || event !== 'message') messages.push({ event, data: data.join('\n') });
  }
  return { messages, rest };
}

/**
 * Subscribes over SSE: a POST to /graphql with `accept: text/event-stream`, reading `event: next`
 * messages (their `data:` is an execution result) until `event: complete`.
 */
export function subscribeSse<T = any>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  deadlineMs = DEFAULT_DEADLINE_MS,
): LiveSubscription<T> {
  const abort = new AbortController();
  const c = collector<T>(`SSE ${query.replace(/\s+/g, ' ').trim().slice(0, 80)}`, deadlineMs, () => abort.abort());
  void (async () => {
    try {
      const response = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query, variables }),
        signal: abort.signal,
      });
      const type = response.headers.get('content-type') ?? '';
      if (!type.includes('text/event-stream')) {
        const text = await response.text();
        let body: { errors?: SubscriptionError[] } | undefined;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        c.error(body?.errors ?? new Error(`SSE answered ${response.status} ${type}: ${text.slice(0, 500)}`));
        return;
      }
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const parsed = parseSse(buffer);
        buffer = parsed.rest;
        for (const message of parsed.messages) {
          if (message.event === 'next' || message.event === 'message') {
            if (message.data.trim() !== '') c.next(JSON.parse(message.data));
          } else if (message.event === 'complete') {
            c.complete();
            abort.abort();
            return;
          }
        }
      }
      // The stream closed without `event: complete`.
      c.error(new Error('SSE stream closed without event: complete'));
    } catch (error) {
      if (!c.settled) c.error(error);
    }
  })();
  return {
    events: c.events,
    errors: c.errors,
    done: c.done,
    waitFor: c.waitFor,
    dispose() {
      c.cancel();
      abort.abort();
    },
  };
}

/** Subscribes over SSE and resolves with everything that arrived once the server completes it. */
export function collectSse<T = any>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown> = {},
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<Outcome<T>> {
  return subscribeSse<T>(httpUrl, query, variables, deadlineMs).done;
}
