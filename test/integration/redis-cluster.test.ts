import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { redisKeys } from '../../src/stores/redis.js';
import { buildService, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { startCluster, type TestCluster } from '../helpers/redis-topologies.js';
import { clone, cloneUntilRecovered, sharedStoreCases } from '../helpers/shared-store.js';

describe('several instances, one Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: TestCluster;
  const fake = suiteFakeUpstream();
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  sharedStoreCases(() => ({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds }), fake);

  it("the limiter's script is found wherever its key lives: after SCRIPT FLUSH everywhere, the next clone passes", async () => {
    const b = buildService(
      testConfig({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds, REDIS_KEY_PREFIX: 'flush:' }),
      fake.url,
    );
    try {
      expect(await b.ready(5000)).toBe(true);
      // SCRIPT LOAD has no key, so a Cluster client sends it to a random node: each round would
      // then fail with NOSCRIPT where the limiter's key lives about half the time.
      for (let round = 0; round < 6; round++) {
        await cluster.onEveryNode('SCRIPT', 'FLUSH');
        expect((await clone(b.app, `flushed ${round}`)).status).toBe(201);
      }
    } finally {
      await b.close();
    }
  });

  it('a master killed: clones 503 and readyz 503 until its replica is promoted, then recovery by itself', async () => {
    const prefix = 'failover:';
    const b = buildService(
      testConfig({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds, REDIS_KEY_PREFIX: prefix }),
      fake.url,
    );
    try {
      expect(await b.ready(5000)).toBe(true);
      expect((await clone(b.app, 'before')).status).toBe(201);
      // The master that holds the pacing and cooldown keys, which every clone needs.
      const victim = await cluster.masterFor(redisKeys(prefix).booked);
      await victim.stop();
      const [refused, ready] = await Promise.all([clone(b.app, 'during'), request(b.app).get('/readyz')]);
      expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
      expect([ready.status, ready.body.redis]).toEqual([503, 'unavailable']);
      // Detection and election take about twice the node timeout (500 ms): 2 s measured; a busy
      // machine gets five times that.
      await cloneUntilRecovered(b, fake, 10_000);
    } finally {
      await b.close();
    }
  });
});
