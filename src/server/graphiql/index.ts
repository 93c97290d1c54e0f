import type { IncomingMessage, ServerResponse } from 'node:http';
import { graphiqlAssetRoutes } from './assets.js';
import { renderGraphiQLPage, serveGraphiQLPage, type GraphiQLPageSettings, wantsGraphiQL } from './page.js';

export { CONTENT_SECURITY_POLICY } from './csp.js';

/** GraphiQL: its page on GET of the GraphQL path (Accept: text/html) and its assets under /graphiql/. */
export function createGraphiQL(settings: GraphiQLPageSettings) {
  const html = renderGraphiQLPage(settings);
  return {
    routes: graphiqlAssetRoutes(),
    /** Serves the page when the request asks for it; false otherwise. */
    servePage(req: IncomingMessage, res: ServerResponse, path: string): boolean {
      if (!wantsGraphiQL(req, path, settings.endpoint)) return false;
      serveGraphiQLPage(res, html);
      return true;
    },
  };
}
