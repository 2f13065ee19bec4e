import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildService, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { startSentinel, type TestSentinel } from '../helpers/redis-topologies.js';
import { clone, cloneUntilRecovered, sharedStoreCases } from '../helpers/shared-store.js';

/** Sentinel's timings for the suite: the master is declared down after this long without answers. */
const DOWN_AFTER_MS = 500;
const FAILOVER_TIMEOUT_MS = 2000;

describe('several instances, Redis behind Sentinel (one master, one replica, one sentinel)', () => {
  let topology: TestSentinel;
  const fake = suiteFakeUpstream();
  beforeAll(async () => {
    topology = await startSentinel(DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS);
  });
  afterAll(() => topology?.stop());

  sharedStoreCases(() => topology.env, fake);

  it('the master killed: clones 503 and readyz 503, then the promoted replica is followed by itself', async () => {
    const b = buildService(testConfig({ ...topology.env, REDIS_KEY_PREFIX: 'failover:' }), fake.url);
    try {
      expect(await b.ready(5000)).toBe(true);
      expect((await clone(b.app, 'before')).status).toBe(201);
      expect(await topology.masterPort()).toBe(topology.master.port);

      await topology.master.stop();
      const [refused, ready] = await Promise.all([clone(b.app, 'during'), request(b.app).get('/readyz')]);
      expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
      expect([ready.status, ready.body.redis]).toEqual([503, 'unavailable']);

      // Sentinel needs DOWN_AFTER_MS to call the master down, then promotes within the failover
      // timeout; the service must be back before that has passed twice over.
      await cloneUntilRecovered(b, fake, DOWN_AFTER_MS + 2 * FAILOVER_TIMEOUT_MS);
      expect(await topology.masterPort()).toBe(topology.replica.port);
    } finally {
      await b.close();
    }
  });
});
