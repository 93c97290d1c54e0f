import type { Readable } from 'node:stream';
import { promises as dns } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Agent, buildConnector, errors as undiciErrors, request } from 'undici';
import { AddressGuard, allowedHostsPermit, guardRefusalMessage, parseAllowedHost, type AllowedHost, type ResolvedAddress } from './guard.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Sent as is; JSON callers stringify and set content-type. */
  body?: string;
  timeoutMs: number;
  maxBodyBytes?: number;
  /**
   * Narrows this call to these hosts (`host`, `*.suffix`, IPs, each with an optional `:port`);
   * a host outside them is refused with kind 'blocked'. It never opens what the guard refuses.
   */
  allowedHosts?: readonly string[];
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
  /** Resolves a host name to every address it has; default `dns.promises.lookup(host, {all: true})`. Tests inject one. */
  resolve?: Resolver;
  /** Socket connect timeout per address tried (default 10 s; the call's own deadline still applies). */
  connectTimeoutMs?: number;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const defaultResolve: Resolver = (hostname) => dns.lookup(hostname, { all: true });

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

/** Connection errors after which the next resolved address is tried. */
const NEXT_ADDRESS_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The one client for outbound HTTP (webhooks, HTTP APIs, METRIC polls, ctx.http): pooled
 * keep-alive connections, one attempt, no redirects followed, a deadline per call, and at most
 * `maxBodyBytes` of an answer read.
 *
 * Every new connection goes through the outbound guard in the Agent's connector: the host name is
 * resolved, every address checked (any refused one refuses the host unless the host name itself is
 * allowlisted), and the checked address itself is dialled, so a DNS answer that changes between
 * check and connect (rebinding) cannot reach a refused address. TLS keeps the host name for SNI and
 * certificate checks; the Host header stays the URL's.
 */
export class OutboundHttpClient {
  private readonly agent: Agent;
  readonly guard: AddressGuard;
  private readonly resolve: Resolver;

  constructor(readonly options: OutboundClientOptions) {
    this.guard = new AddressGuard(options.allowlist);
    this.resolve = options.resolve ?? defaultResolve;
    const dial = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
    const connect: buildConnector.connector = (opts, callback) => {
      this.guardedAddresses(opts.hostname).then(
        (addresses) => {
          const servername = opts.servername || (isIP(opts.hostname) ? undefined : opts.hostname);
          const attempt = (index: number) => {
            dial({ ...opts, hostname: addresses[index]!, ...(servername ? { servername } : {}) }, (error, socket) => {
              if (error && index + 1 < addresses.length && NEXT_ADDRESS_CODES.has((error as { code?: string }).code ?? '')) attempt(index + 1);
              else if (error) callback(error, null);
              else callback(null, socket!);
            });
          };
          attempt(0);
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
      );
    };
    this.agent = new Agent({ connections: options.connectionsPerOrigin ?? 128, keepAliveTimeout: 10_000, pipelining: 1, connect });
  }

  /** The addresses a host may be dialled at, in order; throws OutboundError('blocked') before any socket opens. */
  private async guardedAddresses(hostname: string): Promise<string[]> {
    let addresses: ResolvedAddress[];
    if (isIP(hostname) !== 0) {
      addresses = [{ address: hostname, family: isIP(hostname) }];
    } else {
      addresses = await this.resolve(hostname);
      if (addresses.length === 0) throw Object.assign(new Error(`${hostname} resolves to no address`), { code: 'ENOTFOUND' });
    }
    const verdict = this.guard.vet(hostname, addresses);
    if (!verdict.allowed) throw new OutboundError('blocked', guardRefusalMessage(hostname, verdict.address, verdict.reason));
    return addresses.map((a) => a.address);
  }

  async request(req: OutboundRequest): Promise<OutboundResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new OutboundError('invalid', `not a valid URL: ${req.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError('invalid', `only http and https URLs are allowed, got ${url.protocol}`);
    if (req.allowedHosts) {
      let allowed: AllowedHost[];
      try {
        allowed = req.allowedHosts.map(parseAllowedHost);
      } catch (error) {
        throw new OutboundError('invalid', (error as Error).message);
      }
      if (!allowedHostsPermit(allowed, url)) {
        throw new OutboundError('blocked', `blocked: ${url.host} is not in allowedHosts (${req.allowedHosts.join(', ') || 'none'})`);
      }
    }
    const maxBytes = req.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    // One timer for the whole call, cleared when it ends (AbortSignal.timeout leaves its timer
    // behind until it fires, and costs several times more).
    const deadline = new Deadline();
    const timer = setTimeout(() => deadline.abort(), req.timeoutMs);
    try {
      const response = await request(url, {
        method: req.method as never,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal: deadline,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const { text, truncated } = await readCapped(response.body, maxBytes);
      const headers = flattenHeaders(response.headers as Record<string, string | string[] | undefined>);
      return { status: response.statusCode, headers, body: truncated ? text : parseBody(text, headers['content-type']), truncated };
    } catch (error) {
      if (error instanceof OutboundError) throw error;
      if (deadline.aborted || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
        throw new OutboundError('timeout', `no answer within ${req.timeoutMs} ms`);
      }
      throw new OutboundError('network', describeNetworkError(error));
    } finally {
      clearTimeout(timer);
    }
  }

  async close() {
    await this.agent.close();
  }
}

/**
 * The call's abort signal. undici takes an EventEmitter that emits 'abort' as well as an
 * AbortSignal; an AbortController with its EventTarget costs several times more per call.
 */
class Deadline extends EventEmitter {
  aborted = false;

  abort() {
    this.aborted = true;
    this.emit('abort');
  }
}

/** The body as UTF-8 text, cut at maxBytes (the rest is not read: the stream is destroyed). */
function readCapped(body: Readable, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (truncated: boolean) => {
      body.off('data', onData).off('end', onEnd);
      resolve({ text: Buffer.concat(chunks).toString('utf8'), truncated });
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - size));
        done(true);
        body.on('error', () => undefined).destroy();
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    };
    const onEnd = () => done(false);
    body.on('data', onData).once('end', onEnd).once('error', reject);
  });
}
