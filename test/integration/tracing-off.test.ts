import type { RequestListener } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { trace } from '@opentelemetry/api';
import { traceRequests } from '../../src/tracing/server-span.js';
import {
  isTracingOn,
  logTraceFields,
  recordErrorCode,
  setSpanAttributes,
  traceHeaders,
  withSpan,
} from '../../src/tracing/spans.js';
import { memoryLogger } from '../helpers/kit.js';

// With no SDK started (no OTLP endpoint), every helper is a pass-through: nothing is created,
// propagated or logged. (That no SDK package is even loaded is tested on the built service in
// tracing-process.test.ts.)

describe('tracing off', () => {
  it('withSpan runs its function as it is, with a span that records nothing', async () => {
    expect(isTracingOn()).toBe(false);
    const seen: boolean[] = [];
    const result = await withSpan('anything', { 'bff.upload.files': 1 }, async (span) => {
      seen.push(span.isRecording(), trace.getActiveSpan() === undefined);
      span.setAttribute('ignored', 1);
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(seen).toEqual([false, true]);
    await expect(
      withSpan('failing', {}, async () => {
        throw new Error('passed on');
      }),
    ).rejects.toThrow('passed on');
  });

  it('sends no traceparent, adds no log fields, and leaves the request listener untouched', () => {
    expect(traceHeaders()).toEqual({});
    expect(logTraceFields()).toEqual({});
    recordErrorCode('internal_error');
    setSpanAttributes({ a: 1 });
    const listener: RequestListener = () => undefined;
    expect(traceRequests(listener)).toBe(listener);
    const log = memoryLogger();
    log.logger.info('plain');
    expect(Object.keys(log.lines[0] ?? {}).sort()).toEqual(['level', 'msg', 'service', 'time']);
  });
});
