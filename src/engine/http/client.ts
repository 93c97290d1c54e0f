import { Agent, errors as undiciErrors, request } from 'undici';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Sent as is; JSON callers stringify and set content-type. */
  body?: string;
  timeoutMs: number;
  maxBodyBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON where the answer is JSON, else text; a cut body is always text. */
  body: unknown;
  truncated: boolean;
}

export type OutboundFailure = 'timeout' | 'network' | 'blocked' | 'invalid';

export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface OutboundClientOptions {
  /** OUTBOUND_ALLOWLIST: hosts and CIDRs opened past the address guard. */
  allowlist: readonly string[];
  connectionsPerOrigin?: number;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  const looksJson = !contentType || /\bjson\b/i.test(contentType);
  if (!looksJson || text.trim() === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function describeNetworkError(error: unknown): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  const message = err.cause?.message ?? err.message ?? String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * The one client for outbound HTTP (webhooks, HTTP APIs, METRIC polls, ctx.http): pooled
 * keep-alive connections, one attempt, no redirects followed, a deadline per call, and at most
 * `maxBodyBytes` of an answer read.
 */
export class OutboundHttpClient {
  private readonly agent: Agent;

  constructor(readonly options: OutboundClientOptions) {
    this.agent = new Agent({ connections: options.connectionsPerOrigin ?? 128, keepAliveTimeout: 10_000, pipelining: 1 });
  }

  async request(req: OutboundRequest): Promise<OutboundResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new OutboundError('invalid', `not a valid URL: ${req.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError('invalid', `only http and https URLs are allowed, got ${url.protocol}`);
    const maxBytes = req.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const signal = AbortSignal.timeout(req.timeoutMs);
    try {
      const response = await request(url, {
        method: req.method as never,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        if (size + buffer.length > maxBytes) {
          chunks.push(buffer.subarray(0, maxBytes - size));
          truncated = true;
          response.body.destroy();
          break;
        }
        chunks.push(buffer);
        size += buffer.length;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const headers = flattenHeaders(response.headers as Record<string, string | string[] | undefined>);
      return { status: response.statusCode, headers, body: truncated ? text : parseBody(text, headers['content-type']), truncated };
    } catch (error) {
      if (error instanceof OutboundError) throw error;
      if (signal.aborted || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
        throw new OutboundError('timeout', `no answer within ${req.timeoutMs} ms`);
      }
      throw new OutboundError('network', describeNetworkError(error));
    }
  }

  async close() {
    await this.agent.close();
  }
}
