import { createServer } from 'node:http';

/**
 * A webhook receiver for the delivery benchmarks, in a process of its own. `first-fails`
 * answers 503 to the first request of each `webhook-id` and 200 to the next ones;
 * `always-fails` answers 503 to every request.
 */
const mode = process.argv[2] === 'always-fails' ? 'always-fails' : 'first-fails';
const seen = new Set<string>();
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = String(req.headers['webhook-id'] ?? '');
    const fail = mode === 'always-fails' || !seen.has(id);
    if (mode === 'first-fails') seen.add(id);
    res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json', 'content-length': fail ? '12' : '11' });
    res.end(fail ? '{"ok":false}' : '{"ok":true}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('disconnect', () => process.exit(0));
