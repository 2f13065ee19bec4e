import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import {
  audio,
  buildService,
  listen,
  type Running,
  suiteFakeUpstream,
  testConfig,
  truedy429,
} from '../helpers/kit.js';
import { sharedRedis, startRedis, type TestRedis } from '../helpers/redis.js';

type Built = ReturnType<typeof buildService>;

/** Two instances of the service sharing one Redis, each on its own port. */
async function twoInstances(
  redisUrl: string,
  fakeUrl: string,
  env: Record<string, string>,
  pacingWindowMs?: number,
) {
  const built: Built[] = [];
  const running: Running[] = [];
  for (let i = 0; i < 2; i++) {
    const b = buildService(testConfig({ REDIS_URL: redisUrl, ...env }), fakeUrl, { pacingWindowMs });
    expect(await b.ready(3000)).toBe(true);
    built.push(b);
    running.push(await listen(b.app));
  }
  return {
    built,
    running,
    close: async () => {
      await Promise.all(running.map((r) => r.close()));
      await Promise.all(built.map((b) => b.close()));
    },
  };
}

async function flush(url: string) {
  const { Redis } = await import('ioredis');
  const r = new Redis(url);
  await r.flushall();
  await r.quit();
}

describe('several instances, one Redis', () => {
  let redis: TestRedis;
  const fake = suiteFakeUpstream();
  beforeAll(async () => {
    redis = await sharedRedis();
  });
  afterAll(() => redis.stop());

  it('share the inbound limit: the N+1th clone across both instances is refused', async () => {
    await flush(redis.url);
    const pair = await twoInstances(redis.url, fake.url, { RATE_LIMIT_MAX: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const target = pair.running[i % 2] as Running;
        const res = await request(target.url)
          .post('/api/voices/clone')
          .field('name', 'n')
          .attach('files', audio('sample.mp3'));
        statuses.push(res.status);
      }
      expect(statuses).toEqual([201, 201, 201, 429]);
      const ready = await request((pair.running[0] as Running).url).get('/readyz');
      expect(ready.body).toMatchObject({ status: 'ready', redis: 'ok' });
    } finally {
      await pair.close();
    }
  });

  it("share the cooldown: a 429 learned by one instance delays the other's next upstream call", async () => {
    await flush(redis.url);
    fake.queue.push(truedy429(400));
    const pair = await twoInstances(redis.url, fake.url, {});
    try {
      const before = fake.received.length;
      const first = request((pair.running[0] as Running).url)
        .post('/api/voices/clone')
        .field('name', 'one')
        .attach('files', audio('sample.mp3'))
        .then((r) => r);
      while (fake.received.length === before) await new Promise((r) => setTimeout(r, 2));
      const limitedAt = fake.received.at(-1)?.at ?? 0;
      const second = await request((pair.running[1] as Running).url)
        .post('/api/voices/clone')
        .field('name', 'two')
        .attach('files', audio('sample.mp3'));
      expect(second.status).toBe(201);
      expect((await first).status).toBe(201);
      const twoArrived = fake.received.find((r) => r.body.includes('"two"'))?.at ?? 0;
      expect(twoArrived - limitedAt).toBeGreaterThanOrEqual(370);
    } finally {
      await pair.close();
    }
  });

  it('share the pacing: UPSTREAM_RATE_LIMIT_PER_MINUTE holds for both together', async () => {
    await flush(redis.url);
    const N = 4;
    const windowMs = 1000;
    const pair = await twoInstances(
      redis.url,
      fake.url,
      { UPSTREAM_RATE_LIMIT_PER_MINUTE: String(N), RETRY_BUDGET_MS: '1400' },
      windowMs,
    );
    try {
      const start = fake.received.length;
      const results = await Promise.all(
        Array.from({ length: 3 * N }, (_, i) =>
          request((pair.running[i % 2] as Running).url)
            .post('/api/voices/clone')
            .field('name', `p${i}`)
            .attach('files', audio('sample.mp3')),
        ),
      );
      const ok = results.filter((r) => r.status === 201).length;
      // Slots at 0 and 1000 ms fit a 1400 ms budget; a budget starts when its upload has been read,
      // so on a busy machine a late one may reach a third window, but never all of them do.
      expect(ok).toBeGreaterThanOrEqual(2 * N);
      expect(ok).toBeLessThan(3 * N);
      expect(
        results.filter((r) => r.status !== 201).every((r) => r.body.error.code === 'upstream_rate_limited'),
      ).toBe(true);
      // Arrival times at the fake trail the send slots by transit, up to 150 ms on a busy machine
      // (both instances, the fake and the clients share this process): allow 200.
      const times = fake.received.slice(start).map((r) => r.startedAt);
      expect(times).toHaveLength(ok);
      for (const t of times)
        expect(times.filter((u) => u >= t && u < t + windowMs - 200).length).toBeLessThanOrEqual(N);
    } finally {
      await pair.close();
    }
  });
});

describe('Redis down', () => {
  let redis: TestRedis;
  const fake = suiteFakeUpstream();
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it('fails closed with 503 store_unavailable, readyz 503, and recovers by itself', async () => {
    const b = buildService(testConfig({ REDIS_URL: redis.url }), fake.url);
    expect(await b.ready(3000)).toBe(true);
    const clone = () =>
      request(b.app).post('/api/voices/clone').field('name', 'n').attach('files', audio('sample.mp3'));
    try {
      expect((await clone()).status).toBe(201);
      await redis.stop();
      const before = fake.received.length;
      const refused = await clone();
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('store_unavailable');
      expect(fake.received.length).toBe(before);
      const ready = await request(b.app).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.redis).toBe('unavailable');

      await redis.start();
      expect(await b.ready(5000)).toBe(true);
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline && status !== 201) {
        status = (await clone()).status;
        if (status !== 201) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(201);
      expect((await request(b.app).get('/readyz')).status).toBe(200);
    } finally {
      await b.close();
    }
  });
});
