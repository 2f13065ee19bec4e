import { beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { type Clock, systemClock } from '../../src/clock.js';
import type { ServiceOptions } from '../../src/service.js';
import {
  AUDIENCE,
  hs256WithPublicKey,
  ISSUER,
  jwtEnv,
  makeKey,
  signToken,
  startJwks,
  suiteJwks,
  type TestKey,
  unsignedToken,
} from '../helpers/jwks.js';
import { buildService, postClone, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { closeAfterAll } from '../helpers/suite.js';

/** The tests' "now": tokens are dated against it, and the service's clock stands still on it. */
const NOW_MS = Date.parse('2026-05-01T12:00:00Z');
const NOW = NOW_MS / 1000;
const clock: Clock = { now: () => NOW_MS, sleep: systemClock.sleep };
const TOKEN = 'tok_caller_one_000000';

/** A clone with `token` as its bearer (no Authorization at all when undefined). */
const clone = (app: Parameters<typeof postClone>[0], token?: string) =>
  postClone(app, {
    name: 'JWT voice',
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });

describe('JWT bearer tokens from the organization provider', () => {
  const fake = suiteFakeUpstream();
  // RS512: asymmetric, published by the provider, yet not one of the accepted algorithms.
  const jwks = suiteJwks('key-a', ['key-rs512', 'RS512']);
  const keyA = () => jwks().key('key-a');
  const rs512 = () => jwks().key('key-rs512');
  let stranger: TestKey;

  beforeAll(async () => {
    stranger = await makeKey('key-a'); // same kid, other key: its signatures must not verify
  });

  /** A service against the fake upstream; its first key load is awaited. */
  async function build(extra: Record<string, string> = {}, options: Partial<ServiceOptions> = {}) {
    const built = buildService(testConfig(jwtEnv(jwks().url, extra)), fake.url, { clock, ...options });
    await built.authenticator.loadKeys();
    return built;
  }
  const sign = (claims: Parameters<typeof signToken>[2] = {}, key = keyA()) => signToken(key, NOW, claims);

  it('a valid token clones; the person (email) is the caller in the log, never upstream or in the answer', async () => {
    const built = await build();
    const token = await sign({ sub: 'u-123', email: 'alice@example.com' });
    const before = fake.received.length;
    const res = await clone(built.app, token);
    expect(res.status).toBe(201);
    expect(fake.received.length).toBe(before + 1);
    const line = built.log.lines.find((l) => l.msg === 'request');
    expect(line?.caller).toEqual({
      kind: 'jwt',
      id: 'person:alice@example.com',
      person: 'alice@example.com',
    });
    const sent = fake.received.at(-1);
    expect(JSON.stringify(sent?.headers)).not.toContain('alice');
    expect(sent?.body.toString()).not.toContain('alice');
    expect(sent?.headers.authorization).not.toContain(token);
    expect(JSON.stringify(res.headers) + res.text).not.toContain('alice');
    expect(built.log.text()).not.toContain(token);
    expect((await request(built.app).get('/readyz')).body).toMatchObject({ status: 'ready', auth: 'ok' });
  });

  it('without an email the person is `sub`; an `aud` list that contains the audience passes', async () => {
    const built = await build();
    const res = await clone(built.app, await sign({ sub: 'svc-reporting', aud: ['other', AUDIENCE] }));
    expect(res.status).toBe(201);
    expect(built.log.lines.find((l) => l.msg === 'request')?.caller).toMatchObject({
      kind: 'jwt',
      person: 'svc-reporting',
    });
  });

  it('`exp` and `nbf` have 30 s of leeway', async () => {
    const built = await build();
    expect((await clone(built.app, await sign({ sub: 'a', exp: NOW - 29 }))).status).toBe(201);
    expect((await clone(built.app, await sign({ sub: 'a', nbf: NOW + 29 }))).status).toBe(201);
  });

  it('RS256, PS256, ES256 and EdDSA keys are all accepted', async () => {
    const keys = await Promise.all([makeKey('ps', 'PS256'), makeKey('es', 'ES256'), makeKey('ed', 'EdDSA')]);
    jwks().keys.push(...keys);
    try {
      const built = await build();
      for (const k of keys) expect((await clone(built.app, await sign({ sub: k.alg }, k))).status).toBe(201);
    } finally {
      jwks().keys.splice(2);
    }
  });

  const refused: [string, () => Promise<string>][] = [
    ['expired (past the leeway)', () => sign({ sub: 'a', exp: NOW - 31 })],
    ['not yet valid (past the leeway)', () => sign({ sub: 'a', nbf: NOW + 31 })],
    ['from another issuer', () => sign({ sub: 'a', iss: 'https://evil.example' })],
    ['for another audience', () => sign({ sub: 'a', aud: 'another-service' })],
    ['without an expiry', () => sign({ sub: 'a', exp: undefined })],
    ['naming no one (no email, no sub)', () => sign({})],
    ['unsigned (alg: none)', async () => unsignedToken(NOW, { sub: 'a' })],
    ['HS256 with the public key as the secret', () => hs256WithPublicKey(keyA(), NOW, { sub: 'a' })],
    ['signed with RS512 (not an accepted algorithm)', () => sign({ sub: 'a' }, rs512())],
    ['signed by another key under a known kid', () => sign({ sub: 'a' }, stranger)],
    [
      'with its payload changed after signing',
      async () => {
        const [h, , s] = (await sign({ sub: 'a' })).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: NOW + 300 })).toString('base64url')}.${s}`;
      },
    ],
    ['not a JWT at all', async () => 'not.a.jwt'],
  ];

  it.each(refused)('a token %s: 401 unauthorized, nothing upstream', async (_what, make) => {
    const built = await build();
    const token = await make();
    const before = fake.received.length;
    const res = await clone(built.app, token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(fake.received.length).toBe(before);
    expect(built.log.text()).not.toContain(token);
  });

  it('a bearer that is one of CLIENT_TOKENS is a token, not a JWT; other bearers are JWTs', async () => {
    const built = await build({ CLIENT_TOKENS: TOKEN });
    const hits = jwks().hits();
    expect((await clone(built.app, TOKEN)).status).toBe(201);
    expect(built.log.lines.find((l) => l.msg === 'request')?.caller).toMatchObject({ kind: 'token' });
    expect((await clone(built.app, 'tok_caller_two_000000')).status).toBe(401);
    expect((await clone(built.app)).status).toBe(401);
    expect((await clone(built.app, await sign({ sub: 'bob' }))).status).toBe(201);
    expect(jwks().hits()).toBe(hits);
  });

  it('unknown kids within the cooldown are 401 and do not each fetch the JWKS', async () => {
    const built = await build();
    const hits = jwks().hits();
    for (const kid of ['made-up-1', 'made-up-2', 'made-up-3']) {
      const res = await clone(built.app, await sign({ sub: 'a' }, { ...stranger, kid }));
      expect(res.status).toBe(401);
    }
    expect(jwks().hits()).toBe(hits);
  });
});

describe('the provider rotates its keys, or cannot be reached', () => {
  const fake = suiteFakeUpstream();
  /** A JWKS endpoint of this test's own, closed after the suite whatever the test did. */
  const keep = closeAfterAll();
  const serve = async (keys: TestKey[]) => keep(await startJwks(keys));
  let keyA: TestKey;
  let keyB: TestKey;

  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([makeKey('2026-04'), makeKey('2026-05')]);
  });

  it('a new kid is fetched once, then served from the cache', async () => {
    const jwks = await serve([keyA]);
    const built = buildService(testConfig(jwtEnv(jwks.url)), fake.url, { clock, jwks: { cooldownMs: 0 } });
    await built.authenticator.loadKeys();
    expect(jwks.hits()).toBe(1);
    expect((await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }))).status).toBe(201);
    expect(jwks.hits()).toBe(1);

    jwks.keys.push(keyB); // the provider publishes its next key and starts signing with it
    for (let i = 0; i < 3; i++) {
      expect((await clone(built.app, await signToken(keyB, NOW, { sub: `b${i}` }))).status).toBe(201);
    }
    expect(jwks.hits()).toBe(2);
    expect((await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }))).status).toBe(201);
    expect(jwks.hits()).toBe(2);
  });

  it('keys already cached keep working while the endpoint is down; an unknown kid then is 503, not 401', async () => {
    const jwks = await serve([keyA]);
    const built = buildService(testConfig(jwtEnv(jwks.url)), fake.url, { clock, jwks: { cooldownMs: 0 } });
    await built.authenticator.loadKeys();
    jwks.setDown(true);
    const before = fake.received.length;
    expect((await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }))).status).toBe(201);
    // A kid the cache does not know cannot be told bad from new while the provider is away.
    const unknown = await clone(built.app, await signToken(keyB, NOW, { sub: 'b' }));
    expect(unknown.status).toBe(503);
    expect(unknown.body.error.code).toBe('auth_unavailable');
    expect(Number(unknown.headers['retry-after'])).toBeGreaterThan(0);
    expect(fake.received.length).toBe(before + 1);
    expect((await request(built.app).get('/readyz')).body).toMatchObject({ status: 'ready', auth: 'ok' });
  });

  it('keys past their cache age are still used when they cannot be refreshed', async () => {
    const jwks = await serve([keyA]);
    // cacheMaxAgeMs 0: every verification wants a fresh set, so each one meets the dead endpoint.
    const built = buildService(testConfig(jwtEnv(jwks.url)), fake.url, {
      clock,
      jwks: { cacheMaxAgeMs: 0, failureBackoffMs: 0 },
    });
    await built.authenticator.loadKeys();
    jwks.setDown(true);
    const hits = jwks.hits();
    for (let i = 0; i < 2; i++) {
      expect((await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }))).status).toBe(201);
    }
    expect(jwks.hits()).toBe(hits + 2);
    // A kid the old keys do not have: maybe new, maybe made up; it cannot be checked, so 503.
    const unknown = await clone(built.app, await signToken(keyB, NOW, { sub: 'b' }));
    expect(unknown.status).toBe(503);
    expect(unknown.body.error.code).toBe('auth_unavailable');
    expect(built.log.lines.some((l) => l.msg === 'JWKS endpoint unreachable: cached keys stay in use')).toBe(
      true,
    );
  });

  it('unreachable at start-up: the service runs, /readyz is 503 auth unavailable, JWT callers get 503 until the keys load', async () => {
    const jwks = await serve([keyA]);
    jwks.setDown(true);
    const built = buildService(testConfig(jwtEnv(jwks.url, { CLIENT_TOKENS: TOKEN })), fake.url, { clock });
    expect(await built.authenticator.loadKeys()).toBe(false);

    const ready = await request(built.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', auth: 'unavailable' });
    const before = fake.received.length;
    const hits = jwks.hits();
    for (let i = 0; i < 3; i++) {
      const res = await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('auth_unavailable');
    }
    // Within the failure backoff the dead endpoint is not asked again by every request.
    expect(jwks.hits()).toBe(hits);
    expect(fake.received.length).toBe(before);
    // Callers with a static token are still served.
    expect((await clone(built.app, TOKEN)).status).toBe(201);
  });

  it('recovers by itself once the endpoint answers', async () => {
    const jwks = await serve([keyA]);
    jwks.setDown(true);
    const built = buildService(testConfig(jwtEnv(jwks.url)), fake.url, {
      clock,
      jwks: { failureBackoffMs: 0 },
    });
    expect(await built.authenticator.loadKeys()).toBe(false);
    expect((await request(built.app).get('/readyz')).status).toBe(503);
    jwks.setDown(false);
    // /readyz starts a load when the keys are missing; the probe that follows sees them.
    const deadline = Date.now() + 5000;
    let status = 503;
    while (status !== 200 && Date.now() < deadline) {
      status = (await request(built.app).get('/readyz')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
    expect((await clone(built.app, await signToken(keyA, NOW, { sub: 'a' }))).status).toBe(201);
  });
});
