import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ServiceError } from '../../src/errors.js';
import { createRedactor } from '../../src/redact.js';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import { logTraceFields, recordErrorCode, traceHeaders, withSpan } from '../../src/tracing/spans.js';
import { createTruedyClient, type ReplayableBody } from '../../src/upstream/truedy-client.js';
import { FakeClock } from '../helpers/fake-clock.js';
import {
  type FakeUpstream,
  memoryLogger,
  type Reply,
  startFakeUpstream,
  TEST_KEY,
  truedy429,
} from '../helpers/kit.js';
import { type ReceivedSpan, SPAN_KIND, STATUS } from '../helpers/otlp-receiver.js';
import { suiteTracing } from '../helpers/tracing-sdk.js';

// The SDK started in this test file's own module context (each Jest test file has its own), with
// the real OTLP/HTTP exporter sending to a real receiver: every wait reason and error code, one
// upstream call per test, each under a root span of its own so its spans are told apart by trace.

const receiver = suiteTracing('tracing-spans-test');

const body = (text = '{"name":"x","files":[]}'): ReplayableBody => ({
  contentLength: Buffer.byteLength(text),
  open: () => Readable.from([Buffer.from(text)]),
});

/** Runs one clone against a scripted fake under a root span; returns that trace's spans once exported. */
async function traced(
  queue: Reply[],
  gate: UpstreamGate = createMemoryGate({ limit: 0, windowMs: 1000 }),
  clock = new FakeClock({ autoAdvance: true }),
) {
  const fake: FakeUpstream = await startFakeUpstream(queue);
  const log = memoryLogger();
  const client = createTruedyClient({
    baseUrl: fake.url,
    apiKey: TEST_KEY,
    timeoutMs: 5000,
    maxResponseBytes: 1024 * 1024,
    redact: createRedactor([TEST_KEY]).value,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 2000, budgetMs: 5000 },
    gate,
    // Waits on a virtual clock (SPEC's retry rules, not the machine's timers, decide what is waited):
    // a real 5 ms sleep can end a millisecond short of Date.now()'s reset and add a 1 ms cooldown wait.
    clock,
    random: () => 0,
  });
  let traceId = '';
  let outcome: unknown;
  try {
    await withSpan('test root', {}, async (root) => {
      traceId = root.spanContext().traceId;
      outcome = await client
        .cloneVoice(body(), { requestId: 'r1', signal: new AbortController().signal, log: log.logger })
        .catch((e: unknown) => e);
    });
  } finally {
    await fake.close();
  }
  await receiver.flush();
  const all = await receiver().waitFor((s) => s.some((x) => x.traceId === traceId && x.name === 'test root'));
  // In the order they started: batches can reach the receiver in any order.
  const spans = all.filter((s) => s.traceId === traceId).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
  const byName = (name: string) => spans.filter((s) => s.name === name);
  return {
    spans,
    outcome,
    log,
    fake,
    call: byName('truedy clone')[0] as ReceivedSpan,
    attempts: spans.filter((s) => s.kind === SPAN_KIND.CLIENT),
    waits: byName('truedy wait'),
  };
}

describe('wait spans: one per wait, with its reason and planned length', () => {
  it.each([
    ['reset-at', truedy429(30)],
    ['retry-after', { status: 429, headers: { 'retry-after': '0' }, body: {} }],
    [
      'x-ratelimit-reset',
      {
        status: 429,
        headers: {
          date: new Date(Math.floor(Date.now() / 1000) * 1000).toUTCString(),
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 0.05),
        },
        body: {},
      },
    ],
    ['backoff', { status: 429, body: {} }],
  ] as [string, Reply][])('%s', async (reason, reply) => {
    const { waits, call, attempts } = await traced([reply]);
    expect(attempts).toHaveLength(2);
    expect(waits).toHaveLength(1);
    expect(waits[0]?.parentSpanId).toBe(call.spanId);
    expect(waits[0]?.attributes['bff.wait.reason']).toBe(reason);
    expect(typeof waits[0]?.attributes['bff.wait.planned_ms']).toBe('number');
  });

  it('pacing: a call over the cap waits its turn', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const gate = createMemoryGate({ limit: 1, windowMs: 60 });
    await gate.reserve(clock.now(), clock.now() + 1000);
    const { waits, attempts } = await traced([], gate, clock);
    expect(attempts).toHaveLength(1);
    expect(waits.map((w) => w.attributes['bff.wait.reason'])).toEqual(['pacing']);
    expect(Number(waits[0]?.attributes['bff.wait.planned_ms'])).toBeGreaterThan(0);
  });

  it("cooldown: a call behind another request's 429 waits out the announced reset", async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const gate = createMemoryGate({ limit: 0, windowMs: 60_000 });
    await gate.setCooldown(clock.now() + 40);
    const { waits } = await traced([], gate, clock);
    expect(waits.map((w) => w.attributes['bff.wait.reason'])).toEqual(['cooldown']);
  });
});

describe('errors on spans carry SPEC codes', () => {
  it("Truedy's 402: the attempt says 402, the call says the relayed code", async () => {
    const { attempts, call } = await traced([
      { status: 402, body: { error: { code: 'insufficient_credits', message: 'no credits' } } },
    ]);
    expect(attempts[0]?.attributes).toMatchObject({ 'http.response.status_code': 402, 'error.type': '402' });
    expect(call.attributes).toMatchObject({ 'error.code': 'insufficient_credits' });
    expect(call.status.code).toBe(STATUS.ERROR);
  });

  it('429 until the attempts are spent: upstream_rate_limited on the call, three attempts, two waits', async () => {
    const { attempts, waits, call } = await traced([truedy429(5), truedy429(5), truedy429(5)]);
    expect(attempts.map((a) => a.attributes['bff.upstream.attempt'])).toEqual([1, 2, 3]);
    expect(waits).toHaveLength(2);
    expect(call.attributes['error.code']).toBe('upstream_rate_limited');
  });

  it('a connection that breaks after the body went out: network on the attempt, upstream_unavailable on the call', async () => {
    const { attempts, call } = await traced([{ destroy: 'after-body' }]);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.attributes['bff.upstream.outcome']).toBe('network');
    expect(attempts[0]?.status.code).toBe(STATUS.ERROR);
    expect(call.attributes['error.code']).toBe('upstream_unavailable');
  });
});

describe('span helpers', () => {
  it('withSpan nests, returns what its function returns, and records a thrown ServiceError by its code', async () => {
    let traceId = '';
    const result = await withSpan('outer', { 'bff.upload.files': 2 }, async (outer) => {
      traceId = outer.spanContext().traceId;
      await withSpan('inner', {}, async () => {
        recordErrorCode('payload_too_large');
      });
      await withSpan('failing', {}, async () => {
        throw new ServiceError('unsupported_media_type', 'a private message');
      }).catch(() => undefined);
      return 42;
    });
    expect(result).toBe(42);
    const spans = (
      await receiver().waitFor((s) => s.some((x) => x.traceId === traceId && x.name === 'outer'))
    ).filter((s) => s.traceId === traceId);
    const outer = spans.find((s) => s.name === 'outer') as ReceivedSpan;
    const inner = spans.find((s) => s.name === 'inner') as ReceivedSpan;
    const failing = spans.find((s) => s.name === 'failing') as ReceivedSpan;
    expect(outer.attributes).toEqual({ 'bff.upload.files': 2 });
    expect([inner.parentSpanId, failing.parentSpanId]).toEqual([outer.spanId, outer.spanId]);
    expect(inner.attributes['error.code']).toBe('payload_too_large');
    expect(failing).toMatchObject({
      attributes: { 'error.code': 'unsupported_media_type', 'error.type': 'unsupported_media_type' },
      status: { code: STATUS.ERROR, message: 'unsupported_media_type' },
    });
    // The message may quote an upload; it is not exported.
    expect(receiver().raw.join('')).not.toContain('a private message');
  });

  it('inside a span: traceHeaders() is its traceparent and log lines carry its ids; outside, neither', async () => {
    const log = memoryLogger();
    await withSpan('logged', {}, async (span) => {
      const { traceId, spanId } = span.spanContext();
      expect(traceHeaders()).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
      expect(logTraceFields()).toEqual({ trace_id: traceId, span_id: spanId });
      log.logger.info('inside');
    });
    log.logger.info('outside');
    expect(traceHeaders()).toEqual({});
    const [inside, outside] = log.lines;
    expect(inside).toMatchObject({ msg: 'inside', trace_id: expect.stringMatching(/^[\da-f]{32}$/) });
    expect(outside).not.toHaveProperty('trace_id');
  });
});
