/**
 * The Content-Security-Policy of GraphiQL and its assets: scripts and workers only from the
 * service itself (no inline script, no eval, no blob: or CDN). Styles may be inline: the
 * editor writes its own style elements and attributes at run time. connect-src 'self' covers
 * fetch to /graphql and the graphql-ws socket on the same host and port.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
