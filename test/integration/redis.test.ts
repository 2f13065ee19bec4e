import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildService, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { sharedRedis, suiteRedis } from '../helpers/redis.js';
import { clone, cloneUntilRecovered, sharedStoreCases } from '../helpers/shared-store.js';

describe('several instances, one Redis', () => {
  const redis = suiteRedis(sharedRedis);
  const fake = suiteFakeUpstream();

  sharedStoreCases(() => ({ REDIS_URL: redis().url }), fake);

  it('a pacing slot given back leaves the shared schedule (a caller that left costs nobody a slot)', async () => {
    const env = {
      REDIS_URL: redis().url,
      REDIS_KEY_PREFIX: `t-${randomUUID()}:`,
      UPSTREAM_RATE_LIMIT_PER_MINUTE: '2',
    };
    const b = buildService(testConfig(env), fake.url);
    try {
      expect(await b.ready(5000)).toBe(true);
      const now = Date.now();
      const book = () => b.gate.reserve(now, now + 90_000);
      const first = await book();
      const second = await book();
      const third = await book();
      expect([first.at, second.at, third.at]).toEqual([now, now, now + 60_000]);
      await b.gate.release(third);
      await b.gate.release(second);
      expect((await book()).at).toBe(now);
    } finally {
      await b.close();
    }
  });
});

describe('Redis down', () => {
  const redis = suiteRedis();
  const fake = suiteFakeUpstream();

  it('fails closed with 503 store_unavailable, readyz 503, and recovers by itself', async () => {
    const b = buildService(testConfig({ REDIS_URL: redis().url }), fake.url);
    expect(await b.ready(3000)).toBe(true);
    try {
      expect((await clone(b.app, 'n')).status).toBe(201);
      await redis().stop();
      const before = fake.received.length;
      const refused = await clone(b.app, 'n');
      expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
      expect(refused.headers['retry-after']).toBe('5');
      expect(fake.received.length).toBe(before);
      const ready = await request(b.app).get('/readyz');
      expect([ready.status, ready.body.redis]).toEqual([503, 'unavailable']);

      await redis().start();
      expect(await b.ready(5000)).toBe(true);
      await cloneUntilRecovered(b, fake, 5000);
    } finally {
      await b.close();
    }
  });

  it('started while Redis is down: refuses, then recovers once Redis is up (the limiter loads its script late)', async () => {
    await redis().stop();
    const b = buildService(testConfig({ REDIS_URL: redis().url }), fake.url);
    try {
      const refused = await clone(b.app, 'n');
      expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
      expect((await request(b.app).get('/readyz')).status).toBe(503);
      await redis().start();
      expect(await b.ready(5000)).toBe(true);
      await cloneUntilRecovered(b, fake, 5000);
    } finally {
      await b.close();
    }
  });
});
