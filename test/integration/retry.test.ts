import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createMemoryGate, type UpstreamGate } from '../../src/stores/upstream-gate.js';
import {
  audio,
  buildService,
  type FakeUpstream,
  filesIn,
  listen,
  type Reply,
  type Running,
  startFakeUpstream,
  startSandbox,
  testConfig,
  truedy429,
} from '../helpers/kit.js';

let fake: FakeUpstream | undefined;
const servers: Running[] = [];
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const clone = (app: Parameters<typeof request>[0], name = 'Voice') =>
  request(app).post('/api/voices/clone').field('name', name).attach('files', audio('sample.mp3'));

async function scripted(queue: Reply[], overrides: Record<string, string> = {}, random = () => 0) {
  fake = await startFakeUpstream(queue);
  return { fake, ...buildService(testConfig(overrides), fake.url, { random }) };
}

describe('retry on 429', () => {
  it('waits out Truedy-shaped 429s (reset_at in the body, no Retry-After) and sends byte-identical JSON', async () => {
    const { fake, app, log } = await scripted([truedy429(40), truedy429(40)]);
    const res = await clone(app).set('X-Request-Id', 'retry-1');
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-attempts']).toBe('3');
    expect(fake.received).toHaveLength(3);
    expect(new Set(fake.received.map((r) => r.sha256)).size).toBe(1);
    const [first, second] = fake.received;
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(35);
    const retries = log.lines.filter((l) => l.msg === 'upstream: retrying');
    expect(retries).toHaveLength(2);
    expect(retries.every((l) => l.request_id === 'retry-1' && l.source === 'reset-at')).toBe(true);
    expect(log.lines.filter((l) => l.msg === 'upstream attempt' && l.request_id === 'retry-1')).toHaveLength(
      3,
    );
  });

  it('reads Retry-After in both RFC 9110 forms', async () => {
    const date = new Date().toUTCString();
    const { fake, app } = await scripted([
      { status: 429, headers: { 'retry-after': '0' }, body: {} },
      { status: 429, headers: { 'retry-after': date, date }, body: {} },
    ]);
    const res = await clone(app);
    expect(res.status).toBe(201);
    expect(fake.received).toHaveLength(3);
  });

  it('reads X-RateLimit-Reset-<window> (Unix seconds)', async () => {
    // Measured against the response's own Date header (whole seconds), so the reset is set relative to it.
    const serverSecond = Math.floor(Date.now() / 1000);
    const { fake, app, log } = await scripted([
      {
        status: 429,
        headers: {
          date: new Date(serverSecond * 1000).toUTCString(),
          'x-ratelimit-reset-second': String(serverSecond - 5),
          'x-ratelimit-reset-minute': (serverSecond + 0.08).toFixed(3),
        },
        body: {},
      },
    ]);
    const res = await clone(app);
    expect(res.status).toBe(201);
    expect(fake.received).toHaveLength(2);
    expect(log.lines.find((l) => l.msg === 'upstream: retrying')?.source).toBe('x-ratelimit-reset');
  });

  it('without any hint it backs off with jitter and retries', async () => {
    const { fake, app, log } = await scripted([{ status: 429, body: 'slow down' }], {}, () => 0.5);
    expect((await clone(app)).status).toBe(201);
    expect(fake.received).toHaveLength(2);
    expect(log.lines.find((l) => l.msg === 'upstream: retrying')).toMatchObject({
      source: 'backoff',
      waitMs: 2,
    });
  });

  it('gives up at once when the reset is further than RETRY_MAX_DELAY_MS', async () => {
    const { fake, app } = await scripted([truedy429(30_000)], { RETRY_MAX_DELAY_MS: '1000' });
    const res = await clone(app);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('upstream_rate_limited');
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['x-upstream-attempts']).toBe('1');
    expect(fake.received).toHaveLength(1);
  });

  it('gives up when the attempts are spent', async () => {
    const { fake, app } = await scripted([truedy429(10), truedy429(10), truedy429(1500)], {
      RETRY_MAX_ATTEMPTS: '3',
    });
    const res = await clone(app);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.headers['x-upstream-attempts']).toBe('3');
    expect(fake.received).toHaveLength(3);
  });

  it('gives up when the wait would pass RETRY_BUDGET_MS', async () => {
    const { fake, app } = await scripted([truedy429(800)], { RETRY_BUDGET_MS: '300' });
    const started = Date.now();
    const res = await clone(app);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(Date.now() - started).toBeLessThan(700);
    expect(fake.received).toHaveLength(1);
  });

  it('the sandbox [rate-limit] scenario behaves like Truedy and ends in a success', async () => {
    const sandbox = await startSandbox();
    servers.push(sandbox);
    const { app, log } = buildService(testConfig(), sandbox.url);
    const res = await clone(app, 'Voice [rate-limit]');
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-attempts']).toBe('2');
    expect(log.lines.find((l) => l.msg === 'upstream: retrying')?.source).toBe('reset-at');
  });
});

describe('no retry where a second call could clone twice', () => {
  it.each([
    [400, 400, 'invalid_audio', { error: { code: 'invalid_audio', message: 'bad audio' } }],
    [402, 402, 'insufficient_credits', { error: { code: 'insufficient_credits', message: 'no' } }],
    [422, 422, 'validation_error', { detail: [] }],
    [500, 502, 'upstream_error', { error: { code: 'internal_error' } }],
    [502, 502, 'upstream_error', 'bad gateway'],
    [503, 502, 'upstream_error', { error: { code: 'unavailable' } }],
  ])('upstream %i: exactly one call, answered %i %s', async (status, answer, code, body) => {
    const { fake, app } = await scripted([{ status, body }]);
    const res = await clone(app);
    expect([res.status, res.body.error.code]).toEqual([answer, code]);
    expect(res.headers['x-upstream-attempts']).toBe('1');
    expect(fake.received).toHaveLength(1);
  });

  it('a timeout: one call, 504 upstream_timeout', async () => {
    const { fake, app } = await scripted([{ hang: true }], { UPSTREAM_TIMEOUT_MS: '150' });
    const res = await clone(app);
    expect([res.status, res.body.error.code]).toEqual([504, 'upstream_timeout']);
    expect(fake.received).toHaveLength(1);
  });

  it('a connection reset after the body was sent: one call, 502 upstream_unavailable', async () => {
    const { fake, app } = await scripted([{ destroy: 'after-body' }]);
    const res = await clone(app);
    expect([res.status, res.body.error.code]).toEqual([502, 'upstream_unavailable']);
    expect(fake.received).toHaveLength(1);
  });

  it('a connection that breaks before the whole body was sent is retried: Truedy never had the request', async () => {
    // The fake resets as soon as the request head arrives; 16 MiB of JSON cannot all have left
    // by then (socket buffers hold a few MiB), so the body was cut short.
    const { fake, app, log } = await scripted([{ destroy: 'before-body' }], {
      MAX_FILE_BYTES: String(16 * 1024 * 1024),
    });
    const wav = await readFile(audio('sample.wav'));
    const big = Buffer.concat([wav, Buffer.alloc(12 * 1024 * 1024 - wav.length, 1)]);
    const res = await request(app)
      .post('/api/voices/clone')
      .field('name', 'Big')
      .attach('files', big, 'big.wav');
    expect(res.status).toBe(201);
    expect(res.headers['x-upstream-attempts']).toBe('2');
    expect(fake.received).toHaveLength(1);
    expect(log.lines.some((l) => l.msg === 'upstream connection broke before the request was sent')).toBe(
      true,
    );
  });

  it('a 503 that says when is retried', async () => {
    const { fake, app } = await scripted([{ status: 503, headers: { 'retry-after': '0' }, body: {} }]);
    expect((await clone(app)).status).toBe(201);
    expect(fake.received).toHaveLength(2);
  });
});

describe('a connection that never opened is retried', () => {
  it('refused every time: all attempts, then 502 upstream_unavailable', async () => {
    // A port that was free a moment ago and has no listener now.
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const { app, log } = buildService(testConfig({ RETRY_MAX_ATTEMPTS: '3' }), `http://127.0.0.1:${port}`);
    const res = await clone(app);
    expect([res.status, res.body.error.code]).toEqual([502, 'upstream_unavailable']);
    expect(res.headers['x-upstream-attempts']).toBe('3');
    expect(
      log.lines.filter((l) => l.msg === 'upstream attempt' && l.outcome === 'connect_failed'),
    ).toHaveLength(3);
  });

  it('refused, then the upstream comes up: success', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const { app } = buildService(testConfig({ RETRY_BASE_DELAY_MS: '100' }), `http://127.0.0.1:${port}`, {
      random: () => 0.99,
    });
    const pending = clone(app).then((r) => r);
    await new Promise((r) => setTimeout(r, 30));
    const late = await startFakeUpstream();
    servers.push(late);
    await new Promise<void>((resolve) => {
      late.server.close();
      const s = late.server.listen(port, '127.0.0.1', () => resolve());
      void s;
    });
    const res = await pending;
    expect(res.status).toBe(201);
    expect(Number(res.headers['x-upstream-attempts'])).toBeGreaterThan(1);
  });
});

describe('a client that disconnects', () => {
  it('cancels the pending wait and every attempt still to come, and leaves no spooled file', async () => {
    const { fake, app, config, memoryBudget } = await scripted([truedy429(400)]);
    const server = await listen(app);
    servers.push(server);
    const controller = new AbortController();
    const form = new FormData();
    form.append('name', 'Leaving');
    form.append(
      'files',
      new Blob([Buffer.from(await (await import('node:fs/promises')).readFile(audio('sample.mp3')))]),
      'a.mp3',
    );
    const pending = fetch(`${server.url}/api/voices/clone`, {
      method: 'POST',
      body: form,
      signal: controller.signal,
    });
    while (fake.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(pending).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.received).toHaveLength(1);
    expect(filesIn(config.uploadDir)).toEqual([]);
    expect(memoryBudget.inUse).toBe(0);
  });
});

describe('shared cooldown and pacing', () => {
  it('a 429 pauses the other requests in the process until the announced reset', async () => {
    const { fake, app } = await scripted([truedy429(300)]);
    const first = clone(app, 'first').then((r) => r);
    while (fake.received.length === 0) await new Promise((r) => setTimeout(r, 2));
    const limitedAt = fake.received[0]?.at ?? 0;
    await new Promise((r) => setTimeout(r, 20));
    const second = await clone(app, 'second');
    expect(second.status).toBe(201);
    expect((await first).status).toBe(201);
    const secondArrival = fake.received.find((r) => r.body.includes('"second"'));
    expect(fake.received.filter((r) => r.body.includes('"second"'))).toHaveLength(1);
    expect((secondArrival?.at ?? 0) - limitedAt).toBeGreaterThanOrEqual(280);
  });

  it('with a cap of N, N+50 clones at once: at most N per window, the rest succeed in turn or get a clean 429', async () => {
    const N = 5;
    const windowMs = 1000;
    fake = await startFakeUpstream();
    // The memory gate, recording every send time it grants: the schedule itself, free of transit.
    const inner = createMemoryGate({ limit: N, windowMs });
    const granted: number[] = [];
    const gate: UpstreamGate = {
      ...inner,
      reserve: async (now, deadline) => {
        const slot = await inner.reserve(now, deadline);
        if (slot.ok) granted.push(slot.at);
        return slot;
      },
    };
    const { app } = buildService(
      testConfig({ UPSTREAM_RATE_LIMIT_PER_MINUTE: String(N), RETRY_BUDGET_MS: '2200' }),
      fake.url,
      { pacingWindowMs: windowMs, gate },
    );
    const server = await listen(app);
    servers.push(server);
    const mp3 = await (await import('node:fs/promises')).readFile(audio('sample.mp3'));
    const results = await Promise.all(
      Array.from({ length: N + 50 }, async (_, i) => {
        const form = new FormData();
        form.append('name', `v${i}`);
        form.append('files', new Blob([mp3]), 'a.mp3');
        const r = await fetch(`${server.url}/api/voices/clone`, { method: 'POST', body: form });
        return {
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: (await r.json()) as { error?: { code: string } },
        };
      }),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    // Slots at 0, 1000 and 2000 ms fit a 2200 ms budget: at least 3 windows of N. On a busy machine
    // the 55 uploads are read over a longer span, and each budget starts when its upload has been
    // read, so part of a fourth window may fit too; never all eleven.
    expect(ok.length).toBeGreaterThanOrEqual(3 * N);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.status === 429 && r.body.error?.code === 'upstream_rate_limited')).toBe(
      true,
    );
    expect(refused.every((r) => Number(r.retryAfter) >= 1)).toBe(true);
    const inWindow = (times: number[], t: number, width: number) =>
      times.filter((u) => u >= t && u < t + width).length;
    // The schedule: never more than N sends in any window.
    expect(granted).toHaveLength(ok.length);
    for (const t of granted) expect(inWindow(granted, t, windowMs)).toBeLessThanOrEqual(N);
    // What the fake saw: the same, less the transit time between send and arrival, which on a
    // busy machine (client, service and fake share this process) reaches 150 ms: allow 200.
    const arrivals = fake.received.map((r) => r.startedAt);
    expect(arrivals).toHaveLength(ok.length);
    for (const t of arrivals) expect(inWindow(arrivals, t, windowMs - 200)).toBeLessThanOrEqual(N);
  });
});
