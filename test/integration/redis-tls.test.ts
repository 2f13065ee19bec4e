import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import request from 'supertest';
import { connectRedis } from '../../src/stores/redis-connection.js';
import { buildService, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { expectSocketsSurviveTwoErrors, type TestRedis, until } from '../helpers/redis.js';
import {
  makeCerts,
  startCluster,
  startTlsRedis,
  type TestCerts,
  type TestCluster,
} from '../helpers/redis-topologies.js';
import { clone } from '../helpers/shared-store.js';

type Built = ReturnType<typeof buildService>;

const fail = (): never => {
  throw new Error('the test config has no Redis settings');
};

/** How many keys a TLS server holds, asked by the test itself over a connection it trusts. */
async function keysOn(server: TestRedis, tls: ConnectionOptions): Promise<string[]> {
  const client = new Redis({ host: '127.0.0.1', port: server.port, tls, retryStrategy: () => null });
  try {
    return await client.keys('*');
  } finally {
    client.disconnect();
  }
}

/** The first "Redis unavailable" line the service logged: its connection attempt has failed. */
function connectionFailure(b: Built, reason?: RegExp) {
  // With a reason: the first failure that names it. On a busy machine an attempt can also fail
  // otherwise first (a handshake cut short ends in an OpenSSL alert), and the client tries again.
  return until('the service to log a failed Redis connection', 5000, () =>
    b.log.lines.find(
      (l) =>
        String(l.msg).startsWith('Redis unavailable') &&
        (!reason || reason.test(String((l.err as { message?: string } | undefined)?.message))),
    ),
  );
}

describe('Redis over TLS (rediss://) with a private CA', () => {
  let certs: TestCerts;
  let servers: Record<'good' | 'otherCa' | 'otherHost' | 'mutual', TestRedis>;
  let cluster: TestCluster;
  const fake = suiteFakeUpstream();
  const built: Built[] = [];
  const service = (env: Record<string, string>) => {
    const b = buildService(testConfig(env), fake.url);
    built.push(b);
    return b;
  };
  const ca = () => readFileSync(certs.ca);

  beforeAll(async () => {
    certs = await makeCerts();
    const [good, otherCa, otherHost, mutual, tlsCluster] = await Promise.all([
      startTlsRedis(certs.server, certs.ca, 'no'),
      startTlsRedis(certs.otherCaServer, certs.otherCa, 'no'),
      startTlsRedis(certs.otherHostServer, certs.ca, 'no'),
      startTlsRedis(certs.server, certs.ca, 'yes'),
      startCluster({ masters: 3, replicas: 0, tls: { cert: certs.server, ca: certs.ca } }),
    ]);
    servers = { good, otherCa, otherHost, mutual } as typeof servers;
    cluster = tlsCluster;
  });
  afterAll(async () => {
    await Promise.all(built.map((b) => b.close()));
    await Promise.all([...Object.values(servers ?? {}).map((s) => s.stop()), cluster?.stop()]);
    certs?.cleanup();
  });

  it('connects with REDIS_TLS_CA_FILE, clones, and keeps the shared state on that server', async () => {
    const b = service({
      REDIS_URL: servers.good.url,
      REDIS_TLS_CA_FILE: certs.ca,
      REDIS_KEY_PREFIX: 'tls-ok:',
    });
    expect(await b.ready(5000)).toBe(true);
    const ready = await request(b.app).get('/readyz');
    expect([ready.status, ready.body.redis]).toEqual([200, 'ok']);
    expect((await clone(b.app, 'n')).status).toBe(201);
    // The inbound limiter's counter, under its hash tag: the state really lives on the TLS server.
    expect(await keysOn(servers.good, { ca: ca() })).toEqual([expect.stringMatching(/^\{tls-ok:rl\}:/)]);
  });

  it.each([
    ['signed by another CA', 'otherCa', { REDIS_TLS_CA_FILE: 'ca' }, /certificate/i],
    ['issued for another host name', 'otherHost', { REDIS_TLS_CA_FILE: 'ca' }, /altnames|does not match/i],
    ['signed by the private CA, but no REDIS_TLS_CA_FILE (system CAs only)', 'good', {}, /certificate/i],
  ] as const)(
    'refuses a server whose certificate is %s: readyz 503, clones 503, nothing written',
    async (_what, name, tlsEnv, reason) => {
      const server = servers[name];
      const before = await keysOn(server, {
        ca: [ca(), readFileSync(certs.otherCa)],
        checkServerIdentity: () => undefined,
      });
      const b = service({
        REDIS_URL: server.url,
        REDIS_KEY_PREFIX: `tls-refused-${name}:`,
        ...('REDIS_TLS_CA_FILE' in tlsEnv ? { REDIS_TLS_CA_FILE: certs.ca } : {}),
      });
      const failure = await connectionFailure(b, reason);
      expect(String((failure.err as { message: string }).message)).toMatch(reason);
      expect(await b.ready(300)).toBe(false);
      const ready = await request(b.app).get('/readyz');
      expect([ready.status, ready.body.redis]).toEqual([503, 'unavailable']);
      const mark = fake.received.length;
      const refused = await clone(b.app, 'n');
      expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
      expect(fake.received.length).toBe(mark);
      const after = await keysOn(server, {
        ca: [ca(), readFileSync(certs.otherCa)],
        checkServerIdentity: () => undefined,
      });
      expect(after).toEqual(before);
    },
  );

  it('mutual TLS: with REDIS_TLS_CERT_FILE/KEY_FILE it clones; without a client certificate the server refuses it', async () => {
    const withCert = service({
      REDIS_URL: servers.mutual.url,
      REDIS_TLS_CA_FILE: certs.ca,
      REDIS_TLS_CERT_FILE: certs.client.cert,
      REDIS_TLS_KEY_FILE: certs.client.key,
      REDIS_KEY_PREFIX: 'mtls:',
    });
    const without = service({
      REDIS_URL: servers.mutual.url,
      REDIS_TLS_CA_FILE: certs.ca,
      REDIS_KEY_PREFIX: 'no-cert:',
    });
    expect(await withCert.ready(5000)).toBe(true);
    expect((await clone(withCert.app, 'n')).status).toBe(201);

    await connectionFailure(without);
    expect(await without.ready(300)).toBe(false);
    expect((await request(without.app).get('/readyz')).status).toBe(503);
    const refused = await clone(without.app, 'n');
    expect([refused.status, refused.body.error.code]).toEqual([503, 'store_unavailable']);
    const keys = await keysOn(servers.mutual, {
      ca: ca(),
      cert: readFileSync(certs.client.cert),
      key: readFileSync(certs.client.key),
    });
    expect(keys.some((k) => k.startsWith('{mtls:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('{no-cert:'))).toBe(false);
  });

  it("a socket that fails twice does not take the process down (ioredis listens for a socket's first error only)", async () => {
    // A refused TLS connection can report twice (the certificate, then the server's alert): the
    // second error must find a listener, or Node throws it as an uncaught exception.
    const silent = pino({ level: 'silent' });
    const single = connectRedis(
      testConfig({ REDIS_URL: servers.good.url, REDIS_TLS_CA_FILE: certs.ca }).redis ?? fail(),
      silent,
    );
    const clustered = connectRedis(
      testConfig({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds, REDIS_TLS_CA_FILE: certs.ca }).redis ??
        fail(),
      silent,
    );
    try {
      expect(await single.ready(5000)).toBe(true);
      expect(await clustered.ready(5000)).toBe(true);
      // The Cluster's masters, each connected (ioredis reaches a node on its first command).
      await Promise.all((clustered.client as Cluster).nodes('master').map((n) => n.ping()));
      const sockets = [
        (single.client as Redis).stream,
        ...(clustered.client as Cluster).nodes('master').map((n) => n.stream),
      ];
      expect(sockets.length).toBe(4);
      expectSocketsSurviveTwoErrors(sockets);
    } finally {
      await Promise.all([single.close(), clustered.close()]);
    }
  });

  it('Cluster over TLS: every node is reached with the private CA; without it none is', async () => {
    const ok = service({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds, REDIS_TLS_CA_FILE: certs.ca });
    expect(await ok.ready(5000)).toBe(true);
    expect((await request(ok.app).get('/readyz')).body.redis).toBe('ok');
    expect((await clone(ok.app, 'n')).status).toBe(201);

    const refused = service({ REDIS_CLUSTER: 'true', REDIS_URL: cluster.seeds });
    // ioredis' Cluster reports a node it cannot reach only as "Connection is closed.": the
    // same seeds, reached with the CA just above, fail here for the certificate alone.
    await connectionFailure(refused);
    expect(await refused.ready(500)).toBe(false);
    expect((await request(refused.app).get('/readyz')).status).toBe(503);
    expect((await clone(refused.app, 'n')).status).toBe(503);
  });
});
