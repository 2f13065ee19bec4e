import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { audio, type FakeUpstream, startFakeUpstream, TEST_KEY, tempDir, truedy429 } from '../helpers/kit.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND,
  STATUS,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.js';
import { type ServiceProcess, startServiceProcess } from '../helpers/process.js';
import { waitUntil } from '../helpers/wait.js';

// The SDK is process-global, so these tests run the built service as a process (dist/main.js,
// `npm run build` first) exporting to a real OTLP/HTTP receiver in this test.

const RECORD_MODULES = path.resolve(import.meta.dirname, '../helpers/record-modules.mjs');
const FILENAME = 'private-recording-of-alice.mp3';
const VOICE_NAME = 'Alice at the kitchen table';

let receiver: OtlpReceiver | undefined;
let fake: FakeUpstream | undefined;
let svc: ServiceProcess | undefined;
afterEach(async () => {
  if (svc && svc.proc.exitCode === null) await svc.stop('SIGKILL');
  svc = undefined;
  await fake?.close();
  await receiver?.close();
  fake = receiver = undefined;
});

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    TRUEDY_API_KEY: TEST_KEY,
    TRUEDY_BASE_URL: fake?.url ?? '',
    UPLOAD_DIR: tempDir(),
    UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
    RETRY_MAX_DELAY_MS: '2000',
    RETRY_BUDGET_MS: '5000',
    LOG_LEVEL: 'info',
    ...overrides,
  };
}

async function clone(url: string, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('name', VOICE_NAME);
  form.append('files', new Blob([readFileSync(audio('sample.mp3'))]), FILENAME);
  return fetch(`${url}/api/voices/clone`, { method: 'POST', body: form, headers });
}

const logLines = (s: ServiceProcess) =>
  s.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
const only = (spans: ReceivedSpan[], pick: (s: ReceivedSpan) => boolean) => {
  const found = spans.filter(pick);
  expect(found).toHaveLength(1);
  return found[0] as ReceivedSpan;
};

/** The request's own log line (written when its response closes), once it has come through stdout. */
async function requestLine(s: ServiceProcess, requestId: string) {
  const find = () => logLines(s).find((l) => l.request_id === requestId && l.msg === 'request');
  await waitUntil(`the request line of ${requestId}`, () => find() !== undefined);
  return find();
}

describe('tracing, with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  it('one clone that meets one 429 is one trace: server span, the call, two attempts and the reset-at wait, continuing the caller and reaching Truedy', async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream([truedy429(200)]);
    svc = await startServiceProcess(env(receiver.exportEnv()));
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const res = await clone(svc.url, {
      traceparent: `00-${traceId}-${callerSpanId}-01`,
      tracestate: 'caller=opaque-1',
      'x-request-id': 'traced-clone-1',
    });
    expect(res.status).toBe(201);

    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === SPAN_KIND.SERVER));
    // One trace: every span of the request carries the caller's trace id.
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(receiver.rejected).toEqual([]);

    const server = only(spans, (s) => s.kind === SPAN_KIND.SERVER);
    expect(server).toMatchObject({
      name: 'POST /api/voices/clone',
      parentSpanId: callerSpanId,
      scope: 'truedy-voice-bff',
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/api/voices/clone',
        'http.response.status_code': 201,
        'bff.request_id': 'traced-clone-1',
      },
    });
    expect(server.resource['service.name']).toBe('truedy-voice-bff');

    const call = only(spans, (s) => s.name === 'truedy clone');
    expect(call).toMatchObject({ parentSpanId: server.spanId, kind: SPAN_KIND.INTERNAL });
    expect(call.attributes).toMatchObject({ 'bff.upstream.operation': 'clone', 'bff.upstream.attempts': 2 });

    const attempts = spans
      .filter((s) => s.kind === SPAN_KIND.CLIENT)
      .sort(
        (a, b) => Number(a.attributes['bff.upstream.attempt']) - Number(b.attributes['bff.upstream.attempt']),
      );
    expect(attempts.map((a) => [a.name, a.parentSpanId, a.attributes['bff.upstream.attempt']])).toEqual([
      ['POST /voices/clone', call.spanId, 1],
      ['POST /voices/clone', call.spanId, 2],
    ]);
    const [first, second] = attempts as [ReceivedSpan, ReceivedSpan];
    expect(first.attributes).toMatchObject({ 'http.response.status_code': 429, 'error.type': '429' });
    expect(first.status.code).toBe(STATUS.ERROR);
    expect(second.attributes).toMatchObject({
      'http.response.status_code': 201,
      'bff.upstream.outcome': '201',
    });
    expect(second.status.code).toBe(STATUS.UNSET);
    expect(attempts.map((a) => a.attributes['http.request.body.size'])).toEqual(
      fake.received.map((r) => r.body.length),
    );

    // The request's own steps, children of the server span: reading the upload (files, bytes) and
    // identifying the audio.
    const read = only(spans, (s) => s.name === 'upload read');
    expect(read.parentSpanId).toBe(server.spanId);
    expect(read.attributes).toMatchObject({
      'bff.upload.files': 1,
      'bff.upload.bytes': readFileSync(audio('sample.mp3')).length,
    });
    expect(only(spans, (s) => s.name === 'audio identify').parentSpanId).toBe(server.spanId);
    const audioRead = only(spans, (s) => s.name === 'audio read');
    expect(audioRead.parentSpanId).toBe(server.spanId);
    expect(audioRead.attributes).toMatchObject({ 'bff.upload.files': 1, 'bff.audio.seconds': 2.088 });
    // The audit trail's two lines, the first before the call to Truedy.
    const audits = spans.filter((s) => s.name === 'audit write');
    expect(audits.map((a) => [a.attributes['bff.audit.line'], a.parentSpanId])).toEqual([
      ['requested', server.spanId],
      ['outcome', server.spanId],
    ]);
    expect((audits[0] as ReceivedSpan).endNs <= call.startNs + 1_000_000n).toBe(true);

    const wait = only(spans, (s) => s.name === 'truedy wait');
    expect(wait.parentSpanId).toBe(call.spanId);
    expect(wait.attributes['bff.wait.reason']).toBe('reset-at');
    expect(wait.attributes['bff.wait.planned_ms']).toBeGreaterThanOrEqual(150);
    // In order: the 429, then the wait, then the attempt that succeeded (span clocks are anchored
    // to Date.now() per span, so they are compared to the millisecond).
    const ms = 1_000_000n;
    expect(first.endNs <= wait.startNs + ms && wait.endNs <= second.startNs + ms).toBe(true);

    // Each attempt carried its own span as the parent in a W3C traceparent of the same trace.
    expect(fake.received.map((r) => r.headers.traceparent)).toEqual([
      `00-${traceId}-${first.spanId}-01`,
      `00-${traceId}-${second.spanId}-01`,
    ]);
    expect(fake.received.map((r) => r.headers.tracestate)).toEqual(['caller=opaque-1', 'caller=opaque-1']);

    // Every log line of the request leads to the trace, the request line to the server span.
    // The request line is written when the response closes, and reaches this test through the
    // child's stdout: the answer can arrive first.
    await requestLine(svc, 'traced-clone-1');
    const lines = logLines(svc).filter((l) => l.request_id === 'traced-clone-1');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.every((l) => l.trace_id === traceId && /^[\da-f]{16}$/.test(String(l.span_id)))).toBe(true);
    expect(lines.find((l) => l.msg === 'request')?.span_id).toBe(server.spanId);

    // Nothing secret or private in any exported byte: not the key, no bearer, no file name, no
    // voice name, no audio.
    const exported = receiver.raw.join('\n');
    const sample = readFileSync(audio('sample.mp3'));
    for (const forbidden of [
      TEST_KEY,
      'Bearer',
      FILENAME,
      VOICE_NAME,
      sample.subarray(1024, 1072).toString('base64'),
      sample.subarray(1024, 1040).toString('hex'),
    ]) {
      expect({ forbidden, found: exported.includes(forbidden) }).toEqual({ forbidden, found: false });
    }
  });

  it('a client that goes away mid-upload: its request log line still leads to the trace, and the server span says client_closed', async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream();
    svc = await startServiceProcess(env(receiver.exportEnv()));
    const traceId = randomBytes(16).toString('hex');
    const { port } = new URL(svc.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // Expect: 100-continue, so the service's own "100 Continue" says the request is under way
    // (its span open) before the client goes; the span ends only when the request does.
    const continued = new Promise((resolve) =>
      socket.on('data', (c) => String(c).startsWith('HTTP/1.1 100') && resolve(undefined)),
    );
    socket.write(
      'POST /api/voices/clone HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-1\r\n' +
        `traceparent: 00-${traceId}-${randomBytes(8).toString('hex')}-01\r\n` +
        'Expect: 100-continue\r\n' +
        'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n',
    );
    await continued;
    socket.write('--b\r\nContent-Disposition: form-data; name="files"; filename="a.mp3"\r\n\r\nID3');
    socket.destroy();
    const [server] = await receiver.waitFor((all) => all.some((s) => s.kind === SPAN_KIND.SERVER));
    expect(server).toMatchObject({ traceId, attributes: { 'error.type': 'client_closed' } });
    const line = await requestLine(svc, 'gone-1');
    expect(line).toMatchObject({ status: 499, trace_id: traceId, span_id: server?.spanId });
  });

  it('in sandbox mode (no key) the sandbox records the traceparent of each call it receives', async () => {
    receiver = await startOtlpReceiver();
    svc = await startServiceProcess({
      NODE_ENV: 'development',
      UPLOAD_DIR: tempDir(),
      ...receiver.exportEnv(),
    });
    const traceId = randomBytes(16).toString('hex');
    const res = await clone(svc.url, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    expect(res.status).toBe(201);
    const spans = await receiver.waitFor((all) => all.some((s) => s.kind === SPAN_KIND.SERVER));
    const attempt = only(spans, (s) => s.kind === SPAN_KIND.CLIENT);
    const seen = logLines(svc).filter((l) => l.msg === 'sandbox: call received');
    expect(seen).toEqual([
      expect.objectContaining({
        component: 'sandbox',
        path: '/voices/clone',
        trace_id: traceId,
        parent_span_id: attempt.spanId,
        traceparent: `00-${traceId}-${attempt.spanId}-01`,
      }),
    ]);
  });

  it('SIGTERM exports the spans still queued before the process exits', async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream();
    // A batch delay far longer than the test: only the shutdown flush can send these spans.
    svc = await startServiceProcess(env(receiver.exportEnv(600_000)));
    expect((await clone(svc.url)).status).toBe(201);
    expect(receiver.spans).toEqual([]);
    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(receiver.spans.map((s) => s.name).sort()).toEqual([
      'POST /api/voices/clone',
      'POST /voices/clone',
      'audio identify',
      'audio read',
      'audit write',
      'audit write',
      'truedy clone',
      'upload read',
    ]);
  });

  it('an export the collector refuses is logged as an OpenTelemetry error, outside any trace', async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream();
    svc = await startServiceProcess(
      env({
        // Not the receiver's /v1/traces: it answers 415, which the exporter does not retry.
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/not-traces`,
        OTEL_BSP_SCHEDULE_DELAY: '50',
      }),
    );
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    await receiver.waitFor(() => (receiver?.rejected.length ?? 0) > 0);
    expect(await svc.stop('SIGTERM')).toBe(0);
    const errors = logLines(svc).filter((l) => l.msg === 'opentelemetry: error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((l) => 'trace_id' in l)).toBe(false);
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone turns it on, and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name the resource', async () => {
    receiver = await startOtlpReceiver();
    fake = await startFakeUpstream();
    svc = await startServiceProcess(
      env({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_SERVICE_NAME: 'voice-bff-eu',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
      }),
    );
    const res = await fetch(`${svc.url}/healthz`);
    expect(res.status).toBe(200);
    const [server] = await receiver.waitFor((all) => all.length > 0);
    expect(server?.name).toBe('GET /healthz');
    expect(server?.parentSpanId).toBe('');
    expect(server?.resource).toMatchObject({
      'service.name': 'voice-bff-eu',
      'deployment.environment.name': 'staging',
    });
  });
});

describe('tracing, with no OTEL_* variable set', () => {
  /** Runs one clone in a process whose module loads are recorded; returns the files it loaded. */
  async function loadedModules(extraEnv: Record<string, string>) {
    const file = path.join(tempDir(), 'modules.txt');
    fake = await startFakeUpstream();
    svc = await startServiceProcess(
      env({ NODE_OPTIONS: `--import=${RECORD_MODULES}`, RECORD_MODULES_FILE: file, ...extraEnv }),
    );
    expect((await clone(svc.url, { 'x-request-id': 'untraced-1' })).status).toBe(201);
    expect(await svc.stop('SIGTERM')).toBe(0);
    return { modules: readFileSync(file, 'utf8'), lines: logLines(svc) };
  }
  /** Every OpenTelemetry package but the API, and what only JWTs (jose) or Redis (ioredis) use. */
  const unused = /\/node_modules\/(@opentelemetry\/(?!api\/)|jose\/|ioredis\/)/;

  it('loads no OpenTelemetry package but the API (nor jose or ioredis), sends no traceparent and logs no trace ids', async () => {
    const { modules, lines } = await loadedModules({});
    expect(modules).toContain('/dist/main.js');
    expect(modules).toContain('/node_modules/express/');
    expect(modules).toContain('/node_modules/@opentelemetry/api/');
    expect(modules.split('\n').filter((m) => unused.test(m))).toEqual([]);
    expect(fake?.received[0]?.headers.traceparent).toBeUndefined();
    const requestLines = lines.filter((l) => l.request_id === 'untraced-1');
    expect(requestLines.length).toBeGreaterThan(0);
    expect(requestLines.some((l) => 'trace_id' in l || 'span_id' in l)).toBe(false);
  });

  it('(the same recording does see the SDK when an endpoint is set)', async () => {
    receiver = await startOtlpReceiver();
    const { modules } = await loadedModules({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    expect(modules).toMatch(/@opentelemetry\/sdk-trace-node\//);
    expect(modules).toMatch(/@opentelemetry\/exporter-trace-otlp-http\//);
  });
});
