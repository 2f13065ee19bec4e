import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../helpers/fake-clock.js';
import {
  buildService,
  postClone,
  type Reply,
  type ServiceUnderTest,
  suiteSandbox,
  testConfig,
  truedy429,
  waitUntil,
  withServiceOnClock,
} from '../helpers/kit.js';

/** When each request reached the fake, in ms after the first one, on the service's clock. */
const arrivals = (svc: ServiceUnderTest) =>
  svc.fake.received.map((r) => r.clockAt - (svc.fake.received[0]?.clockAt ?? 0));

describe('retry on 429 (SPEC "Retry policy and pacing")', () => {
  it('waits out Truedy-shaped 429s (reset_at in the body, no Retry-After) and sends byte-identical JSON', () =>
    withServiceOnClock({ queue: [truedy429(40), truedy429(40)] }, async (svc, clock) => {
      const res = await postClone(svc.url, { headers: { 'X-Request-Id': 'retry-1' } });
      expect(res.status).toBe(201);
      expect(res.headers['x-upstream-attempts']).toBe('3');
      expect(svc.fake.received).toHaveLength(3);
      expect(new Set(svc.fake.received.map((r) => r.sha256)).size).toBe(1);
      // It slept until each announced reset on its clock, and no attempt reached Truedy before it.
      expect(clock.sleeps.map((s) => s.ms)).toEqual([40, 40]);
      expect(arrivals(svc)).toEqual([0, 40, 80]);
      const retries = svc.log.lines.filter((l) => l.msg === 'upstream: retrying');
      expect(retries.map((l) => [l.request_id, l.source, l.waitMs])).toEqual([
        ['retry-1', 'reset-at', 40],
        ['retry-1', 'reset-at', 40],
      ]);
      expect(
        svc.log.lines.filter((l) => l.msg === 'upstream attempt' && l.request_id === 'retry-1'),
      ).toHaveLength(3);
    }));

  it('reads Retry-After in both RFC 9110 forms: delta-seconds, and an HTTP-date against the Date header', () => {
    const date = new Date(Math.floor(Date.now() / 1000) * 1000);
    const inTwoSeconds = new Date(date.getTime() + 2000).toUTCString();
    const queue: Reply[] = [
      { status: 429, headers: { 'retry-after': '1' }, body: {} },
      { status: 429, headers: { 'retry-after': inTwoSeconds, date: date.toUTCString() }, body: {} },
    ];
    return withServiceOnClock({ queue }, async (svc, clock) => {
      expect((await postClone(svc.url)).status).toBe(201);
      expect(clock.sleeps.map((s) => s.ms)).toEqual([1000, 2000]);
      expect(arrivals(svc)).toEqual([0, 1000, 3000]);
      const sources = svc.log.lines.filter((l) => l.msg === 'upstream: retrying').map((l) => l.source);
      expect(sources).toEqual(['retry-after', 'retry-after']);
    });
  });

  it('reads X-RateLimit-Reset-<window> (Unix seconds): the earliest reset still ahead', () => {
    // Measured against the response's own Date header (whole seconds), so the resets are set relative to it.
    const serverSecond = Math.floor(Date.now() / 1000);
    const reply: Reply = {
      status: 429,
      headers: {
        date: new Date(serverSecond * 1000).toUTCString(),
        'x-ratelimit-reset-second': String(serverSecond - 5),
        'x-ratelimit-reset-minute': (serverSecond + 1.5).toFixed(3),
        'x-ratelimit-reset-hour': String(serverSecond + 1800),
      },
      body: {},
    };
    return withServiceOnClock({ queue: [reply] }, async (svc, clock) => {
      expect((await postClone(svc.url)).status).toBe(201);
      expect(svc.fake.received).toHaveLength(2);
      expect(clock.sleeps.map((s) => s.ms)).toEqual([1500]);
      expect(svc.log.lines.find((l) => l.msg === 'upstream: retrying')?.source).toBe('x-ratelimit-reset');
    });
  });

  it('without any hint it backs off with full jitter and retries', () =>
    withServiceOnClock(
      { queue: [{ status: 429, body: 'slow down' }], service: { random: () => 0.5 } },
      async (svc, clock) => {
        expect((await postClone(svc.url)).status).toBe(201);
        expect(svc.fake.received).toHaveLength(2);
        // RETRY_BASE_DELAY_MS 5, random 0.5: the first ceiling is 5 ms, the wait floor(2.5).
        expect(clock.sleeps.map((s) => s.ms)).toEqual([2]);
        expect(svc.log.lines.find((l) => l.msg === 'upstream: retrying')).toMatchObject({
          source: 'backoff',
          waitMs: 2,
        });
      },
    ));

  it.each([
    [
      'the reset is further than RETRY_MAX_DELAY_MS',
      [truedy429(30_000)],
      { RETRY_MAX_DELAY_MS: '1000' },
      '30',
      [],
    ],
    [
      'the attempts are spent',
      [truedy429(10), truedy429(10), truedy429(1500)],
      { RETRY_MAX_ATTEMPTS: '3' },
      '2',
      [10, 10],
    ],
    ['the wait would pass RETRY_BUDGET_MS', [truedy429(800)], { RETRY_BUDGET_MS: '300' }, '1', []],
  ])(
    'gives up when %s: 429 with the last reset as Retry-After, having waited only what fitted',
    (_when, queue, env, retryAfter, waits) =>
      withServiceOnClock({ queue, env }, async (svc, clock) => {
        const res = await postClone(svc.url);
        expect([res.status, res.body.error.code]).toEqual([429, 'upstream_rate_limited']);
        expect(res.headers['retry-after']).toBe(retryAfter);
        expect(res.headers['x-upstream-attempts']).toBe(String(waits.length + 1));
        expect(svc.fake.received).toHaveLength(waits.length + 1);
        // Not a millisecond spent on a wait that could not lead anywhere.
        expect(clock.sleeps.map((s) => s.ms)).toEqual(waits);
        // The request's log line and its audit entry count the same attempts as the header.
        const attempts = waits.length + 1;
        const request = () => svc.log.lines.find((l) => l.msg === 'request');
        await waitUntil('the request log line', () => request() !== undefined);
        expect(request()).toMatchObject({ status: 429, upstream_attempts: attempts });
        const outcome = svc.log.lines.find((l) => l.audit === true && l.event === 'clone_outcome');
        expect(outcome).toMatchObject({ status: 429, attempts });
      }),
  );
});

describe('the sandbox [rate-limit] scenario', () => {
  const sandbox = suiteSandbox();

  it('behaves like Truedy (a 1 s reset_at against its meta.ts) and ends in a success', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const { app, log } = buildService(testConfig(), sandbox.url, { clock, random: () => 0 });
    const res = await postClone(app, { name: 'Voice [rate-limit]' });
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-attempts']).toBe('2');
    expect(clock.sleeps.map((s) => s.ms)).toEqual([1000]);
    expect(log.lines.find((l) => l.msg === 'upstream: retrying')?.source).toBe('reset-at');
  });
});
