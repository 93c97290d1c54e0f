/**
 * What the log holds (SPEC.md, 'Limits'): refused requests and WebSocket messages never write
 * stack traces (at most one line, at WARN or below); database errors never bring their
 * statement's parameters; a body over the cap is 413 with PAYLOAD_TOO_LARGE. The app runs with
 * the service's own logger (createLogger), writing to a stream the test reads.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/logger.js';
import { poll } from '../support/wait.js';
import { createRule } from '../support/rules.js';
import { backends, startFreshApp } from '../support/harness.js';

type App = Awaited<ReturnType<typeof startFreshApp>>;

const SECRET = 'Bearer s3cret-token';
const MAX_REQUEST_BYTES = 4096;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** Every line the logger wrote, parsed. */
class CapturedLog extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString('utf8');
    done();
  }
  lines(from = 0): LogLine[] {
    return this.text
      .slice(from)
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as LogLine);
  }
}

const hasStack = (line: LogLine) => /"stack"|\n\s+at /.test(JSON.stringify(line)) || JSON.stringify(line).includes('    at ');

/** Sends `data` on a graphql-transport-ws connection and resolves with the close code the server chose. */
function closeCodeAfter(url: string, send: (ws: WebSocket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    ws.on('error', () => undefined);
    ws.on('open', () => send(ws));
    ws.on('close', (code) => resolve(code));
    setTimeout(() => reject(new Error('the server did not close the connection')), 10_000).unref();
  });
}

describe.each(backends())('the log (%s)', (backend) => {
  let app: App;
  let log: CapturedLog;

  beforeAll(async () => {
    log = new CapturedLog();
    const logger = createLogger({ logLevel: 'debug', logPretty: false }, log);
    app = await startFreshApp(backend, { MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) }, { logger });
  });

  afterAll(async () => {
    await app?.stop();
  });

  it('a failing insert logs its error code and constraint, never its parameters, nor a stack', async () => {
    await app.app.database.sql.query(`ALTER TABLE rules ADD CONSTRAINT test_refused_name CHECK (name NOT LIKE 'refused%')`);
    const from = log.text.length;
    const response = await app.gql(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
      input: {
        name: `refused ${randomUUID()}`,
        triggerSpec: { conditions: [] },
        actionSpec: { type: 'webhook', endpoint: 'http://127.0.0.1:9/hook', headers: { Authorization: SECRET } },
      },
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(response)).not.toContain('s3cret');

    // An event the database refuses, carrying the header value in its payload.
    await app.app.database.sql.query(`ALTER TABLE executions ADD CONSTRAINT test_no_boom CHECK (payload->>'boom' IS NULL)`);
    const tag = randomUUID();
    await createRule(app, {
      triggerSpec: { conditions: [{ field: 'tag', op: '==', value: tag }] },
      actionSpec: { type: 'webhook', endpoint: 'http://127.0.0.1:9/hook' },
    });
    const events = await fetch(`${app.base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: SECRET },
      body: JSON.stringify([{ tag, boom: true, authorization: SECRET }]),
    });
    expect(events.status).toBe(200);
    await events.text();

    const lines = await poll(
      async () => log.lines(from),
      (l) => l.filter((line) => line.level >= 50).length >= 2,
    );
    expect(log.text).not.toContain('s3cret');
    const errors = lines.filter((line) => line.level >= 50);
    for (const line of errors) expect(hasStack(line), JSON.stringify(line)).toBe(false);
    expect(errors.map((line) => line.err)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: '23514', constraint: 'test_refused_name', table: 'rules' }),
        expect.objectContaining({ code: '23514', constraint: 'test_no_boom', table: 'executions' }),
      ]),
    );
  });

  it('a body over the cap is 413 PAYLOAD_TOO_LARGE, announced or chunked, and logs no error', async () => {
    const from = log.text.length;
    const big = JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(MAX_REQUEST_BYTES) } });
    const announced = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(announced.status).toBe(413);
    expect((await announced.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 1024) controller.enqueue(bytes.slice(at, at + 1024));
        controller.close();
      },
    });
    const chunked = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    const body = await chunked.json();
    expect(body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.errors[0].message).toBe(`Request body is larger than ${MAX_REQUEST_BYTES} bytes`);

    for (const line of log.lines(from)) {
      expect(line.level, JSON.stringify(line)).toBeLessThanOrEqual(40);
      expect(hasStack(line), JSON.stringify(line)).toBe(false);
    }
  });

  it('refused requests and WebSocket messages write no stack trace and nothing at ERROR', async () => {
    const consoleError = vi.spyOn(console, 'error');
    const consoleWarn = vi.spyOn(console, 'warn');
    try {
      const from = log.text.length;
      const refusedRequests = [
        { headers: { 'content-type': 'application/json' }, body: '{"query": ' },
        { headers: { 'content-type': 'application/json' }, body: '{"query": "{ nope }"}' },
        { headers: { 'content-type': 'application/json' }, body: '{"query": "mutation { triggerRule(ruleId: \\"x\\", payload: {v: 1e400}) { id } }"}' },
        { headers: { 'content-type': 'text/plain' }, body: 'hello' },
      ];
      for (const request of refusedRequests) {
        const response = await fetch(app.url, { method: 'POST', ...request });
        expect(response.status).toBeLessThan(500);
        await response.text();
      }
      // Over the cap, not UTF-8, not JSON: ws or graphql-ws close the connection each time.
      expect(await closeCodeAfter(app.url, (ws) => ws.send('x'.repeat(MAX_REQUEST_BYTES + 1)))).toBe(1009);
      expect(await closeCodeAfter(app.url, (ws) => ws.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false }))).toBe(1007);
      expect(await closeCodeAfter(app.url, (ws) => ws.send('{not json'))).toBe(4400);

      const lines = log.lines(from);
      for (const line of lines) {
        expect(line.level, JSON.stringify(line)).toBeLessThanOrEqual(40);
        expect(hasStack(line), JSON.stringify(line)).toBe(false);
      }
      expect(consoleError).not.toHaveBeenCalled();
      expect(consoleWarn).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
      consoleWarn.mockRestore();
    }
  });

  it('a POST /events whose client goes away mid-body logs one debug line, no error', async () => {
    const from = log.text.length;
    const socket = connect(app.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    await new Promise((resolve) =>
      socket.write(`POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"a":`, resolve),
    );
    socket.destroy();
    await poll(
      async () => log.lines(from),
      (lines) => lines.some((line) => line.msg.startsWith('POST /events: the client went away')),
    );
    for (const line of log.lines(from)) {
      expect(line.level, JSON.stringify(line)).toBeLessThanOrEqual(40);
      expect(hasStack(line), JSON.stringify(line)).toBe(false);
    }
  });

  it('header values, bodies and statement parameters are redacted whoever logs them', () => {
    const from = log.text.length;
    app.app.logger.warn(
      { req: { headers: { authorization: SECRET } }, headers: { cookie: SECRET }, request: { body: SECRET, params: [SECRET] }, variables: { token: SECRET } },
      'a line with secrets',
    );
    const [line] = log.lines(from);
    expect(line?.msg).toBe('a line with secrets');
    expect(log.text.slice(from)).not.toContain('s3cret');
  });
});
