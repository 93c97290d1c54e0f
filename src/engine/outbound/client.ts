import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, errors as undiciErrors, type Dispatcher } from 'undici';
import { refusedHeadersReason, refusedMethodReason } from './requestRules.js';
import { AddressGuard, allowedHostsPermit, guardRefusalMessage, parseAllowedHost, type AllowedHost, type ResolvedAddress } from './guard.js';
import { keptAsTextWhenMisshapen } from '../../shared/jsonShape.js';
import { tracingOn } from '../../observability/spans.js';
import { tracedRequest } from './requestSpan.js';

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

/** JSON answers are kept parsed, unless nested too deep or holding a number out of range: then as their text (SPEC.md, 'Limits'). */
function parseBody(text: string, contentType: string | undefined): unknown {
  const looksJson = !contentType || /\bjson\b/i.test(contentType);
  if (!looksJson || text.trim() === '') return text;
  try {
    return keptAsTextWhenMisshapen(JSON.parse(text), text);
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
 * `maxBodyBytes` of an answer read. The methods and headers of requestRules.ts are refused
 * ('blocked') before anything is dialled.
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

  request(req: OutboundRequest): Promise<OutboundResponse> {
    return tracingOn() ? tracedRequest(req, (traced) => this.send(traced)) : this.send(req);
  }

  private async send(req: OutboundRequest): Promise<OutboundResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new OutboundError('invalid', `not a valid URL: ${req.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError('invalid', `only http and https URLs are allowed, got ${url.protocol}`);
    const refused = refusedMethodReason(req.method) ?? refusedHeadersReason(req.headers);
    if (refused) throw new OutboundError('blocked', `blocked: ${refused}`);
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
    return new Promise<OutboundResponse>((resolve, reject) => {
      const call = new OutboundCall(req.timeoutMs, maxBytes, resolve, reject);
      this.agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method as never,
          headers: req.headers,
          body: req.body ?? null,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        },
        call,
      );
    });
  }

  async close() {
    await this.agent.close();
  }
}

/**
 * One call on undici's dispatch API (its request API adds a body stream, an abort signal and a
 * promise per call, about half again the CPU): the answer is gathered as it comes, at most
 * maxBytes of it, and one timer holds the call's whole deadline.
 */
class OutboundCall implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly timer: NodeJS.Timeout;
  private settled = false;
  private status = 0;
  private headers: Record<string, string> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
    private readonly resolve: (response: OutboundResponse) => void,
    private readonly reject: (error: OutboundError) => void,
  ) {
    this.timer = setTimeout(() => this.fail(new OutboundError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    // Timed out while waiting for a connection: it is not sent at all.
    if (this.settled) controller.abort(new Error('the call has ended'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>) {
    if (statusCode < 200) return; // 1xx informational answers come before the real one
    this.status = statusCode;
    this.headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.settled) return;
    if (this.size + chunk.length > this.maxBytes) {
      this.chunks.push(chunk.subarray(0, this.maxBytes - this.size));
      this.succeed(true);
      controller.abort(new Error('the answer is over the size cap; the rest is not read'));
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  onResponseEnd() {
    this.succeed(false);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error) {
    if (error instanceof OutboundError) return this.fail(error);
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
      return this.fail(new OutboundError('timeout', `no answer within ${this.timeoutMs} ms`));
    }
    this.fail(new OutboundError('network', describeNetworkError(error)));
  }

  private succeed(truncated: boolean) {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const text = Buffer.concat(this.chunks).toString('utf8');
    this.resolve({ status: this.status, headers: this.headers, body: truncated ? text : parseBody(text, this.headers['content-type']), truncated });
  }

  private fail(error: OutboundError) {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.controller?.abort(error);
    this.reject(error);
  }
}
