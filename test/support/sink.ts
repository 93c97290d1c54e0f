import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real local HTTP sink for webhook, HTTP API and METRIC tests: listens on 127.0.0.1 on a free
 * port, records every request, and answers per path (status, body, headers, delay, or never).
 */

export interface SinkRequest {
  method: string;
  /** Path and query string, as received. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw body as text. */
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  at: number;
}

export interface SinkReply {
  status?: number;
  /** A string or Buffer is sent as is (text/plain unless contentType says otherwise); anything else as JSON. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** Waits this long before answering. */
  delayMs?: number;
  /** Never answers (the socket stays open until the client gives up or the sink closes). */
  never?: boolean;
}

export type SinkRoute = SinkReply | ((request: SinkRequest) => SinkReply);

export const BIG_BODY_BYTES = 70 * 1024;

/** Paths every sink answers unless told otherwise. */
export const DEFAULT_ROUTES: Record<string, SinkRoute> = {
  '/json': { status: 200, body: { ok: true, n: 42, nested: { list: [1, 2, 3] } } },
  '/text': { status: 200, body: 'plain text answer', contentType: 'text/plain; charset=utf-8' },
  '/fail': { status: 500, body: { error: 'boom' } },
  '/never': { never: true },
  '/slow': { status: 200, body: { slow: true }, delayMs: 1000 },
  '/big': { status: 200, body: 'x'.repeat(BIG_BODY_BYTES), contentType: 'text/plain' },
  '/bigjson': { status: 200, body: { data: 'y'.repeat(BIG_BODY_BYTES) } },
  '/metric': { status: 200, body: { data: { cpu: 1 } } },
};

export interface Sink {
  /** Base URL, `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** Every request received, oldest first. */
  requests: SinkRequest[];
  /** Requests to one path (without the query string). */
  requestsTo(path: string): SinkRequest[];
  /** Sets (or replaces) the answer of one path. */
  route(path: string, route: SinkRoute): void;
  /** Waits until `count` requests matched (default: any request), polling, at most `timeoutMs`. */
  waitForRequests(count: number, path?: string, timeoutMs?: number): Promise<SinkRequest[]>;
  /** Forgets the recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, reply: SinkReply) {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | Buffer = '';
  if (reply.body !== undefined) {
    if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
      payload = reply.body;
      headers['content-type'] ??= reply.contentType ?? 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(reply.body);
      headers['content-type'] ??= reply.contentType ?? 'application/json';
    }
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status ?? 200, headers);
  res.end(payload);
}

export async function startSink(routes: Record<string, SinkRoute> = {}): Promise<Sink> {
  const table = new Map<string, SinkRoute>(Object.entries({ ...DEFAULT_ROUTES, ...routes }));
  const requests: SinkRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const parsed = new URL(req.url ?? '/', 'http://sink');
      let json: unknown;
      try {
        json = body === '' ? undefined : JSON.parse(body);
      } catch {
        json = undefined;
      }
      const request: SinkRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body,
        json,
        at: Date.now(),
      };
      requests.push(request);
      const route = table.get(parsed.pathname) ?? { status: 200, body: { received: true } };
      const reply = typeof route === 'function' ? route(request) : route;
      if (reply.never) return;
      if (reply.delayMs) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) send(res, reply);
        }, reply.delayMs);
        timers.add(timer);
      } else {
        send(res, reply);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const requestsTo = (path: string) => requests.filter((r) => r.path === path);
  return {
    url,
    port,
    requests,
    requestsTo,
    route: (path, route) => void table.set(path, route),
    async waitForRequests(count, path, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = path ? requestsTo(path) : requests;
        if (seen.length >= count) return seen;
        if (Date.now() > deadline) throw new Error(`sink: expected ${count} requests${path ? ` to ${path}` : ''}, got ${seen.length}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    reset: () => void requests.splice(0, requests.length),
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released), for connection-refused tests. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
