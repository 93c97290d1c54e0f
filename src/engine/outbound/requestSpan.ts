import { endSpan, inSpan, startSpan, withTraceHeaders, type Attributes } from '../../observability/spans.js';
import type { OutboundRequest, OutboundResponse } from './client.js';

/** Where a call goes, as HTTP client span attributes: the URL without its query string and user info (they may hold secrets). */
function target(req: OutboundRequest): Attributes {
  const attributes: Attributes = { 'http.request.method': req.method.toUpperCase() };
  try {
    const url = new URL(req.url);
    attributes['url.full'] = `${url.origin}${url.pathname}`;
    attributes['server.address'] = url.hostname;
    attributes['server.port'] = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  } catch {
    // Not a URL: the client refuses it, and the span says only the method.
  }
  return attributes;
}

/**
 * An outbound call in an HTTP client span (OpenTelemetry semantic conventions), sent with the
 * span's W3C `traceparent`, so the receiver can continue the trace. Only called when tracing is on.
 */
export async function tracedRequest(req: OutboundRequest, send: (req: OutboundRequest) => Promise<OutboundResponse>): Promise<OutboundResponse> {
  const span = startSpan(req.method.toUpperCase(), { kind: 'client', attributes: target(req) });
  try {
    const response = await inSpan(span, () => send({ ...req, headers: withTraceHeaders(req.headers) }));
    endSpan(span, { 'http.response.status_code': response.status }, response.status >= 400 ? String(response.status) : null);
    return response;
  } catch (error) {
    const kind = (error as { kind?: string }).kind ?? 'network';
    endSpan(span, { 'error.type': kind }, kind);
    throw error;
  }
}
