import type { HttpSpec } from '../rules/spec/index.js';
import { OutboundError, type OutboundHttpClient } from '../outbound/client.js';
import { buildJsonRequest, type JsonRequest } from '../outbound/requestBuilder.js';
import { renderTemplates, secretNamesIn } from '../actions/templates.js';
import type { Redactor } from '../secrets/redactor.js';
import type { SecretReader } from '../secrets/vault.js';

export type HttpApiResult =
  | { ok: true; output: unknown }
  | { ok: false; code: 'HTTP_FAILED' | 'HTTP_BLOCKED' | 'SECRET_NOT_FOUND'; message: string; output: unknown };

/**
 * Runs an HTTP definition: the templated request through the guarded client; status >= 400 fails
 * it. Its secrets are read now and handed to the run's redactor.
 */
export async function runHttpApi(
  http: OutboundHttpClient,
  spec: HttpSpec,
  params: unknown,
  input: unknown,
  timeoutMs: number,
  secrets: { reader: SecretReader; redactor: Redactor },
): Promise<HttpApiResult> {
  const lookup = await secrets.reader.lookup(secretNamesIn(spec), secrets.redactor);
  if (!lookup.ok) return { ok: false, code: 'SECRET_NOT_FOUND', message: lookup.message, output: null };
  const rendered = renderTemplates(spec, { payload: null, params, input, secrets: lookup.values }) as HttpSpec;
  let request: JsonRequest;
  try {
    request = buildJsonRequest({ url: rendered.url, method: rendered.method, params: rendered.params, body: rendered.body, headers: rendered.headers });
  } catch {
    return { ok: false, code: 'HTTP_FAILED', message: `the url is not a valid URL after templating: ${JSON.stringify(rendered.url)}`, output: null };
  }
  try {
    const response = await http.request({ ...request, timeoutMs });
    const output = { status: response.status, headers: response.headers, body: response.body };
    if (response.status >= 400) return { ok: false, code: 'HTTP_FAILED', message: `${request.method} ${request.url} answered ${response.status}`, output };
    return { ok: true, output };
  } catch (error) {
    const blocked = error instanceof OutboundError && error.kind === 'blocked';
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, code: blocked ? 'HTTP_BLOCKED' : 'HTTP_FAILED', message: `${request.method} ${request.url} failed: ${reason}`, output: null };
  }
}
