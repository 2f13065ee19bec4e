import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../helpers/fake-clock.js';
import { wavOfSize } from '../helpers/fixtures.js';
import {
  buildService,
  inFlight,
  listen,
  postClone,
  startFakeUpstream,
  testConfig,
  withServiceOnClock,
} from '../helpers/kit.js';

/** A port that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const probe = await listen(() => undefined);
  await probe.close();
  return Number(new URL(probe.url).port);
}

describe('no retry where a second call could clone twice (SPEC "Retry policy and pacing")', () => {
  it.each([
    [400, 400, 'invalid_audio', { error: { code: 'invalid_audio', message: 'bad audio' } }],
    [402, 402, 'insufficient_credits', { error: { code: 'insufficient_credits', message: 'no' } }],
    [422, 422, 'validation_error', { detail: [] }],
    [500, 502, 'upstream_error', { error: { code: 'internal_error' } }],
    [502, 502, 'upstream_error', 'bad gateway'],
    [503, 502, 'upstream_error', { error: { code: 'unavailable' } }],
  ])('upstream %i: exactly one call, answered %i %s', (status, answer, code, body) =>
    withServiceOnClock({ queue: [{ status, body }] }, async (svc, clock) => {
      const res = await postClone(svc.url);
      expect([res.status, res.body.error.code]).toEqual([answer, code]);
      expect(res.headers['x-upstream-attempts']).toBe('1');
      expect(svc.fake.received).toHaveLength(1);
      expect(clock.sleeps).toEqual([]);
    }),
  );

  // A redirect is Truedy's answer, not an instruction: following it would send the key and the
  // voice to wherever the Location points.
  it('upstream 302: not followed, exactly one call, answered 502 upstream_error', () =>
    withServiceOnClock({ queue: [] }, async (svc) => {
      svc.fake.queue.push({ status: 302, body: {}, headers: { location: `${svc.fake.url}/elsewhere` } });
      const res = await postClone(svc.url);
      expect([res.status, res.body.error.code]).toEqual([502, 'upstream_error']);
      expect(svc.fake.received.map((r) => r.url)).toEqual(['/voices/clone']);
    }));

  // UPSTREAM_TIMEOUT_MS is got's own timer, on the wall clock: 150 ms of real time, no retry wait.
  it('a timeout: one call, 504 upstream_timeout', () =>
    withServiceOnClock({ queue: [{ hang: true }], env: { UPSTREAM_TIMEOUT_MS: '150' } }, async (svc) => {
      const res = await postClone(svc.url);
      expect([res.status, res.body.error.code]).toEqual([504, 'upstream_timeout']);
      expect(svc.fake.received).toHaveLength(1);
    }));

  it('a connection reset after the body was sent: one call, 502 upstream_unavailable', () =>
    withServiceOnClock({ queue: [{ destroy: 'after-body' }] }, async (svc) => {
      const res = await postClone(svc.url);
      expect([res.status, res.body.error.code]).toEqual([502, 'upstream_unavailable']);
      expect(svc.fake.received).toHaveLength(1);
    }));

  it('a connection that breaks before the whole body was sent is retried: Truedy never had the request', () => {
    // The fake resets as soon as the request head arrives; 16 MiB of JSON cannot all have left
    // by then (socket buffers hold a few MiB), so the body was cut short. The size is the point here.
    const big = wavOfSize(12 * 1024 * 1024);
    return withServiceOnClock(
      { queue: [{ destroy: 'before-body' }], env: { MAX_FILE_BYTES: String(16 * 1024 * 1024) } },
      async (svc, clock) => {
        const res = await postClone(svc.url, { name: 'Big', files: [{ data: big, filename: 'big.wav' }] });
        expect(res.status).toBe(201);
        expect(res.headers['x-upstream-attempts']).toBe('2');
        expect(svc.fake.received).toHaveLength(1);
        expect(clock.sleeps).toHaveLength(1);
        expect(
          svc.log.lines.some((l) => l.msg === 'upstream connection broke before the request was sent'),
        ).toBe(true);
      },
    );
  });

  it('a 503 that says when is retried, after the wait it named', () =>
    withServiceOnClock(
      { queue: [{ status: 503, headers: { 'retry-after': '1' }, body: {} }], service: { random: () => 0.5 } },
      async (svc, clock) => {
        expect((await postClone(svc.url)).status).toBe(201);
        expect(svc.fake.received).toHaveLength(2);
        // The named second, plus the spread that keeps waiters apart: random 0.5 × 10% of it.
        expect(clock.sleeps.map((s) => s.ms)).toEqual([1050]);
      },
    ));
});

describe('a connection that never opened is retried', () => {
  it('refused every time: all attempts, backing off between them, then 502 upstream_unavailable', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const { app, log } = buildService(
      testConfig({ RETRY_MAX_ATTEMPTS: '3' }),
      `http://127.0.0.1:${await closedPort()}`,
      { clock, random: () => 0.5 },
    );
    const res = await postClone(app);
    expect([res.status, res.body.error.code]).toEqual([502, 'upstream_unavailable']);
    expect(res.headers['x-upstream-attempts']).toBe('3');
    expect(
      log.lines.filter((l) => l.msg === 'upstream attempt' && l.outcome === 'connect_failed'),
    ).toHaveLength(3);
    // Full jitter under a doubling ceiling: RETRY_BASE_DELAY_MS 5, then 10; random 0.5.
    expect(clock.sleeps.map((s) => s.ms)).toEqual([2, 5]);
  });

  it('refused, then the upstream comes up during the backoff: the next attempt succeeds', async () => {
    const clock = new FakeClock();
    const port = await closedPort();
    const { app } = buildService(testConfig({ RETRY_BASE_DELAY_MS: '100' }), `http://127.0.0.1:${port}`, {
      clock,
      random: () => 0.99,
    });
    const pending = inFlight(postClone(app));
    const [backoff] = await clock.waitForSleepers(1);
    expect(backoff?.ms).toBe(99);
    const late = await startFakeUpstream();
    try {
      late.server.close();
      await new Promise<void>((resolve) => late.server.listen(port, '127.0.0.1', resolve));
      clock.tick();
      const res = await pending;
      expect(res.status).toBe(201);
      expect(res.headers['x-upstream-attempts']).toBe('2');
      expect(late.received).toHaveLength(1);
    } finally {
      await late.close();
    }
  });
});
