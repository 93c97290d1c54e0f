import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import { redactCredentials } from '../shared/credentials.js';
import { useTracingApi } from './spans.js';

/** How long a stopping service waits for its last spans to reach the collector. */
const FLUSH_TIMEOUT_MS = 3000;

/** Where spans go (config.ts reads it from the standard OTEL_* variables). */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL (`.../v1/traces`). */
  url: string;
  serviceName: string;
}

export interface Tracing {
  /** GraphQL operation spans (@envelop/opentelemetry), for yoga's plugin list. */
  graphqlPlugin: Plugin;
  /** Sends the spans still waiting, then unregisters the SDK. */
  shutdown(): Promise<void>;
}

/**
 * Loads and registers the OpenTelemetry SDK: a Node tracer provider (AsyncLocalStorage context,
 * W3C trace context propagation) whose spans a BatchSpanProcessor sends as OTLP/HTTP JSON to
 * `settings.url`. The SDK is imported here and only here, dynamically, so a service without an
 * endpoint never loads it. The batch processor and the exporter read their other standard
 * variables themselves (OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, ...),
 * and the resource OTEL_RESOURCE_ATTRIBUTES.
 */
export async function startTracing(settings: TracingSettings, logger: Logger): Promise<Tracing> {
  const [
    api,
    { NodeTracerProvider },
    { BatchSpanProcessor },
    { OTLPTraceExporter },
    { Resource, envDetectorSync },
    { ATTR_SERVICE_NAME },
    { useOpenTelemetry },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@envelop/opentelemetry'),
  ]);
  const resource = envDetectorSync.detect().merge(new Resource({ [ATTR_SERVICE_NAME]: settings.serviceName }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url }))] });
  provider.register();
  useTracingApi(api);
  logger.info({ endpoint: redactCredentials(settings.url), serviceName: settings.serviceName }, 'tracing is on: spans are sent as OTLP/HTTP');
  // Operation spans only: resolver spans would carry their arguments (a setSecret value), and
  // variables are left out for the same reason; a document is kept only without inline arguments.
  const graphqlPlugin = useOpenTelemetry({ resolvers: false, variables: false, result: false }, provider, api.SpanKind.SERVER, {}, 'cepheus') as Plugin;
  return {
    graphqlPlugin,
    async shutdown() {
      useTracingApi(null);
      // Bounded, so an unreachable collector does not hold the stop past its grace period.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), FLUSH_TIMEOUT_MS);
      });
      try {
        const flushed = await Promise.race([provider.forceFlush().then(() => provider.shutdown()), deadline]);
        if (flushed === 'late') logger.warn({ timeoutMs: FLUSH_TIMEOUT_MS }, 'the last spans were not sent in time');
      } catch (error) {
        logger.warn({ err: error }, 'the last spans could not be sent');
      } finally {
        clearTimeout(timer);
      }
      // Unregistered, so a later start in the same process (tests) can register again.
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
    },
  };
}
