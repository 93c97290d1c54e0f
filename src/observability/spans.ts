import type * as otel from '@opentelemetry/api';

/**
 * The spans the engine opens, through a handle that is empty until tracing.ts has loaded the
 * OpenTelemetry SDK (only when an OTLP endpoint is set). Empty, every helper here is a null check
 * and a direct call: nothing of OpenTelemetry is loaded, and a run pays nothing for it.
 *
 * Spans are named `cepheus.*`; their attributes are ids, names, counts and statuses, never
 * payloads, headers or query strings (which may hold secrets).
 */

type Api = typeof otel;
export type Span = otel.Span;
export type Attributes = otel.Attributes;

let api: Api | null = null;
let tracer: otel.Tracer | null = null;

/** Called by tracing.ts once the SDK is registered (with the API), and with null when it stops. */
export function useTracingApi(loaded: Api | null): void {
  api = loaded;
  tracer = loaded ? loaded.trace.getTracer('cepheus') : null;
}

export const tracingOn = (): boolean => tracer !== null;

export interface SpanOptions {
  attributes?: Attributes;
  /** The span to open it under; without it, the active span (or none). */
  parent?: Span | null;
  /** Starts a trace of its own. */
  root?: boolean;
  /** Links the span to the active one (a root span started by a request, say). */
  link?: boolean;
  kind?: 'internal' | 'client';
}

/** Starts a span; null when tracing is off. */
export function startSpan(name: string, options: SpanOptions = {}): Span | null {
  if (!tracer || !api) return null;
  const active = api.context.active();
  const parent = options.parent ? api.trace.setSpan(active, options.parent) : active;
  const linked = options.link ? api.trace.getSpan(active)?.spanContext() : undefined;
  return tracer.startSpan(
    name,
    {
      attributes: options.attributes,
      kind: options.kind === 'client' ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL,
      root: options.root,
      links: linked ? [{ context: linked }] : undefined,
    },
    parent,
  );
}

/** Ends a span, with attributes known only now; `error` marks it failed (a code or short reason, never a payload). */
export function endSpan(span: Span | null, attributes?: Attributes, error?: string | null): void {
  if (!span || !api) return;
  if (attributes) span.setAttributes(attributes);
  if (error) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error });
  span.end();
}

/** Runs `fn` with `span` as the active span, so the spans opened in it (after awaits too) are its children. */
export function inSpan<T>(span: Span | null, fn: () => T): T {
  if (!span || !api) return fn();
  return api.context.with(api.trace.setSpan(api.context.active(), span), fn);
}

/**
 * `fn` bound to the active span, for callbacks that come back on another path (a sandbox's
 * messages) where AsyncLocalStorage holds some other context; `fn` itself when tracing is off.
 */
export function bindToActive<F extends (...args: never[]) => unknown>(fn: F): F {
  if (!api || !tracer) return fn;
  return api.context.bind(api.context.active(), fn);
}

/**
 * Runs a synchronous step in a span of its own, active while it runs and ended with what
 * `describe` says of its value; nothing more than `fn()` without options or with tracing off.
 */
export function spanned<T>(name: string, options: SpanOptions | null, fn: () => T, describe: (value: T) => Attributes): T {
  const span = options ? startSpan(name, options) : null;
  if (!span) return fn();
  try {
    const value = inSpan(span, fn);
    endSpan(span, describe(value));
    return value;
  } catch (error) {
    endSpan(span, undefined, error instanceof Error ? error.name : 'error');
    throw error;
  }
}

/** Runs an asynchronous job in a span of its own that ends when the job settles; the job alone when tracing is off. */
export async function traced<T>(name: string, options: SpanOptions, fn: () => Promise<T>): Promise<T> {
  const span = startSpan(name, options);
  if (!span) return fn();
  try {
    const value = await inSpan(span, fn);
    endSpan(span);
    return value;
  } catch (error) {
    endSpan(span, undefined, error instanceof Error ? error.name : 'error');
    throw error;
  }
}

/**
 * The headers with the W3C `traceparent` (and `tracestate`) of the active span added; the same
 * object when tracing is off or the caller set a traceparent of its own.
 */
export function withTraceHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!api || !tracer) return headers;
  if (headers && Object.keys(headers).some((name) => name.toLowerCase() === 'traceparent')) return headers;
  const carrier: Record<string, string> = { ...headers };
  api.propagation.inject(api.context.active(), carrier);
  return carrier;
}
