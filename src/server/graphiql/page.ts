import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';
import { ASSET_PREFIX } from './assets.js';
import { CONTENT_SECURITY_POLICY } from './csp.js';
import { DEFAULT_QUERY } from './defaultQuery.js';

export interface GraphiQLPageSettings {
  title: string;
  /** Where GraphQL is served (HTTP and graphql-ws). */
  endpoint: string;
  authMode: 'OPEN' | 'KEYS';
}

/** What start.js reads from the page: the endpoint, and the options of yoga's GraphiQL. */
export function pageData(settings: GraphiQLPageSettings): { endpoint: string; graphiql: GraphiQLOptions } {
  const keys = settings.authMode === 'KEYS';
  return {
    endpoint: settings.endpoint,
    graphiql: {
      title: settings.title,
      subscriptionsProtocol: 'WS',
      defaultQuery: DEFAULT_QUERY,
      // Headers (a key) are kept in the tab's memory only; start.js also strips them from
      // history and favourites before anything is written to localStorage.
      shouldPersistHeaders: false,
      ...(keys ? { defaultHeaders: '{\n  "Authorization": "Bearer "\n}', defaultEditorToolsVisibility: 'headers' } : {}),
    },
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page: markup, a JSON data block (not run) and same-origin scripts; nothing inline runs. */
export function renderGraphiQLPage(settings: GraphiQLPageSettings): string {
  const data = JSON.stringify(pageData(settings)).replace(/</g, '\\u003c');
  const asset = (name: string) => `${ASSET_PREFIX}${name}`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(settings.title)}</title>
    <link rel="icon" href="${asset('favicon.ico')}" />
    <link rel="stylesheet" href="${asset('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-data">${data}</script>
    <script src="${asset('graphql-ws.js')}"></script>
    <script src="${asset('start.js')}"></script>
    <script src="${asset('graphiql.js')}"></script>
  </body>
</html>
`;
}

/** GET of the GraphQL path by a browser (Accept: text/html), as yoga tells a GraphiQL request. */
export function wantsGraphiQL(req: IncomingMessage, path: string, endpoint: string): boolean {
  return req.method === 'GET' && (path === endpoint || path === `${endpoint}/`) && String(req.headers.accept ?? '').includes('text/html');
}

export function serveGraphiQLPage(res: ServerResponse, html: string) {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-cache',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}
