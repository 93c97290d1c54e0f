import type { WebhookActionSpec } from '../rules/spec/index.js';
import { OutboundError, type OutboundHttpClient } from '../outbound/client.js';
import { buildJsonRequest, type JsonRequest } from '../outbound/requestBuilder.js';
import { parseSigningSecret, SIGNING_SECRET_FORMAT, withWebhookHeaders } from '../delivery/signing.js';
import type { Action, ActionContext, ActionOutcome } from './types.js';

export class WebhookAction implements Action<WebhookActionSpec> {
  readonly type = 'webhook';

  /** `signingSecret`: WEBHOOK_SIGNING_SECRET (already checked), used when a spec has no signingSecret of its own. */
  constructor(
    private readonly http: OutboundHttpClient,
    private readonly signingSecret: string | null = null,
  ) {}

  async run(spec: WebhookActionSpec, ctx: ActionContext): Promise<ActionOutcome> {
    const references: Record<string, unknown> = { action_type: 'webhook', endpoint: spec.endpoint, method: spec.method, status_code: null, truncated: false };
    let request: JsonRequest;
    try {
      request = buildJsonRequest({ url: spec.endpoint, method: spec.method, params: spec.params, body: spec.body, headers: spec.headers });
    } catch {
      const message = `the endpoint is not a valid URL after templating: ${JSON.stringify(spec.endpoint)}`;
      ctx.log('ERROR', `${spec.method} ${spec.endpoint} failed: ${message}`, { method: spec.method, url: spec.endpoint });
      return { status: 'FAILED', result: null, references, error: { code: 'WEBHOOK_FAILED', message } };
    }
    references.endpoint = request.url;
    // The spec's own secret (already read from its {{secrets.NAME}}) wins over the service's.
    const secret = spec.signingSecret === undefined ? this.signingSecret : parseSigningSecret(String(spec.signingSecret));
    if (secret === null && spec.signingSecret !== undefined) {
      const message = `signingSecret is not a Standard Webhooks secret: expected ${SIGNING_SECRET_FORMAT}`;
      ctx.log('ERROR', `${spec.method} ${request.url} not sent: ${message}`, { method: spec.method, url: request.url });
      return { status: 'FAILED', result: null, references, error: { code: 'WEBHOOK_FAILED', message } };
    }
    if (secret !== null) ctx.redactor.add(secret);
    request = { ...request, headers: withWebhookHeaders(request.headers, { webhookId: ctx.webhookId, body: request.body, secret, sentAt: new Date() }) };
    const started = performance.now();
    try {
      const response = await this.http.request({ ...request, timeoutMs: spec.timeoutMs });
      const durationMs = Math.round(performance.now() - started);
      references.status_code = response.status;
      references.truncated = response.truncated;
      const result = { status: response.status, body: response.body };
      if (response.status >= 400) {
        const message = `${spec.method} ${request.url} answered ${response.status}`;
        ctx.log('ERROR', message, { method: spec.method, url: request.url, status: response.status, durationMs });
        return { status: 'FAILED', result, references, error: { code: 'WEBHOOK_FAILED', message } };
      }
      ctx.log('INFO', `${spec.method} ${request.url} -> ${response.status}`, {
        method: spec.method,
        url: request.url,
        status: response.status,
        durationMs,
        truncated: response.truncated,
      });
      return { status: 'SUCCESS', result, references };
    } catch (error) {
      const reason = error instanceof OutboundError ? error.message : String(error);
      const message = `${spec.method} ${request.url} failed: ${reason}`;
      ctx.log('ERROR', message, { method: spec.method, url: request.url, reason });
      return { status: 'FAILED', result: null, references, error: { code: 'WEBHOOK_FAILED', message } };
    }
  }
}
