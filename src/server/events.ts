import type { IncomingMessage, ServerResponse } from 'node:http';
import { MAX_EVENTS_PER_CALL, type BatchResult } from '../engine/index.js';
import type { Principal } from '../access/principal.js';
import type { RateRefusal } from '../access/rateLimit/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../services/idempotency.js';
import { sendJson } from './server.js';

type Refused = BatchResult['refused'];

export type PublishBatch = (events: { index: number; event: unknown }[], source: string | null, refused: Refused) => Promise<BatchResult>;

class TooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw new TooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** NDJSON: one event a line; a line that does not parse is refused on its own. */
function parseNdjson(text: string): { parsed: { index: number; event: unknown }[]; refused: Refused } {
  const parsed: { index: number; event: unknown }[] = [];
  const refused: Refused = [];
  let index = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      parsed.push({ index, event: JSON.parse(line) });
    } catch (error) {
      refused.push({ index, reason: `line ${index + 1} is not JSON: ${(error as Error).message}` });
    }
    index++;
  }
  return { parsed, refused };
}

const problem = (res: ServerResponse, status: number, message: string) =>
  // Over a cap, the answer also carries the GraphQL error PAYLOAD_TOO_LARGE, as a GraphQL request's does.
  sendJson(res, status, status === 413 ? { error: message, errors: [{ message, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } : { error: message });

/** The body's format from its media type (parameters such as charset aside), or null for any other type (415). */
function bodyFormat(contentType: string | undefined): 'json' | 'ndjson' | null {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return mediaType === 'application/json' ? 'json' : mediaType === 'application/x-ndjson' ? 'ndjson' : null;
}

/** Spends `count` events of the budget of the request's caller: null when they fit, else the refusal. */
export type EventsRateLimit = (count: number, req: IncomingMessage, viewer: Principal) => Promise<RateRefusal | null>;

/**
 * Runs a POST /events call at most once per Idempotency-Key (SPEC.md, 'Idempotency'): `args` are
 * what a repeat must match; `run` throws when it runs nothing.
 */
export type EventsIdempotency = (viewer: Principal, key: string, args: unknown, run: () => Promise<BatchResult>) => Promise<BatchResult>;

/** Thrown inside an idempotent call over the rate limit: nothing ran, the key stays free. */
class RateRefused extends Error {
  constructor(readonly refusal: RateRefusal) {
    super(refusal.message);
  }
}

/** Over the budget: 429 with Retry-After in whole seconds, and the GraphQL error RATE_LIMITED as a GraphQL request's. */
function rateLimited(res: ServerResponse, refusal: RateRefusal) {
  res.setHeader('retry-after', String(Math.ceil(refusal.retryAfterMs / 1000)));
  sendJson(res, 429, {
    error: refusal.message,
    errors: [{ message: refusal.message, extensions: { code: 'RATE_LIMITED', retryAfterMs: refusal.retryAfterMs } }],
  });
}

/**
 * POST /events: NDJSON (application/x-ndjson) or a JSON array of events (application/json),
 * answered with the JSON of PublishEventsResult. 400 only when nothing parses; 413 over the size
 * cap or past 10,000 events; 415 for any other content type; 429 when the events (lines that do
 * not parse included) are over the caller's rate limit, and then none is published. With an
 * Idempotency-Key header a repeat answers the first call's counts; a key out of 1..200
 * characters, or used before with other events, is 400; 503 when the first call with the key
 * has not answered within the wait (SPEC.md, 'Idempotency').
 */
export function eventsRoute(options: {
  maxBytes: number;
  publish: PublishBatch;
  logger: Logger;
  rateLimit?: EventsRateLimit;
  idempotency?: EventsIdempotency;
}) {
  return async (req: IncomingMessage, res: ServerResponse, viewer: Principal) => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return problem(res, 405, 'POST events to this path');
    }
    // Node joins repeated headers into one value; a key sent twice is refused, not joined.
    const keys = req.headersDistinct['idempotency-key'];
    const key = keys?.[0];
    if (keys !== undefined && (keys.length !== 1 || key === undefined || key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      return problem(res, 400, `Idempotency-Key: expected one header of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    const format = bodyFormat(req.headers['content-type']);
    if (!format) {
      res.setHeader('connection', 'close');
      return problem(res, 415, 'send events as application/json (an array of events) or application/x-ndjson (one event a line)');
    }
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBytes);
    } catch (error) {
      if (error instanceof TooLarge) {
        res.setHeader('connection', 'close');
        return problem(res, 413, `the body is larger than ${options.maxBytes} bytes`);
      }
      // The client went away before its body was read: nothing ran, nobody to answer.
      options.logger.debug('POST /events: the client went away before its body was read');
      res.destroy();
      return;
    }
    const text = body.toString('utf8');
    let parsed: { index: number; event: unknown }[];
    let refused: Refused = [];
    if (format === 'ndjson') {
      ({ parsed, refused } = parseNdjson(text));
    } else {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return problem(res, 400, `the body is not JSON: ${(error as Error).message}; send a JSON array, or NDJSON with content-type application/x-ndjson`);
      }
      parsed = (Array.isArray(value) ? value : [value]).map((event, index) => ({ event, index }));
    }
    if (parsed.length + refused.length > MAX_EVENTS_PER_CALL) return problem(res, 413, `at most ${MAX_EVENTS_PER_CALL} events per request`);
    if (parsed.length === 0 && refused.length > 0) return sendJson(res, 400, { accepted: 0, matched: 0, refused });
    const url = new URL(req.url ?? '/', 'http://local');
    const source = url.searchParams.get('source') ?? (req.headers['x-event-source'] as string | undefined) ?? null;
    const publish = async () => {
      const refusal = options.rateLimit ? await options.rateLimit(parsed.length + refused.length, req, viewer) : null;
      if (refusal) throw new RateRefused(refusal);
      return options.publish(parsed, source, refused);
    };
    try {
      const result =
        key !== undefined && options.idempotency
          ? await options.idempotency(viewer, key, { events: parsed.map((item) => item.event), refused, source }, publish)
          : await publish();
      return sendJson(res, 200, result);
    } catch (error) {
      if (error instanceof RateRefused) return rateLimited(res, error.refusal);
      if (error instanceof AppError && error.code === 'BAD_USER_INPUT') {
        const message = error.message.replace(/^idempotencyKey:/, 'Idempotency-Key:');
        return sendJson(res, 400, { error: message, errors: [{ message, extensions: { code: error.code, field: 'Idempotency-Key' } }] });
      }
      if (error instanceof AppError) {
        // The first call with this key has not stored its answer yet: nothing ran for this one.
        res.setHeader('retry-after', '1');
        return sendJson(res, 503, { error: error.message, errors: [{ message: error.message, extensions: { code: error.code } }] });
      }
      throw error;
    }
  };
}
