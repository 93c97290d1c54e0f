import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { sendJson } from './server.js';

/** The exposition text of the service's metrics, and its content type. */
export type RenderMetrics = () => Promise<{ contentType: string; text: string }>;

/** GET /metrics: Prometheus text (SPEC.md, 'Metrics and console'). The key check is the server's, as for every keyed route. */
export function metricsRoute(render: RenderMetrics, logger: Logger) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'GET the metrics from this path' });
    }
    let metrics: Awaited<ReturnType<RenderMetrics>>;
    try {
      metrics = await render();
    } catch (error) {
      logger.warn({ err: error }, 'could not collect the metrics');
      return sendJson(res, 500, { error: 'the metrics could not be collected' });
    }
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(metrics.text), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : metrics.text);
  };
}
