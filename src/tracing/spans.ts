/**
 * The service's span helpers (SPEC "Operations": Tracing). Only `@opentelemetry/api` is imported
 * here: with no SDK started every helper returns at its first line, so code that calls them
 * costs nothing while tracing is off.
 */
import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from './semconv.js';

/** The instrumentation scope every span of this service is created under. */
export const TRACER_NAME = 'truedy-voice-bff';

/**
 * Names of this service's INTERNAL spans (each HTTP span is named `METHOD /route` instead). The
 * request path calls withSpan with these around its steps, so every deployment's traces read alike.
 */
export const SPAN = {
  /** Reading the multipart body into the spool (attributes: uploadFiles, uploadBytes). */
  uploadRead: 'upload read',
  /** Telling what each file is from its first bytes. */
  audioIdentify: 'audio identify',
  /** Reading the audio (length in seconds) with the demuxer/decoder. */
  audioRead: 'audio read',
  /** Claiming or replaying an Idempotency-Key. */
  idempotency: 'idempotency',
  /** Writing an audit line (before the call to Truedy, and with its outcome). */
  audit: 'audit write',
  /** One Truedy call, its attempts and waits included (`truedy clone`, `truedy get`). */
  upstreamCall: 'truedy',
  /** One wait before an attempt (attributes: waitReason, waitPlannedMs). */
  upstreamWait: 'truedy wait',
} as const;

/** Attribute keys of this service's own spans (the HTTP ones are OpenTelemetry's semantic conventions). */
export const ATTR = {
  /** SPEC's error code (`upstream_rate_limited`, `unsupported_media_type`, …) on a span that failed. */
  errorCode: 'error.code',
  requestId: 'bff.request_id',
  uploadFiles: 'bff.upload.files',
  uploadBytes: 'bff.upload.bytes',
  /** The upload's total audio length in seconds (from the audio-facts step). */
  audioSeconds: 'bff.audio.seconds',
  operation: 'bff.upstream.operation',
  attempts: 'bff.upstream.attempts',
  /** 1 for the first attempt at Truedy. */
  attempt: 'bff.upstream.attempt',
  /** The attempt's status code, or `timeout`, `connect_failed`, `unsent`, `network`. */
  outcome: 'bff.upstream.outcome',
  waitReason: 'bff.wait.reason',
  waitPlannedMs: 'bff.wait.planned_ms',
} as const;

/** Why a call to Truedy waits (SPEC "Retry policy and pacing"). */
export type WaitReason = 'pacing' | 'cooldown' | 'backoff' | 'retry-after' | 'reset-at' | 'x-ratelimit-reset';

// The SDK is process-global (OpenTelemetry's API keeps one tracer provider per process), so
// whether it runs is too: startTracing() sets this once, before the service is built.
let tracingOn = false;

/** Called by startTracing() once the SDK is registered; until then every helper here is a no-op. */
export function markTracingStarted(): void {
  tracingOn = true;
}

/** Whether an SDK was started in this process. */
export function isTracingOn(): boolean {
  return tracingOn;
}

/** The span handed to callbacks while tracing is off: every method is a no-op. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Runs `fn` inside a new span that is active for everything `fn` does (child spans, log lines) and
 * ends when `fn` settles; a rejection is recorded with its SPEC code and passed on. While tracing
 * is off, `fn` runs as it is, with a no-op span.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!tracingOn) return fn(NO_SPAN);
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Marks a span failed with the error's SPEC code (`error.code`, and `error.type` per the semantic
 * conventions). The message and stack are left out on purpose: a message may quote what Truedy
 * said about an upload, and traces leave the service (SPEC "Privacy of uploads").
 */
export function recordError(span: Span, error: unknown): void {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const type = code ?? (typeof e.name === 'string' ? e.name : 'Error');
  if (code) span.setAttribute(ATTR.errorCode, code);
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * Records SPEC's error code on the span that is active now (the request's server span, when the
 * error handler calls it). Only the attribute: whether a server span failed is its status code's
 * to say (a 4xx is the caller's). No-op while tracing is off.
 */
export function recordErrorCode(code: string): void {
  if (!tracingOn) return;
  trace.getActiveSpan()?.setAttribute(ATTR.errorCode, code);
}

/** Sets attributes on the active span (e.g. the upload's file count once it is read). No-op while off. */
export function setSpanAttributes(attributes: Attributes): void {
  if (!tracingOn) return;
  trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * The W3C `traceparent` (and `tracestate`) of the active span, to send with an outgoing request so
 * the next service continues the trace; empty while tracing is off.
 */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  if (tracingOn) propagation.inject(context.active(), headers);
  return headers;
}

/** The ids a log line carries so it leads to its trace (pino's `mixin`); empty with no active span. */
export function logTraceFields(): { trace_id?: string; span_id?: string } {
  if (!tracingOn) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
