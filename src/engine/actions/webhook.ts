import type { DeliveryAttempt } from '../../entities/index.js';
import type { Clock } from '../../shared/clock.js';
import { nextAttemptAt, retryAfterMs } from '../delivery/backoff.js';
import type { WebhookActionSpec } from '../rules/spec/index.js';
import { OutboundError, type OutboundHttpClient } from '../outbound/client.js';
import { buildJsonRequest, type JsonRequest } from '../outbound/requestBuilder.js';
import { parseSigningSecret, SIGNING_SECRET_FORMAT, withWebhookHeaders } from '../delivery/signing.js';
import type { Action, ActionContext, ActionOutcome } from './types.js';

/** An attempt's message holds at most this much of the answer's body. */
const ATTEMPT_BODY_BYTES = 1024;

/** At most `bytes` of a text's UTF-8, cut on a character boundary. */
function head(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = Buffer.from(text).subarray(0, bytes).toString('utf8');
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return `${out}…`;
}

const bodyText = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

/** How an attempt failed, and whether the failure is worth another attempt. */
interface Failure {
  httpStatus: number | null;
  /** What happened, for the log line, the attempt and the error. */
  reason: string;
  /** The answer's body, when one came. */
  body?: string;
  retryable: boolean;
  /** A `Retry-After` the answer asked for, in milliseconds. */
  retryAfterMs: number | null;
}

export class WebhookAction implements Action<WebhookActionSpec> {
  readonly type = 'webhook';

  /** `signingSecret`: WEBHOOK_SIGNING_SECRET (already checked), used when a spec has no signingSecret of its own. */
  constructor(
    private readonly http: OutboundHttpClient,
    private readonly clock: Clock,
    private readonly signingSecret: string | null = null,
  ) {}

  async run(spec: WebhookActionSpec, ctx: ActionContext): Promise<ActionOutcome> {
    const at = this.clock.now();
    const references: Record<string, unknown> = { action_type: 'webhook', endpoint: spec.endpoint, method: spec.method, status_code: null, truncated: false };
    let request: JsonRequest;
    try {
      request = buildJsonRequest({ url: spec.endpoint, method: spec.method, params: spec.params, body: spec.body, headers: spec.headers });
    } catch {
      const reason = `failed: the endpoint is not a valid URL after templating: ${JSON.stringify(spec.endpoint)}`;
      return this.failed(spec, ctx, at, 0, spec.endpoint, references, null, { httpStatus: null, reason, retryable: false, retryAfterMs: null });
    }
    references.endpoint = request.url;
    // The spec's own secret (already read from its {{secrets.NAME}}) wins over the service's.
    const secret = spec.signingSecret === undefined ? this.signingSecret : parseSigningSecret(String(spec.signingSecret));
    if (secret === null && spec.signingSecret !== undefined) {
      const reason = `not sent: signingSecret is not a Standard Webhooks secret: expected ${SIGNING_SECRET_FORMAT}`;
      return this.failed(spec, ctx, at, 0, request.url, references, null, { httpStatus: null, reason, retryable: false, retryAfterMs: null });
    }
    if (secret !== null) ctx.redactor.add(secret);
    // Each attempt is signed afresh: its own webhook-timestamp, the same webhook-id.
    request = { ...request, headers: withWebhookHeaders(request.headers, { webhookId: ctx.webhookId, body: request.body, secret, sentAt: this.clock.now() }) };
    const started = performance.now();
    try {
      const response = await this.http.request({ ...request, timeoutMs: spec.timeoutMs });
      const durationMs = Math.round(performance.now() - started);
      references.status_code = response.status;
      references.truncated = response.truncated;
      const result = { status: response.status, body: response.body };
      if (response.status >= 400) {
        const retryable = (spec.retry?.retryOn ?? []).includes(response.status);
        return this.failed(spec, ctx, at, durationMs, request.url, references, result, {
          httpStatus: response.status,
          reason: `answered ${response.status}`,
          body: bodyText(response.body),
          retryable,
          retryAfterMs: retryable ? retryAfterMs(response.headers['retry-after'], this.clock.now().getTime()) : null,
        });
      }
      ctx.log('INFO', `${spec.method} ${request.url} -> ${response.status}`, {
        method: spec.method,
        url: request.url,
        status: response.status,
        durationMs,
        truncated: response.truncated,
        ...(ctx.attempt > 1 ? { attempt: ctx.attempt } : {}),
      });
      const attempt: DeliveryAttempt = {
        number: ctx.attempt,
        at: at.toISOString(),
        durationMs,
        httpStatus: response.status,
        errorCode: null,
        message: `answered ${response.status}`,
      };
      return { status: 'SUCCESS', result, references, delivery: { attempt, retryAt: null } };
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const kind = error instanceof OutboundError ? error.kind : 'network';
      const reason = `failed: ${error instanceof OutboundError ? error.message : String(error)}`;
      // A refusal by the outbound guard (or an unsendable request) fails the same way every time.
      const retryable = kind === 'timeout' || kind === 'network';
      return this.failed(spec, ctx, at, durationMs, request.url, references, null, { httpStatus: null, reason, retryable, retryAfterMs: null });
    }
  }

  /**
   * A failed attempt: RETRYING with the time of the next when the failure is worth another and
   * the policy has attempts left (a WARN line), else the execution's failure (an ERROR line).
   */
  private failed(
    spec: WebhookActionSpec,
    ctx: ActionContext,
    at: Date,
    durationMs: number,
    url: string,
    references: Record<string, unknown>,
    result: unknown,
    failure: Failure,
  ): ActionOutcome {
    const policy = spec.retry;
    const retryAt = failure.retryable ? nextAttemptAt(policy, ctx.attempt, this.clock.now(), failure.retryAfterMs) : null;
    const message = `${spec.method} ${url} ${failure.reason}`;
    const data = {
      method: spec.method,
      url,
      ...(failure.httpStatus === null ? { reason: failure.reason.replace(/^failed: /, '') } : { status: failure.httpStatus, durationMs }),
    };
    if (retryAt) {
      const of = policy ? ` of ${policy.maxAttempts}` : '';
      ctx.log('WARN', `${message} (attempt ${ctx.attempt}${of}); next attempt at ${retryAt.toISOString()}`, {
        ...data,
        attempt: ctx.attempt,
        nextAttemptAt: retryAt.toISOString(),
      });
    } else ctx.log('ERROR', message, ctx.attempt > 1 ? { ...data, attempt: ctx.attempt } : data);
    const attempt: DeliveryAttempt = {
      number: ctx.attempt,
      at: at.toISOString(),
      durationMs,
      httpStatus: failure.httpStatus,
      errorCode: 'WEBHOOK_FAILED',
      message: failure.body === undefined ? failure.reason : `${failure.reason}: ${head(failure.body, ATTEMPT_BODY_BYTES)}`,
    };
    return { status: 'FAILED', result, references, error: { code: 'WEBHOOK_FAILED', message }, delivery: { attempt, retryAt } };
  }
}
