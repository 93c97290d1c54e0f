import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { getOperationAST, GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type Plugin } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Config } from '../config.js';
import { serializeError, type Logger } from '../logger.js';
import type { GraphQLContext } from '../schema/index.js';
import type { KeyRing } from '../access/keys/keyRing.js';
import { hasScope, OPEN_PRINCIPAL, type Principal, type Scope } from '../access/principal.js';
import { authenticate, sendGraphQLUnauthenticated, sendUnauthenticated, type AuthOutcome } from './auth.js';
import { createBrowserGuard } from './browserGuard.js';
import { applyCors } from './cors.js';
import { createErrorMasker } from './errors.js';
import { createGraphiQL } from './graphiql/index.js';
import { wantsGraphiQL } from './graphiql/page.js';
import { jsonBodiesOnly } from './jsonBodies.js';
import { sharedSubscriptionResults } from './sharedSubscribe.js';

export const GRAPHQL_PATH = '/graphql';

export interface HttpServerDeps {
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  /** A fresh context for each operation (HTTP request or WebSocket subscribe). */
  context: (request: RequestFacts) => GraphQLContext;
  /** Whether the database is connected and migrated. */
  ready: () => boolean;
  /** Who a request's key is (SPEC.md, 'Access'). */
  keys: KeyRing;
  /** Extra plain-HTTP routes (path -> handler), tried before GraphQL; each needs a key of a role with its scope. */
  routes?: Record<string, KeyedRoute>;
  /** Extra yoga plugins: the metrics' operation counts and open subscriptions, GraphQL spans when tracing is on. */
  plugins?: Plugin[];
}

/** A plain route that acts for a principal whose role has `scope`. */
export interface KeyedRoute {
  scope: Scope;
  handle(req: IncomingMessage, res: ServerResponse, principal: Principal): void | Promise<void>;
}

/** What the server knows of the request an operation came with. */
export interface RequestFacts {
  /** The client's IP address as the socket tells it. */
  clientAddress: string;
  /** Who the request acts as. */
  viewer: Principal;
}

/** What yoga is handed with each request: the Node request and response, or a graphql-ws connection's. */
type ServerContext = { req?: IncomingMessage; res?: ServerResponse; viewer?: Principal };

export interface HttpServer {
  listen(): Promise<{ port: number; url: string }>;
  /** Stops accepting work, closes sockets, waits up to the grace period for requests in flight. */
  close(graceMs: number): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const tooLargeMessage = (maxBytes: number) => `Request body is larger than ${maxBytes} bytes`;

/** A body over the cap: 413 with the GraphQL error PAYLOAD_TOO_LARGE (a refusal: nothing logged). */
const payloadTooLarge = (maxBytes: number) =>
  new GraphQLError(tooLargeMessage(maxBytes), { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413, headers: { connection: 'close' } } } });

/**
 * Caps a body that does not announce its length (chunked) while it is read (JSON: other types
 * are refused before, by jsonBodiesOnly). Bodies that announce their length
 * are refused before they reach yoga, by the request listener below.
 */
function bodyLimitPlugin(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!request.body || !requestParser || request.headers.has('content-length')) return;
      setRequestParser(async (req) => {
        const reader = req.body!.getReader();
        const chunks: Uint8Array[] = [];
        let size = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            await reader.cancel();
            throw payloadTooLarge(maxBytes);
          }
          chunks.push(value);
        }
        return requestParser(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: Buffer.concat(chunks) }));
      });
    },
  };
}

/**
 * A yoga log line: its error as the logger's serializer tells it (an error's text may hold a
 * statement with its parameters), without a stack (the masker logs unexpected errors whole;
 * yoga's lines are mostly refusals); the rest is the message.
 */
const yogaLog =
  (logger: Logger, level: 'debug' | 'info' | 'warn') =>
  (...args: unknown[]) => {
    // yoga writes several debug lines per request: below the level, nothing is built.
    if (!logger.isLevelEnabled(level)) return;
    const error = args.find((arg) => arg instanceof Error);
    const message = args
      .filter((arg) => !(arg instanceof Error))
      .map(String)
      .join(' ');
    if (!error) return logger[level](message);
    const { stack: _stack, ...described } = serializeError(error);
    logger[level]({ error: described }, message);
  };

export function createHttpServer(deps: HttpServerDeps): HttpServer {
  const { config, logger, schema } = deps;
  const maskError = createErrorMasker(logger);
  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    context: ({ req, viewer }) => {
      const principal = viewer ?? (deps.keys.mode === 'OPEN' ? OPEN_PRINCIPAL : undefined);
      // The request listener (HTTP) or onConnect (graphql-ws) has always found one by now.
      if (!principal) throw new Error('a GraphQL operation without a principal');
      return deps.context({ clientAddress: req?.socket.remoteAddress ?? 'unknown', viewer: principal });
    },
    logging: {
      debug: yogaLog(logger, 'debug'),
      info: yogaLog(logger, 'info'),
      warn: yogaLog(logger, 'warn'),
      // Unexpected errors are logged with their cause by the error masker; yoga's own lines repeat them.
      error: yogaLog(logger, 'debug'),
    },
    maskedErrors: { maskError },
    // GraphiQL and CORS are served before yoga (graphiql/, cors.ts): yoga's CORS would answer any origin.
    graphiql: false,
    cors: false,
    landingPage: false,
    healthCheckEndpoint: '/__yoga_health',
    // The body cap is ours (the listener below and bodyLimitPlugin), and tighter: yoga's own
    // default one pipes every body through a stream transform, which costs each request about
    // as much as a database statement's round of JavaScript.
    maxRequestBodySize: false,
    plugins: [
      jsonBodiesOnly(),
      bodyLimitPlugin(config.maxRequestBytes),
      sharedSubscriptionResults(),
      EnvelopArmorPlugin({
        maxDepth: { n: config.limits.depth },
        costLimit: { maxCost: config.limits.cost },
        maxAliases: { n: config.limits.aliases },
        maxTokens: { n: config.limits.tokens },
        maxDirectives: { n: 50 },
        blockFieldSuggestion: { enabled: true },
      }),
      ...(deps.plugins ?? []),
    ],
  });

  const browserGuard = createBrowserGuard(config);
  const graphiql = config.graphiql ? createGraphiQL({ title: 'Cepheus', endpoint: GRAPHQL_PATH, authMode: config.authMode }) : null;
  const openRoutes: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>> = {
    ...graphiql?.routes,
    '/health': (_req, res) => sendJson(res, 200, { status: 'ok' }),
    '/ready': (_req, res) => (deps.ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'starting' })),
  };
  const keyedRoutes = deps.routes ?? {};

  /** A keyed route: 401 without a valid key, 403 for a role without its scope, else the handler. */
  const serveKeyed = async (route: KeyedRoute, req: IncomingMessage, res: ServerResponse) => {
    const outcome = await authenticate(deps.keys, req.headers.authorization);
    if (!outcome.ok) {
      res.setHeader('connection', 'close');
      return sendUnauthenticated(res, outcome.message);
    }
    if (!hasScope(outcome.principal.role, route.scope)) {
      res.setHeader('connection', 'close');
      return sendJson(res, 403, { error: `Role ${outcome.principal.role} may not use ${(req.url ?? '/').split('?')[0]}` });
    }
    return route.handle(req, res, outcome.principal);
  };

  let accepting = true;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!accepting && path !== '/health') {
      res.setHeader('connection', 'close');
      return sendJson(res, 503, { status: 'stopping' });
    }
    const refusal = browserGuard.refusal(req.headers, path);
    if (refusal) {
      logger.debug({ path, reason: refusal.reason }, 'browser request refused');
      return sendJson(res, 403, { error: refusal.message, errors: [{ message: refusal.message, extensions: { code: 'FORBIDDEN' } }] });
    }
    if (applyCors(req, res, config.corsOrigins) || graphiql?.servePage(req, res, path)) return;
    // GRAPHIQL=false: the page is not there (SPEC.md, 'Metrics and console').
    if (!graphiql && wantsGraphiQL(req, path, GRAPHQL_PATH)) return sendJson(res, 404, { error: 'GraphiQL is turned off (GRAPHIQL=false)' });
    const open = openRoutes[path];
    if (open) return open(req, res);
    // Plain routes read their bodies themselves, each with its own cap.
    const route = keyedRoutes[path];
    const length = Number(req.headers['content-length'] ?? 0);
    if (!route && length > config.maxRequestBytes) {
      res.setHeader('connection', 'close');
      return sendJson(res, 413, { errors: [{ message: tooLargeMessage(config.maxRequestBytes), extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    }
    if (route) {
      Promise.resolve(serveKeyed(route, req, res)).catch((error: unknown) => {
        logger.error({ err: error, path }, 'route failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
      return;
    }
    // GraphQL is served at its one path; yoga would also answer `/graphql/` and other spellings.
    if (path !== GRAPHQL_PATH) return sendJson(res, 404, { error: `Nothing here: GraphQL is served at ${GRAPHQL_PATH}` });
    if (deps.keys.mode === 'OPEN') return void yoga(req, res);
    const outcome = authenticate(deps.keys, req.headers.authorization);
    if (outcome instanceof Promise) void outcome.then((settled) => serveGraphQL(req, res, settled));
    else serveGraphQL(req, res, outcome);
  });

  /** GraphQL over HTTP in KEYS mode: a 401 without a valid key, else yoga acting for the key's principal. */
  const serveGraphQL = (req: IncomingMessage, res: ServerResponse, outcome: AuthOutcome) => {
    if (!outcome.ok) return sendGraphQLUnauthenticated(res, outcome.message);
    // A response still open (an SSE stream) ends when its key is revoked or expires.
    if (outcome.principal.keyId !== null) {
      const untrack = deps.keys.track(outcome.principal, () => res.destroy());
      res.once('close', untrack);
    }
    void yoga(req, res, { viewer: outcome.principal });
  };
  server.keepAliveTimeout = 5_000;

  // noServer: with `server`, ws re-emits every error of the HTTP server (EADDRINUSE at listen)
  // on the WebSocket server, where graphql-ws prints it with a stack trace. Upgrades are routed here.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: config.maxRequestBytes });
  // Upgraded sockets not yet closed, handshakes in progress included (WS_MAX_CONNECTIONS).
  let wsConnections = 0;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    const full = wsConnections >= config.wsMaxConnections;
    if (browserGuard.refusal(req.headers, path ?? '/')) {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (path !== GRAPHQL_PATH || !accepting || full) {
      const status = path !== GRAPHQL_PATH ? '400 Bad Request' : '503 Service Unavailable';
      if (full && accepting) logger.debug({ limit: config.wsMaxConnections }, 'graphql-ws connection refused: WS_MAX_CONNECTIONS reached');
      socket.on('error', () => undefined);
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wsConnections++;
    socket.once('close', () => wsConnections--);
    wsServer.handleUpgrade(req, socket, head, (ws) => {
      wsServer.emit('connection', ws, req);
      // A socket's errors are refused frames (over the cap, invalid UTF-8) that ws has already
      // answered by closing; graphql-ws would print each with console.error and a stack trace.
      ws.removeAllListeners('error');
      ws.on('error', (error: Error & { code?: string }) => logger.warn({ code: error.code }, `WebSocket message refused: ${error.message}`));
    });
  });
  // The ids of each connection's subscription operations (WS_MAX_SUBSCRIPTIONS); an id leaves
  // once graphql-ws has dropped it (completed, failed, or stopped by the client).
  const subscriptionIds = new WeakMap<object, Set<string>>();
  const tooManySubscriptions = (ctx: { subscriptions: Record<string, unknown> }, id: string): boolean => {
    let ids = subscriptionIds.get(ctx);
    if (!ids) {
      ids = new Set();
      subscriptionIds.set(ctx, ids);
    }
    for (const open of ids) if (!(open in ctx.subscriptions)) ids.delete(open);
    if (ids.size >= config.wsMaxSubscriptions) return true;
    ids.add(id);
    return false;
  };
  const wsDisposable = useServer<Record<string, unknown>, { viewer?: Principal }>(
    {
      // The key travels in connection_init as {"authorization": "Bearer KEY"}; without a valid
      // one the socket is closed with 4401, and a key revoked or expired later closes it the same way.
      onConnect: async (ctx) => {
        const outcome = await authenticate(deps.keys, ctx.connectionParams?.authorization);
        const socket = ctx.extra.socket;
        if (!outcome.ok) {
          socket.close(4401, outcome.message.slice(0, 120));
          return false;
        }
        ctx.extra.viewer = outcome.principal;
        const untrack = deps.keys.track(outcome.principal, () => socket.close(4401, 'The API key was revoked or has expired'));
        socket.once('close', untrack);
        return true;
      },
      // biome-ignore lint/suspicious/noExplicitAny: the root value is the shared subscription result (sharedSubscribe.ts)
      execute: (args: any) => args.rootValue.execute(args),
      // biome-ignore lint/suspicious/noExplicitAny: as for execute
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, id, params) => {
        // Whatever throws here is this operation's error, masked (and logged once when
        // unexpected): thrown on, graphql-ws would print it with a stack trace and close the connection.
        try {
          const {
            schema: envelopedSchema,
            execute,
            subscribe,
            contextFactory,
            parse,
            validate,
          } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            viewer: ctx.extra.viewer,
            params,
          });
          const document = parse(params.query);
          const errors = validate(envelopedSchema, document);
          if (errors.length > 0) return (errors as unknown[]).map((e) => maskError(e) as never);
          if (getOperationAST(document, params.operationName)?.operation === 'subscription' && tooManySubscriptions(ctx, id)) {
            const message = `This connection already has ${config.wsMaxSubscriptions} subscriptions open; complete one first`;
            return [new GraphQLError(message, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
          }
          return {
            schema: envelopedSchema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
        } catch (error) {
          return [maskError(error) as never];
        }
      },
      // Errors a subscription's stream raises mid-way (a database error while reading history)
      // are masked like any other: graphql-ws would send their message as it is.
      onError: (_ctx, _id, _payload, errors) => {
        const masked = errors.map((e) => maskError(e) as GraphQLError);
        logger.debug({ errors: masked.map((e) => e.extensions.code) }, 'graphql-ws operation error');
        return masked;
      },
    },
    wsServer,
  );

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const { port } = server.address() as AddressInfo;
          const host = config.host.includes(':') ? `[${config.host}]` : config.host;
          resolve({ port, url: `http://${host}:${port}${GRAPHQL_PATH}` });
        });
      }),
    async close(graceMs) {
      accepting = false;
      for (const client of wsServer.clients) client.close(1001, 'Server is shutting down');
      await wsDisposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await yoga.dispose();
    },
  };
}
