/**
 * Starts and stops the OpenTelemetry SDK (SPEC "Operations": Tracing). The SDK packages are
 * imported here dynamically, and only when an OTLP endpoint is configured: a service started
 * without one never loads them, and every span helper stays a no-op.
 */
import { context, type DiagLogger, DiagLogLevel, diag, ROOT_CONTEXT } from '@opentelemetry/api';
import { ATTR_SERVICE_NAME } from './semconv.js';
import { markTracingStarted } from './spans.js';

/** What config.tracing holds when an OTLP endpoint is set. */
export interface TracingSettings {
  serviceName: string;
}

/** A running SDK. */
export interface Tracing {
  /** Sends the OpenTelemetry SDK's own warnings and errors (an export that failed) to this log. */
  logTo(log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }): void;
  /** Exports every span ended so far and waits for those exports to finish (the SDK keeps running). */
  flush(): Promise<void>;
  /** Exports every span still queued and stops the SDK; gives up after `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

/**
 * Registers a tracer provider that batches spans to the OTLP/HTTP exporter. Everything beyond the
 * service name is the SDK's own reading of the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT /
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (and _HEADERS, _TIMEOUT), OTEL_TRACES_SAMPLER(_ARG),
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*.
 */
export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  const [node, otlp, resources, core] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over our default name.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }))
    .merge(
      resources.detectResources({
        detectors: [resources.hostDetector, resources.serviceInstanceIdDetector, resources.envDetector],
      }),
    );
  const provider = new node.NodeTracerProvider({
    resource,
    spanProcessors: [new node.BatchSpanProcessor(new otlp.OTLPTraceExporter())],
  });
  // W3C Trace Context only, not W3C Baggage: a caller's baggage is not ours to hand to Truedy.
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  markTracingStarted();

  return {
    logTo(log) {
      // Logged outside any span: a failed export runs in the context of whichever request's span
      // ended last, and its line must not be mistaken for part of that request's trace.
      const line = (level: 'error' | 'warn', message: string, args: unknown[]) =>
        context.with(ROOT_CONTEXT, () =>
          log[level](
            { otel: message, ...(args.length ? { otel_args: args.map(String) } : {}) },
            level === 'error' ? 'opentelemetry: error' : 'opentelemetry: warning',
          ),
        );
      const logger: DiagLogger = {
        error: (message, ...args) => line('error', message, args),
        warn: (message, ...args) => line('warn', message, args),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      };
      diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    },
    flush: () => provider.forceFlush(),
    async shutdown(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      try {
        // A failed export is reported through diag (logTo); shutdown itself must not fail the exit.
        await Promise.race([provider.shutdown().catch(() => undefined), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
