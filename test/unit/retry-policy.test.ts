import { describe, expect, it } from '@jest/globals';
import {
  type AttemptOutcome,
  decideRetry,
  isRetryable,
  type RetryInput,
  retryAfterSeconds,
  spread,
  upstreamWait,
} from '../../src/upstream/retry-policy.js';

const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const settings = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 20_000, budgetMs: 60_000 };
const res = (status: number, headers: Record<string, string> = {}, body?: unknown): AttemptOutcome => ({
  kind: 'response',
  status,
  headers,
  body,
});
const input = (outcome: AttemptOutcome, over: Partial<RetryInput> = {}): RetryInput => ({
  outcome,
  attempt: 1,
  elapsedMs: 0,
  idempotent: false,
  settings,
  now: NOW,
  random: () => 0,
  ...over,
});

describe('upstreamWait: where the wait comes from, in SPEC order', () => {
  it('Retry-After delta-seconds', () => {
    expect(upstreamWait({ 'retry-after': '7' }, undefined, NOW)).toEqual({ ms: 7000, source: 'retry-after' });
  });

  it('Retry-After HTTP-date, measured against the response Date when present', () => {
    const at = new Date(NOW + 3000).toUTCString();
    expect(upstreamWait({ 'retry-after': at }, undefined, NOW)).toEqual({ ms: 3000, source: 'retry-after' });
    // Our clock is 1 h ahead of Truedy's; the Date header cancels the skew.
    const serverNow = new Date(NOW - 3_600_000);
    const serverAt = new Date(NOW - 3_600_000 + 5000).toUTCString();
    expect(upstreamWait({ 'retry-after': serverAt, date: serverNow.toUTCString() }, undefined, NOW)?.ms).toBe(
      5000,
    );
    expect(upstreamWait({ 'retry-after': new Date(NOW - 5000).toUTCString() }, undefined, NOW)?.ms).toBe(0);
  });

  it('body reset_at against the same body meta.ts, so clock skew does not matter', () => {
    const body = {
      error: { code: 'rate_limit_exceeded', details: { limit: 100, reset_at: '2020-01-01T00:00:12.500Z' } },
      meta: { ts: '2020-01-01T00:00:10.000Z' },
    };
    expect(upstreamWait({}, body, NOW)).toEqual({ ms: 2500, source: 'reset-at' });
  });

  it('body reset_at without meta.ts is measured against our clock', () => {
    const body = { error: { details: { reset_at: new Date(NOW + 1500).toISOString() } } };
    expect(upstreamWait({}, body, NOW)).toEqual({ ms: 1500, source: 'reset-at' });
  });

  it('Retry-After wins over reset_at, which wins over X-RateLimit-Reset', () => {
    const body = { error: { details: { reset_at: new Date(NOW + 9000).toISOString() } } };
    const xr = { 'x-ratelimit-reset': String((NOW + 4000) / 1000) };
    expect(upstreamWait({ 'retry-after': '2', ...xr }, body, NOW)?.source).toBe('retry-after');
    expect(upstreamWait(xr, body, NOW)?.source).toBe('reset-at');
    expect(upstreamWait(xr, undefined, NOW)).toEqual({ ms: 4000, source: 'x-ratelimit-reset' });
  });

  it('X-RateLimit-Reset-<window>: the earliest one that lies ahead', () => {
    const h = {
      'x-ratelimit-reset-minute': String(Math.floor((NOW + 30_000) / 1000)),
      'x-ratelimit-reset-second': String(Math.floor((NOW - 2000) / 1000)),
      'x-ratelimit-reset-hour': String(Math.floor((NOW + 1_800_000) / 1000)),
    };
    expect(upstreamWait(h, undefined, NOW)).toEqual({ ms: 30_000, source: 'x-ratelimit-reset' });
  });

  it('nothing usable: undefined (backoff decides)', () => {
    expect(
      upstreamWait({ 'retry-after': 'soon', 'x-ratelimit-reset': 'x' }, { error: {} }, NOW),
    ).toBeUndefined();
    expect(upstreamWait({ 'x-ratelimit-reset': String(NOW / 1000 - 10) }, 'text', NOW)).toBeUndefined();
  });
});

describe('isRetryable: only where a retry cannot create a second voice', () => {
  it.each([
    [res(429), false, false, true],
    [res(503), false, true, true],
    [res(503), false, false, false],
    [res(400), false, false, false],
    [res(402), false, false, false],
    [res(422), false, false, false],
    [res(500), false, false, false],
    [res(502), false, false, false],
    [res(504), false, false, false],
    [{ kind: 'connect_failed' }, false, false, true],
    [{ kind: 'unsent' }, false, false, true],
    [{ kind: 'timeout' }, false, false, false],
    [{ kind: 'network' }, false, false, false],
    // A read is safe to repeat.
    [res(502), true, false, true],
    [res(503), true, false, true],
    [res(504), true, false, true],
    [{ kind: 'timeout' }, true, false, true],
    [res(500), true, false, false],
    [res(404), true, false, false],
  ] as [AttemptOutcome, boolean, boolean, boolean][])(
    '%j idempotent=%s retry-after=%s → %s',
    (o, idem, told, expected) => {
      expect(isRetryable(o, idem, told)).toBe(expected);
    },
  );
});

describe('decideRetry', () => {
  it('full jitter: random(0, min(max, base * 2^n))', () => {
    const d = (attempt: number, r: number) => decideRetry(input(res(429), { attempt, random: () => r }));
    expect(d(1, 0.5)).toEqual({ retry: true, delayMs: 250, source: 'backoff' });
    expect(d(2, 0.5)).toEqual({ retry: true, delayMs: 500, source: 'backoff' });
    expect(d(3, 0.999)).toEqual({ retry: true, delayMs: 1998, source: 'backoff' });
    const capped = decideRetry(
      input(res(429), {
        attempt: 3,
        random: () => 0.5,
        settings: { ...settings, maxDelayMs: 600, maxAttempts: 9 },
      }),
    );
    expect(capped).toEqual({ retry: true, delayMs: 300, source: 'backoff' });
  });

  it('an upstream wait gets a small random spread', () => {
    const d = decideRetry(input(res(429, { 'retry-after': '2' }), { random: () => 0.5 }));
    expect(d).toEqual({ retry: true, delayMs: 2000 + spread(2000, () => 0.5), source: 'retry-after' });
    expect(spread(2000, () => 0.999)).toBeLessThanOrEqual(200);
    expect(spread(0, () => 0.999)).toBeLessThan(50);
    expect(spread(60_000, () => 0.999)).toBeLessThan(1000);
  });

  it('gives up at once when the upstream wait exceeds RETRY_MAX_DELAY_MS', () => {
    expect(decideRetry(input(res(429, { 'retry-after': '21' })))).toEqual({
      retry: false,
      reason: 'wait_too_long',
      retryAfterMs: 21_000,
    });
  });

  it('gives up when attempts are spent, naming a Retry-After', () => {
    expect(decideRetry(input(res(429, { 'retry-after': '1' }), { attempt: 4 }))).toEqual({
      retry: false,
      reason: 'attempts_spent',
      retryAfterMs: 1000,
    });
    expect(decideRetry(input({ kind: 'connect_failed' }, { attempt: 4 }))).toMatchObject({ retry: false });
  });

  it('gives up when the wait would end past the budget', () => {
    expect(decideRetry(input(res(429, { 'retry-after': '5' }), { elapsedMs: 56_000 }))).toEqual({
      retry: false,
      reason: 'budget',
      retryAfterMs: 5000,
    });
  });

  it('never retries what could clone twice', () => {
    for (const o of [
      res(400),
      res(402),
      res(422),
      res(500),
      res(502),
      res(503),
      { kind: 'timeout' } as const,
    ]) {
      expect(decideRetry(input(o))).toEqual({ retry: false, reason: 'not_retryable' });
    }
  });

  it('retries a 503 that says when', () => {
    expect(decideRetry(input(res(503, { 'retry-after': '1' })))).toMatchObject({
      retry: true,
      source: 'retry-after',
    });
  });

  it("does not retry a clone's 503 whose only time is a rate-limit reset (SPEC: only Retry-After)", () => {
    const resetAt = { error: { details: { reset_at: new Date(NOW + 5000).toISOString() } } };
    for (const o of [
      res(503, { 'x-ratelimit-reset': String(NOW / 1000 + 5) }),
      res(503, { 'x-ratelimit-reset-minute': String(NOW / 1000 + 5) }),
      res(503, {}, resetAt),
    ]) {
      expect(decideRetry(input(o))).toEqual({ retry: false, reason: 'not_retryable' });
      // A read may be repeated, and then the reset is when.
      expect(decideRetry(input(o, { idempotent: true }))).toMatchObject({ retry: true });
    }
  });
});

describe('retryAfterSeconds', () => {
  it('is whole seconds, rounded up, at least 1', () => {
    expect([0, 1, 999, 1000, 1001, 20_500].map(retryAfterSeconds)).toEqual(['1', '1', '1', '1', '2', '21']);
  });
});
