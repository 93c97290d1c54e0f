/** A request as webhooks and HTTP APIs describe it, after templating. */
export interface JsonRequestSpec {
  url: string;
  method: string;
  params?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
}

const asQueryValue = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/**
 * GET (and HEAD) send params as the query string; other methods send body (or, without one,
 * params) as JSON. Throws a TypeError when the URL does not parse.
 */
export interface JsonRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export function buildJsonRequest(spec: JsonRequestSpec): JsonRequest {
  const url = new URL(spec.url);
  const headers: Record<string, string> = { ...spec.headers };
  let body: string | undefined;
  if (spec.method === 'GET' || spec.method === 'HEAD') {
    for (const [key, value] of Object.entries(spec.params ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, asQueryValue(item));
      else url.searchParams.append(key, asQueryValue(value));
    }
  } else {
    body = JSON.stringify(spec.body !== undefined ? spec.body : (spec.params ?? {}));
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  return { url: url.toString(), method: spec.method, headers, body };
}
