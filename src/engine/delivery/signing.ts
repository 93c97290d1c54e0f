import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers of a webhook request (SPEC.md, 'Delivery'): `webhook-id`,
 * `webhook-timestamp` and, with a signing secret, `webhook-signature` (`v1,` and the base64
 * HMAC-SHA256 of `id.timestamp.body`), signed by the standardwebhooks library itself so any
 * receiver's library agrees with it.
 */

/** The headers the service owns on every webhook request, lower-case; a spec may not set them. */
export const WEBHOOK_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/** How a signing secret is written, for error messages (never the value itself). */
export const SIGNING_SECRET_FORMAT = 'whsec_ followed by the base64 of 24 to 64 random bytes (such as "whsec_" + openssl rand -base64 32)';

const PREFIX = 'whsec_';
/** Standard base64 with its padding, as the library decodes it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** A signing secret as written (`whsec_...`, surrounding whitespace removed), or null when it is not one. */
export function parseSigningSecret(value: string): string | null {
  const text = value.trim();
  if (!text.startsWith(PREFIX)) return null;
  const encoded = text.slice(PREFIX.length);
  if (encoded === '' || !BASE64.test(encoded)) return null;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= MIN_KEY_BYTES && bytes <= MAX_KEY_BYTES ? text : null;
}

/** True when the header name is one of WEBHOOK_HEADERS (any case). */
export const isWebhookHeader = (name: string): boolean => (WEBHOOK_HEADERS as readonly string[]).includes(name.trim().toLowerCase());

export interface SigningInput {
  /** The id of the execution that first sent this webhook. */
  webhookId: string;
  /** The exact body sent; undefined (a GET) signs the empty string. */
  body: string | undefined;
  /** A secret parseSigningSecret accepted, or null to send unsigned. */
  secret: string | null;
  sentAt: Date;
}

/** The Standard Webhooks headers of one request. */
export function webhookHeaders({ webhookId, body, secret, sentAt }: SigningInput): Record<string, string> {
  const headers: Record<string, string> = {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
  };
  if (secret !== null) headers['webhook-signature'] = new Webhook(secret).sign(webhookId, sentAt, body ?? '');
  return headers;
}

/** The request's headers with the Standard Webhooks ones in place of any of the same name (any case). */
export function withWebhookHeaders(headers: Record<string, string>, input: SigningInput): Record<string, string> {
  const kept = Object.entries(headers).filter(([name]) => !isWebhookHeader(name));
  return { ...Object.fromEntries(kept), ...webhookHeaders(input) };
}
