/**
 * The browser protections of SPEC.md "Access" (both modes), against a real server: Origin
 * (another origin refused unless CORS_ORIGINS lists it, CORS headers for a listed one), Host
 * (DNS rebinding, while bound to loopback; ALLOWED_HOSTS) and JSON-only GraphQL bodies. Requests
 * go through node:http, which sends Host and Origin exactly as given.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createBrowserGuard, originVerdict } from '../../src/server/browserGuard.js';
import { backends, startFreshApp, type TestApp } from '../support/harness.js';

const LISTED = 'https://console.example.com';
const FOREIGN = 'https://evil.example';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (Host defaults to the app's own address). */
function send(app: TestApp, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: app.port, method, path, headers: { host: `127.0.0.1:${app.port}`, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const QUERY = JSON.stringify({ query: '{ __typename }' });
const postGraphQL = (app: TestApp, headers: Record<string, string> = {}, body = QUERY) =>
  send(app, 'POST', '/graphql', { 'content-type': 'application/json', accept: 'application/json', ...headers }, body);

/** The HTTP status a graphql-ws upgrade gets, or 101 when the socket opens. */
function upgrade(app: TestApp, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${app.port}/graphql`, 'graphql-transport-ws', { headers });
    socket.on('open', () => {
      socket.close();
      resolve(101);
    });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
    });
    socket.on('error', reject);
  });
}

describe.each(backends())('Origin and Host (%s)', (backend) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp(backend, { CORS_ORIGINS: `${LISTED},http://localhost:5173` });
  });

  afterAll(async () => {
    await app?.stop();
  });

  describe('another origin not listed in CORS_ORIGINS', () => {
    const cases: [string, (app: TestApp, origin: string) => Promise<Answer>][] = [
      ['POST /graphql', (app, origin) => postGraphQL(app, { origin })],
      ['GET /graphql', (app, origin) => send(app, 'GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`, { origin })],
      [
        'GET /graphql as SSE',
        (app, origin) =>
          send(app, 'GET', `/graphql?query=${encodeURIComponent('subscription { executionUpdates { id } }')}`, { origin, accept: 'text/event-stream' }),
      ],
      ['POST /events', (app, origin) => send(app, 'POST', '/events', { origin, 'content-type': 'application/x-ndjson' }, '{"type":"x"}\n')],
      ['GET /health', (app, origin) => send(app, 'GET', '/health', { origin })],
      ['GET /graphql (GraphiQL)', (app, origin) => send(app, 'GET', '/graphql', { origin, accept: 'text/html' })],
    ];
    it.each(cases)('%s is refused with 403, without CORS headers', async (_name, call) => {
      const answer = await call(app, FOREIGN);
      expect(answer.status).toBe(403);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect(JSON.parse(answer.body).errors[0]).toMatchObject({ message: expect.stringContaining('CORS_ORIGINS'), extensions: { code: 'FORBIDDEN' } });
    });

    it('the same host on another port is another origin', async () => {
      expect((await postGraphQL(app, { origin: `http://127.0.0.1:${app.port + 1}` })).status).toBe(403);
    });

    it('Origin: null is another origin', async () => {
      expect((await postGraphQL(app, { origin: 'null' })).status).toBe(403);
    });

    it('its preflight gets 403 and no Access-Control-Allow-Origin', async () => {
      const answer = await send(app, 'OPTIONS', '/graphql', { origin: FOREIGN, 'access-control-request-method': 'POST' });
      expect(answer.status).toBe(403);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('its graphql-ws upgrade is refused with 403', async () => {
      expect(await upgrade(app, { origin: FOREIGN })).toBe(403);
    });
  });

  describe('a listed origin', () => {
    it('gets its answer with Access-Control-Allow-Origin, and no credentials', async () => {
      const answer = await postGraphQL(app, { origin: LISTED });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ data: { __typename: 'Query' } });
      expect(answer.headers['access-control-allow-origin']).toBe(LISTED);
      expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
      expect(answer.headers.vary).toMatch(/Origin/);
      expect(answer.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/);
    });

    it('gets its preflight answered: Authorization and Content-Type allowed', async () => {
      const answer = await send(app, 'OPTIONS', '/graphql', {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      });
      expect(answer.status).toBe(204);
      expect(answer.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      const allowed = String(answer.headers['access-control-allow-headers'])
        .toLowerCase()
        .split(/\s*,\s*/);
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type']));
      expect(String(answer.headers['access-control-allow-methods'])).toMatch(/POST/);
      expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
    });

    it('may open a graphql-ws connection', async () => {
      expect(await upgrade(app, { origin: LISTED })).toBe(101);
    });
  });

  describe('the service’s own origin and requests without Origin', () => {
    it('the own origin is answered without CORS headers', async () => {
      const answer = await postGraphQL(app, { origin: `http://127.0.0.1:${app.port}` });
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect(await upgrade(app, { origin: `http://127.0.0.1:${app.port}` })).toBe(101);
    });

    it('a request without Origin is not affected', async () => {
      const answer = await postGraphQL(app);
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect((await send(app, 'GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`, { accept: 'application/json' })).status).toBe(200);
      expect(await upgrade(app, {})).toBe(101);
    });
  });

  describe('Host while listening on loopback', () => {
    it.each(['localhost', '127.0.0.1', '[::1]'])('%s (any port) is answered', async (name) => {
      expect((await postGraphQL(app, { host: `${name}:${app.port}` })).status).toBe(200);
      expect((await postGraphQL(app, { host: `${name}:8080` })).status).toBe(200);
      expect((await postGraphQL(app, { host: name })).status).toBe(200);
    });

    it('another name is refused with 403, on GraphQL, plain routes and the upgrade', async () => {
      const answer = await postGraphQL(app, { host: `rebound.example:${app.port}` });
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).errors[0].message).toContain('ALLOWED_HOSTS');
      expect((await send(app, 'GET', '/graphql', { host: 'rebound.example', accept: 'text/html' })).status).toBe(403);
      expect((await send(app, 'POST', '/events', { host: 'rebound.example', 'content-type': 'application/x-ndjson' }, '{"type":"x"}\n')).status).toBe(403);
      expect(await upgrade(app, { host: `rebound.example:${app.port}` })).toBe(403);
      // An address that is not loopback is another name too.
      expect((await postGraphQL(app, { host: `192.0.2.7:${app.port}` })).status).toBe(403);
    });

    it('/health and /ready are exempt', async () => {
      expect((await send(app, 'GET', '/health', { host: 'rebound.example' })).status).toBe(200);
      expect((await send(app, 'GET', '/ready', { host: 'rebound.example' })).status).toBe(200);
    });
  });
});

describe('ALLOWED_HOSTS', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp('embedded', { ALLOWED_HOSTS: 'cepheus.internal, Dev.Example' });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('lets the listed names through, with any port and in any case', async () => {
    expect((await postGraphQL(app, { host: `cepheus.internal:${app.port}` })).status).toBe(200);
    expect((await postGraphQL(app, { host: 'DEV.example' })).status).toBe(200);
    expect(await upgrade(app, { host: `cepheus.internal:${app.port}` })).toBe(101);
  });

  it('still refuses other names', async () => {
    expect((await postGraphQL(app, { host: 'other.internal' })).status).toBe(403);
  });

  it('a page served under a listed name is same-origin there', async () => {
    expect((await postGraphQL(app, { host: `cepheus.internal:${app.port}`, origin: `http://cepheus.internal:${app.port}` })).status).toBe(200);
  });
});

describe('the guard on an address that is not loopback', () => {
  const guard = createBrowserGuard({ host: '0.0.0.0', corsOrigins: [], allowedHosts: [] });

  it('answers any Host name', () => {
    expect(guard.refusal({ host: 'cepheus.example.com' }, '/graphql')).toBeNull();
  });

  it('still refuses another origin', () => {
    expect(guard.refusal({ host: 'cepheus.example.com', origin: FOREIGN }, '/graphql')?.reason).toBe('origin');
    expect(guard.refusal({ host: 'cepheus.example.com', origin: 'https://cepheus.example.com' }, '/graphql')).toBeNull();
  });

  it('compares host and port with default ports filled in, whatever the scheme', () => {
    expect(originVerdict({ host: 'cepheus.example.com', origin: 'https://cepheus.example.com' }, []).kind).toBe('same');
    expect(originVerdict({ host: 'cepheus.example.com:443', origin: 'https://cepheus.example.com' }, []).kind).toBe('same');
    expect(originVerdict({ host: 'cepheus.example.com:8443', origin: 'https://cepheus.example.com' }, []).kind).toBe('foreign');
    expect(originVerdict({ host: 'cepheus.example.com', origin: 'not an origin' }, []).kind).toBe('foreign');
  });
});

describe.each(backends())('GraphQL bodies (%s)', (backend) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startFreshApp(backend);
  });

  afterAll(async () => {
    await app?.stop();
  });

  const boundary = 'cepheusboundary';
  const refused: [string, string, string][] = [
    ['a form', 'application/x-www-form-urlencoded', `query=${encodeURIComponent('{ __typename }')}`],
    [
      'multipart',
      `multipart/form-data; boundary=${boundary}`,
      `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${QUERY}\r\n--${boundary}--\r\n`,
    ],
    ['text/plain', 'text/plain', QUERY],
    ['application/graphql', 'application/graphql', '{ __typename }'],
  ];
  it.each(refused)('%s body is refused with 415 and a GraphQL error', async (_name, type, body) => {
    const answer = await postGraphQL(app, { 'content-type': type }, body);
    expect(answer.status).toBe(415);
    expect(answer.headers['content-type']).toMatch(/json/);
    expect(JSON.parse(answer.body)).toEqual({
      errors: [{ message: 'A GraphQL request body must be application/json', extensions: { code: 'BAD_USER_INPUT' } }],
    });
  });

  it('a body without a content type is refused with 415', async () => {
    const answer = await send(app, 'POST', '/graphql', { accept: 'application/json' }, QUERY);
    expect(answer.status).toBe(415);
  });

  it('application/json, with or without a charset, is answered', async () => {
    expect((await postGraphQL(app, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect((await postGraphQL(app, { 'content-type': 'application/json;charset=UTF-8' })).status).toBe(200);
  });

  it('POST /events still answers 415 for a form', async () => {
    const answer = await send(app, 'POST', '/events', { 'content-type': 'application/x-www-form-urlencoded' }, 'type=x');
    expect(answer.status).toBe(415);
  });
});
