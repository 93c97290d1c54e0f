import WebSocket from 'ws';

/**
 * Many graphql-ws subscribers in a process of their own, so that receiving does not share the
 * event loop of the servers under test. Kept cheap: raw `ws` sockets speaking the protocol by
 * hand, and of each `next` frame only the marker in its message text is read
 * (`fanout:<message number>:<publish time ms>`); the frame is not parsed as JSON.
 *
 * Driven over IPC by bench/fanout.ts: connect, reset, report, close.
 */

type Command =
  | { cmd: 'connect'; url: string; count: number; query: string; variables: Record<string, unknown> }
  | { cmd: 'reset' }
  | { cmd: 'report'; light?: boolean }
  | { cmd: 'close' };

const MARKER = 'fanout:';
const now = () => performance.timeOrigin + performance.now();

let sockets: WebSocket[] = [];
/** Latency (ms) of every message received since the last reset, and how many each socket got. */
let latencies: number[] = [];
let received = 0;
/** The highest message number every socket has received (for the warm-up probe). */
let perSocketLast: Int32Array = new Int32Array(0);
let errors = 0;

function onFrame(index: number, data: WebSocket.RawData) {
  const text = data.toString();
  const at = text.indexOf(MARKER);
  if (at < 0) {
    if (!text.includes('"connection_ack"')) errors++;
    return;
  }
  const start = at + MARKER.length;
  const colon = text.indexOf(':', start);
  const end = text.indexOf('"', colon);
  const number = Number(text.slice(start, colon));
  const published = Number(text.slice(colon + 1, end));
  latencies.push(now() - published);
  received++;
  if (number > perSocketLast[index]!) perSocketLast[index] = number;
}

function open(url: string, index: number, query: string, variables: Record<string, unknown>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error('connect timed out')), 30_000);
    ws.once('error', reject);
    ws.once('open', () => ws.send('{"type":"connection_init"}'));
    ws.once('message', (first) => {
      clearTimeout(timer);
      if (!first.toString().includes('connection_ack')) return reject(new Error(`expected connection_ack, got ${first.toString().slice(0, 200)}`));
      ws.on('message', (data) => onFrame(index, data));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
      resolve(ws);
    });
  });
}

async function connect(url: string, count: number, query: string, variables: Record<string, unknown>) {
  perSocketLast = new Int32Array(count).fill(-1);
  sockets = new Array(count);
  // A few hundred handshakes at a time: the server's accept backlog is finite.
  const batch = 200;
  for (let start = 0; start < count; start += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_, k) => open(url, start + k, query, variables)));
    opened.forEach((ws, k) => {
      sockets[start + k] = ws;
    });
  }
}

async function close() {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(1000);
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 5000).unref();
        }),
    ),
  );
  sockets = [];
}

process.on('message', (command: Command) => {
  void (async () => {
    try {
      switch (command.cmd) {
        case 'connect':
          await connect(command.url, command.count, command.query, command.variables);
          process.send!({ ok: true });
          break;
        case 'reset':
          latencies = [];
          received = 0;
          errors = 0;
          process.send!({ ok: true });
          break;
        case 'report': {
          let lowest = Number.POSITIVE_INFINITY;
          for (const last of perSocketLast) lowest = Math.min(lowest, last);
          process.send!({ ok: true, received, errors, lowestLast: lowest, latencies: command.light ? [] : latencies });
          break;
        }
        case 'close':
          await close();
          process.send!({ ok: true });
          break;
      }
    } catch (error) {
      process.send!({ ok: false, error: String(error) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
