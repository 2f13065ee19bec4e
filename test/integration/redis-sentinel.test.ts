import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import request from 'supertest';
import { connectRedis } from '../../src/stores/redis-connection.js';
import { buildService, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { expectSocketsSurviveTwoErrors, until } from '../helpers/redis.js';
import { makeCerts, startSentinel, type TestCerts, type TestSentinel } from '../helpers/redis-topologies.js';
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

  it("a socket that fails twice does not take the process down (ioredis listens for a socket's first error only)", () =>
    sentinelSocketsSurviveTwoErrors(topology.env));

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

describe('Redis behind Sentinel over TLS (clients, replication and Sentinel, one private CA)', () => {
  let certs: TestCerts;
  let topology: TestSentinel;
  const fake = suiteFakeUpstream();
  beforeAll(async () => {
    certs = await makeCerts();
    topology = await startSentinel(DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, { cert: certs.server, ca: certs.ca });
  }, 30_000);
  afterAll(async () => {
    await topology?.stop();
    certs?.cleanup();
  });

  it('with the private CA the sentinel and the primary are reached; without it the store is refused and clones fail closed', async () => {
    const ok = buildService(testConfig({ ...topology.env, REDIS_TLS_CA_FILE: certs.ca }), fake.url);
    // Without the CA every TLS handshake is refused: the case where a socket reports twice.
    const refused = buildService(testConfig(topology.env), fake.url);
    try {
      expect(await ok.ready(5000)).toBe(true);
      expect((await request(ok.app).get('/readyz')).body.redis).toBe('ok');
      expect((await clone(ok.app, 'over tls')).status).toBe(201);
      expect(await refused.ready(1000)).toBe(false);
      const r = await clone(refused.app, 'no ca');
      expect([r.status, r.body.error.code]).toEqual([503, 'store_unavailable']);
    } finally {
      await Promise.all([ok.close(), refused.close()]);
    }
  });

  it("a TLS socket that fails twice does not take the process down (ioredis listens for a socket's first error only)", () =>
    sentinelSocketsSurviveTwoErrors({ ...topology.env, REDIS_TLS_CA_FILE: certs.ca }));
});

/**
 * Connects in Sentinel mode with `env` and emits two errors on every socket the client holds: the
 * primary's and the failover detector's to the sentinels. A second error must find a listener, or
 * Node throws it as an uncaught exception (with TLS a refused connection reports twice: the
 * certificate, then the server's alert).
 */
async function sentinelSocketsSurviveTwoErrors(env: Record<string, string>): Promise<void> {
  const settings = testConfig(env).redis;
  if (!settings) throw new Error('no Redis settings');
  const conn = connectRedis(settings, pino({ level: 'silent' }));
  try {
    expect(await conn.ready(5000)).toBe(true);
    /** ioredis' internals, read to reach every socket the client holds. */
    type Internals = {
      connector: { failoverDetector?: { sentinels: { client: { status: string; stream: Socket } }[] } };
    };
    const client = conn.client as Redis;
    const sentinels = await until('the failover detector subscribed', 5000, () => {
      const list = (client as unknown as Internals).connector.failoverDetector?.sentinels ?? [];
      return list.length > 0 && list.every((s) => s.client.status === 'ready') ? list : undefined;
    });
    const sockets = [client.stream, ...sentinels.map((s) => s.client.stream)];
    expect(sockets.length).toBe(2);
    expectSocketsSurviveTwoErrors(sockets);
  } finally {
    await conn.close();
  }
}
