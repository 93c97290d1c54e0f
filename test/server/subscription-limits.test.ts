import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { backends, ok, startFreshApp, type TestApp } from '../support/harness.js';
import { subscribeWs, wsClient, wsUrlOf, type LiveSubscription } from '../support/ws.js';

/**
 * The bounds of graphql-ws (SPEC.md "Limits", "Error codes"): subscriptions per connection,
 * connections per instance, and how far a subscriber may fall behind, against a real server and
 * real sockets, one of them a client that stops reading.
 */

const LOGS = 'subscription { actionLogs { executionId seq message } }';
const EXECUTE = 'mutation($id: ID!, $params: JSON) { executeApi(apiId: $id, params: $params) { id status logs { seq } } }';

interface LogLine {
  executionId: string;
  seq: number;
  message: string;
}

/** A script that writes `params.lines` log lines of `params.pad` characters each. */
const LOGGING_SCRIPT = `function main(params, input, ctx) {
  const pad = 'x'.repeat(params.pad || 0);
  for (let i = 1; i <= params.lines; i++) ctx.log('line ' + i + ' ' + pad);
  return params.lines;
}`;

async function createLoggingApi(app: TestApp): Promise<string> {
  const data = ok(
    await app.gql('mutation($input: CreateApiDefinitionInput!) { createApiDefinition(input: $input) { id } }', {
      input: { name: `logger ${randomUUID().slice(0, 8)}`, kind: 'SCRIPT', source: LOGGING_SCRIPT },
    }),
  );
  return data.createApiDefinition.id as string;
}

async function runScript(app: TestApp, apiId: string, lines: number, pad = 0): Promise<string> {
  const run = ok(await app.gql(EXECUTE, { id: apiId, params: { lines, pad } })).executeApi;
  expect(run.status).toBe('SUCCESS');
  expect(run.logs).toHaveLength(lines);
  return run.id as string;
}

/** Runs a one-line script until every subscription has seen a line of it: they are then in place. */
async function whenLive(app: TestApp, apiId: string, subscriptions: LiveSubscription<LogLine>[]) {
  for (let attempt = 0; ; attempt++) {
    const runId = await runScript(app, apiId, 1);
    try {
      await Promise.all(subscriptions.map((s) => s.waitFor((lines) => lines.some((l) => l.executionId === runId), 1000)));
      return;
    } catch (error) {
      if (attempt >= 9) throw error;
    }
  }
}

interface RawMessage {
  id?: string;
  type: string;
  payload?: any;
}

/**
 * A graphql-ws client on a bare `ws` socket, so that the test can stop reading from the socket
 * itself (the server's send buffer then fills) and later read again.
 */
async function rawClient(httpUrl: string) {
  const ws = new WebSocket(wsUrlOf(httpUrl), 'graphql-transport-ws');
  const messages: RawMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as RawMessage);
    for (const waiter of [...waiters]) waiter();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const waitFor = (predicate: (messages: RawMessage[]) => boolean, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(messages)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`raw client: not within ${timeoutMs} ms; last messages ${JSON.stringify(messages.slice(-3)).slice(0, 1000)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  ws.send(JSON.stringify({ type: 'connection_init' }));
  await waitFor((m) => m.some((x) => x.type === 'connection_ack'));
  const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    ws,
    messages,
    waitFor,
    subscribe(id: string, query: string) {
      ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    },
    /** Stops reading: what the server sends piles up in the kernel's buffers, then in the server's. */
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close: () => ws.terminate(),
  };
}

/** Opens a WebSocket; resolves with the HTTP status of a refused upgrade, or 101 once it is open. */
function upgradeStatus(httpUrl: string): Promise<{ status: number; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrlOf(httpUrl), 'graphql-transport-ws');
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, ws });
      res.resume();
    });
    ws.once('error', (error) => reject(error));
  });
}

describe.each(backends())('graphql-ws limits (%s)', (backend) => {
  describe('WS_MAX_SUBSCRIPTIONS', () => {
    let app: TestApp;
    let apiId: string;
    let client: Client;
    beforeAll(async () => {
      app = await startFreshApp(backend, { WS_MAX_SUBSCRIPTIONS: '3' });
      apiId = await createLoggingApi(app);
      client = wsClient(app.url);
    });
    afterAll(async () => {
      await client?.dispose();
      await app?.stop();
    });

    it('one more on a connection gets TOO_MANY_SUBSCRIPTIONS, the others go on, and a completed one frees its slot', { timeout: 60_000 }, async () => {
      const open = [subscribeWs<LogLine>(client, LOGS), subscribeWs<LogLine>(client, LOGS), subscribeWs<LogLine>(client, LOGS)];
      await whenLive(app, apiId, open);
      const refused = await subscribeWs<LogLine>(client, LOGS).done;
      expect(refused.completed).toBe(false);
      expect(refused.errors).toHaveLength(1);
      expect(refused.errors[0]!.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
      expect(refused.errors[0]!.message).toContain('3');

      // The three are still live.
      const runId = await runScript(app, apiId, 2);
      for (const subscription of open) await subscription.waitFor((lines) => lines.filter((l) => l.executionId === runId).length === 2);
      // Another connection has its own count.
      const elsewhere = subscribeWs<LogLine>(app.url, LOGS);
      await whenLive(app, apiId, [elsewhere]);
      elsewhere.dispose();

      // Completing one frees its slot: the next one on the same connection is accepted.
      open[0]!.dispose();
      const next = subscribeWs<LogLine>(client, LOGS);
      await whenLive(app, apiId, [next, open[1]!, open[2]!]);
      expect(next.errors).toEqual([]);
      for (const subscription of [next, open[1]!, open[2]!]) subscription.dispose();
    });
  });

  describe('WS_MAX_CONNECTIONS', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startFreshApp(backend, { WS_MAX_CONNECTIONS: '2' });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('one more connection is refused at the upgrade with 503, and a closed one frees its place', async () => {
      const first = await upgradeStatus(app.url);
      const second = await upgradeStatus(app.url);
      expect([first.status, second.status]).toEqual([101, 101]);
      const third = await upgradeStatus(app.url);
      expect(third.status).toBe(503);
      // HTTP is still served.
      expect(ok(await app.gql('{ __typename }')).__typename).toBe('Query');

      await new Promise<void>((resolve) => {
        first.ws.once('close', () => resolve());
        first.ws.close();
      });
      // The server counts the connection out when its socket closes, which may come a little later.
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 101; attempt++) {
        const again = await upgradeStatus(app.url);
        status = again.status;
        if (status === 101) again.ws.close();
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(101);
      second.ws.close();
    });
  });

  describe('SUBSCRIPTION_BUFFER', () => {
    // A script's lines reach the bus in bursts of up to a whole run: the buffer must hold one.
    const BUFFER = 1500;
    const LINES = 1000;
    const RUNS = 3;
    const SLOW_SUBSCRIPTIONS = 20;
    let app: TestApp;
    let apiId: string;
    beforeAll(async () => {
      app = await startFreshApp(backend, { SUBSCRIPTION_BUFFER: String(BUFFER) });
      apiId = await createLoggingApi(app);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('a subscriber that stops reading is ended with SLOW_CONSUMER; another socket gets every line and queries are served', { timeout: 180_000 }, async () => {
      const slow = await rawClient(app.url);
      const normal = subscribeWs<LogLine>(app.url, LOGS, {}, 120_000);
      try {
        const ids = Array.from({ length: SLOW_SUBSCRIPTIONS }, (_, i) => `slow-${i}`);
        for (const id of ids) slow.subscribe(id, LOGS);
        const linesOf = (id: string, runId: string) =>
          slow.messages.filter((x) => x.id === id && x.type === 'next' && x.payload.data.actionLogs.executionId === runId);
        // Every subscription is in place once each has seen a line of a probe run.
        for (let attempt = 0; ; attempt++) {
          const probe = await runScript(app, apiId, 1);
          try {
            await normal.waitFor((lines) => lines.some((l) => l.executionId === probe), 1000);
            await slow.waitFor(() => ids.every((id) => linesOf(id, probe).length === 1), 1000);
            break;
          } catch (error) {
            if (attempt >= 9) throw error;
          }
        }

        // 20 subscriptions x 3,000 lines of 4 KiB: far more than the socket's buffers hold.
        slow.pause();
        const runIds: string[] = [];
        for (let run = 0; run < RUNS; run++) {
          const runId = await runScript(app, apiId, LINES, 4000);
          runIds.push(runId);
          await normal.waitFor((lines) => lines.filter((l) => l.executionId === runId).length === LINES, 60_000);
          const received = normal.events.filter((l) => l.executionId === runId).map((l) => l.seq);
          expect(received).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
          // The service answers meanwhile.
          expect(ok(await app.gql('{ __typename }')).__typename).toBe('Query');
        }
        expect(normal.errors).toEqual([]);

        // Reading again, the slow client finds each of its subscriptions ended with SLOW_CONSUMER.
        slow.resume();
        await slow.waitFor((m) => ids.every((id) => m.some((x) => x.id === id && x.type === 'error')), 60_000);
        for (const id of ids) {
          const error = slow.messages.find((x) => x.id === id && x.type === 'error')!;
          expect(error.payload).toHaveLength(1);
          expect(error.payload[0].extensions.code).toBe('SLOW_CONSUMER');
          expect(error.payload[0].message).toContain(String(BUFFER));
          // Ended, not caught up: it never got the last run.
          expect(linesOf(id, runIds.at(-1)!).length).toBeLessThan(LINES);
        }
        // The socket itself stays open and usable.
        slow.subscribe('after', LOGS);
        for (let attempt = 0; ; attempt++) {
          const after = await runScript(app, apiId, 1);
          try {
            await slow.waitFor(() => linesOf('after', after).length === 1, 1000);
            break;
          } catch (error) {
            if (attempt >= 9) throw error;
          }
        }
      } finally {
        slow.close();
        normal.dispose();
      }
    });
  });
});
