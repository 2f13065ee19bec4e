import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An attribute value as OTLP/JSON carries it (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

/** The part of an OTLP ExportTraceServiceRequest (JSON) the tests read. */
interface ExportTraceServiceRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

/** OTLP's SpanKind numbers. */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** OTLP's StatusCode numbers. */
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

type Value = string | number | boolean | Value[];

/** One span as received, flattened for assertions. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, Value>;
  status: { code: number; message?: string };
  resource: Record<string, Value>;
  scope: string;
  startNs: bigint;
  endNs: bigint;
}

function value(v: AnyValue): Value {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return (v.arrayValue?.values ?? []).map(value);
}

function attributes(list: KeyValue[] = []): Record<string, Value> {
  return Object.fromEntries(list.map((kv) => [kv.key, value(kv.value)]));
}

/** Flattens one decoded export request into its spans. */
export function decodeExport(body: ExportTraceServiceRequest): ReceivedSpan[] {
  return (body.resourceSpans ?? []).flatMap((rs) => {
    const resource = attributes(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        attributes: attributes(s.attributes),
        status: { code: s.status?.code ?? 0, message: s.status?.message },
        resource,
        scope: ss.scope?.name ?? '',
        startNs: BigInt(s.startTimeUnixNano),
        endNs: BigInt(s.endTimeUnixNano),
      })),
    );
  });
}

/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1: `POST /v1/traces` with the JSON encoding (what
 * @opentelemetry/exporter-trace-otlp-http sends), decoded into spans. Anything else is answered
 * 415 and counted in `rejected`, so a test sees an exporter that speaks something else.
 */
export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  /** Every export body as it arrived, for scanning for what must never be exported. */
  const raw: string[] = [];
  const rejected: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !type.startsWith('application/json')) {
        rejected.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(415, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      raw.push(text);
      spans.push(...decodeExport(JSON.parse(text) as ExportTraceServiceRequest));
      // An ExportTraceServiceResponse with no partial success.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    /** The OTEL_EXPORTER_OTLP_ENDPOINT to give an exporter (it appends /v1/traces). */
    endpoint,
    /** The OTEL_* settings that export here, in batches every `scheduleDelayMs` (the SDK's default is 5 s). */
    exportEnv: (scheduleDelayMs = 50): Record<string, string> => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: String(scheduleDelayMs),
    }),
    spans,
    raw,
    rejected,
    /** Resolves with the spans once `done(spans)` holds; rejects after `timeoutMs` (a bounded poll). */
    async waitFor(done: (spans: ReceivedSpan[]) => boolean, timeoutMs = 5000): Promise<ReceivedSpan[]> {
      const deadline = Date.now() + timeoutMs;
      while (!done(spans)) {
        if (Date.now() > deadline) {
          throw new Error(`OTLP receiver: condition not met in ${timeoutMs} ms; got ${describe(spans)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return spans;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A running receiver, as startOtlpReceiver returns it. */
export type OtlpReceiver = Awaited<ReturnType<typeof startOtlpReceiver>>;

function describe(spans: ReceivedSpan[]): string {
  return spans.length ? spans.map((s) => s.name).join(', ') : 'no spans';
}
