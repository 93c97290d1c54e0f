import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { CONTENT_SECURITY_POLICY } from './csp.js';

const gzipAsync = promisify(gzip);

/** Where GraphiQL's scripts, styles, workers and icon are served. */
export const ASSET_PREFIX = '/graphiql/';

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
  /** Made on the first request that accepts gzip. */
  gzipped?: Promise<Buffer>;
}

type Source = () => Promise<{ type: string; body: Buffer }>;

const javascript = 'text/javascript; charset=utf-8';
const bundle = () => import('@graphql-yoga/render-graphiql/graphiql');
const text =
  (type: string, read: () => Promise<string>): Source =>
  async () => ({ type, body: Buffer.from(await read(), 'utf8') });

/**
 * GraphiQL as render-graphiql ships it (one bundle, its CSS, three Monaco workers and an icon,
 * all as strings), the graphql-ws browser client, and the page's own start script: each a file
 * of its own, so the page needs no inline script and no blob: worker.
 */
const SOURCES: Record<string, Source> = {
  'graphiql.js': text(javascript, async () => (await bundle()).js),
  'graphiql.css': text('text/css; charset=utf-8', async () => (await bundle()).css),
  'editor.worker.js': text(javascript, async () => (await bundle()).editorWorkerService),
  'json.worker.js': text(javascript, async () => (await bundle()).jsonWorker),
  'graphql.worker.js': text(javascript, async () => (await bundle()).graphqlWorker),
  'favicon.ico': async () => {
    const [meta, data] = (await bundle()).favicon.split(',', 2) as [string, string];
    return { type: meta.slice('data:'.length).split(';')[0]!, body: Buffer.from(data, 'base64') };
  },
  // graphql-ws exports no path to its browser build: it sits beside its package.json.
  'graphql-ws.js': async () => ({
    type: javascript,
    body: await readFile(path.join(path.dirname(createRequire(import.meta.url).resolve('graphql-ws/package.json')), 'umd/graphql-ws.min.js')),
  }),
  'start.js': async () => ({ type: javascript, body: await readFile(new URL('./start.js', import.meta.url)) }),
};

/**
 * The asset routes (path -> handler). Each asset is read on its first request and kept;
 * answers carry an ETag and are revalidated (no-cache), so a new version is picked up at once.
 */
export function graphiqlAssetRoutes(): Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> {
  const loaded = new Map<string, Promise<Asset>>();
  const load = (name: string, source: Source) => {
    let asset = loaded.get(name);
    if (!asset) {
      asset = source().then(({ type, body }) => ({ type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }));
      loaded.set(name, asset);
    }
    return asset;
  };
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {};
  for (const [name, source] of Object.entries(SOURCES)) {
    routes[`${ASSET_PREFIX}${name}`] = async (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
        res.end();
        return;
      }
      const asset = await load(name, source);
      const headers: Record<string, string | number> = {
        'content-type': asset.type,
        'cache-control': 'no-cache',
        etag: asset.etag,
        vary: 'Accept-Encoding',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
      };
      if (req.headers['if-none-match'] === asset.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      let body = asset.body;
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && asset.body.length > 1024) {
        asset.gzipped ??= gzipAsync(asset.body);
        body = await asset.gzipped;
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = body.length;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
  }
  return routes;
}
