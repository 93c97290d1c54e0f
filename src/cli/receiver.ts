/**
 * `npm run receiver [-- --port 4001] [--host 127.0.0.1] [--status 200]`: a local webhook receiver
 * for trying rules out. It prints every request it gets (method, path, the headers a webhook
 * carries, the body as indented JSON) and answers with `--status` (default 200) and a small JSON
 * body. The port also comes from RECEIVER_PORT; 0 picks a free one. Only node:http, no database.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run receiver [-- --port 4001] [--host 127.0.0.1] [--status 200]';

/** The headers worth showing: what Cepheus sends with a webhook, and tracing. */
const HEADERS_SHOWN = ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'traceparent', 'tracestate', 'idempotency-key'];

const MAX_BODY_BYTES = 1_048_576;

class UsageError extends Error {}

function wholeNumber(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UsageError(`${name}: expected a number from ${min} to ${max}, got "${text}"`);
  return n;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, status: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) throw new UsageError('');
  const portText = values.port ?? (env.RECEIVER_PORT || '4001');
  return {
    port: wholeNumber(portText, values.port === undefined ? 'RECEIVER_PORT' : '--port', 0, 65535),
    host: values.host ?? '127.0.0.1',
    status: wholeNumber(values.status ?? '200', '--status', 200, 599),
  };
}

async function readBody(req: IncomingMessage): Promise<{ text: string; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size < MAX_BODY_BYTES) chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return { text: text.slice(0, MAX_BODY_BYTES), cut: size > MAX_BODY_BYTES };
}

/** The body as indented JSON when it is JSON, else as received. */
function showBody(text: string): string {
  if (text === '') return '(no body)';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function describe(req: IncomingMessage, body: { text: string; cut: boolean }): string {
  const lines = [`${new Date().toISOString()}  ${req.method} ${req.url}`];
  for (const name of HEADERS_SHOWN) {
    const value = req.headers[name];
    if (value !== undefined) lines.push(`  ${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
  }
  lines.push(
    showBody(body.text)
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
  );
  if (body.cut) lines.push(`  ... (cut at ${MAX_BODY_BYTES} bytes)`);
  return `${lines.join('\n')}\n`;
}

function main() {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    const message = error instanceof UsageError || error instanceof TypeError ? error.message : String(error);
    process.stderr.write(message ? `${message}\n${USAGE}\n` : `${USAGE}\n`);
    process.exit(message ? 2 : 0);
  }
  let received = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    received += 1;
    process.stdout.write(describe(req, body));
    const answer = JSON.stringify({ received: true, n: received });
    res.writeHead(options.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    process.stderr.write(`receiver: cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}\n`);
    process.exit(1);
  });
  server.listen(options.port, options.host, () => {
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    process.stdout.write(`receiver listening on http://${host}:${port} (answers ${options.status}); Ctrl-C stops it\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main();
