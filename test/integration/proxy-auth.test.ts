import { readFileSync } from 'node:fs';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jwtEnv, signToken, suiteJwks } from '../helpers/jwks.js';
import { audio, buildService, listen, type Running, suiteFakeUpstream, testConfig } from '../helpers/kit.js';
import { multipart } from '../helpers/multipart.js';
import { closeAfterAll } from '../helpers/suite.js';

const TOKEN = 'tok_caller_one_000000';
const MP3 = readFileSync(audio('sample.mp3'));
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

/** What one clone request came back with. */
interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: { error?: { code: string } };
}

/**
 * POSTs a clone from a chosen loopback address (Linux routes all of 127/8 to lo), so the service
 * sees a peer other than 127.0.0.1. `headers` may repeat a header by giving it a list.
 */
function post(url: string, options: { from?: string; headers?: OutgoingHttpHeaders; name?: string } = {}) {
  const { body, contentType } = multipart([
    { field: 'name', value: options.name ?? 'Proxy voice' },
    { field: 'files', filename: 'sample.mp3', data: MP3, contentType: 'audio/mpeg' },
  ]);
  const u = new URL('/api/voices/clone', url);
  return new Promise<Reply>((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        localAddress: options.from ?? '127.0.0.1',
        agent: false,
        headers: { 'content-type': contentType, 'content-length': body.length, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const as = (person: string, extra: OutgoingHttpHeaders = {}) => ({ 'x-forwarded-email': person, ...extra });

describe("the authenticating proxy's user (AUTH_PROXY_USER_HEADER), honoured only from TRUST_PROXY peers", () => {
  const fake = suiteFakeUpstream();
  let service: Running;
  let built: ReturnType<typeof buildService>;

  beforeAll(async () => {
    built = buildService(
      testConfig({
        AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email',
        TRUST_PROXY: '127.0.0.1',
        CLIENT_TOKENS: TOKEN,
      }),
      fake.url,
    );
    service = await listen(built.app);
  });
  afterAll(() => service.close());

  const lastCaller = () => built.log.lines.filter((l) => l.msg === 'request').at(-1)?.caller;

  it('from a trusted peer the header names the caller; the person goes neither upstream nor into the answer', async () => {
    const before = fake.received.length;
    const res = await post(service.url, { headers: as(ALICE) });
    expect(res.status).toBe(201);
    expect(lastCaller()).toEqual({ kind: 'proxy', id: `person:${ALICE}`, person: ALICE });
    expect(fake.received.length).toBe(before + 1);
    const sent = fake.received.at(-1);
    expect(JSON.stringify(sent?.headers)).not.toContain('alice');
    expect(sent?.body.toString()).not.toContain('alice');
    expect(JSON.stringify(res.headers) + res.text).not.toContain('alice');
  });

  it('from an untrusted peer the header is ignored: alone it is 401, nothing upstream', async () => {
    const before = fake.received.length;
    const res = await post(service.url, { from: '127.0.0.2', headers: as(ALICE) });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('unauthorized');
    expect(fake.received.length).toBe(before);
  });

  it('from an untrusted peer with a valid token, the token is the caller, not the person it names', async () => {
    const res = await post(service.url, {
      from: '127.0.0.2',
      headers: as(ALICE, { authorization: `Bearer ${TOKEN}` }),
    });
    expect(res.status).toBe(201);
    expect(lastCaller()).toMatchObject({ kind: 'token' });
    expect(JSON.stringify(lastCaller())).not.toContain('alice');
  });

  it('a valid proxy user with a bad bearer is refused (a bad credential is never outvoted)', async () => {
    const before = fake.received.length;
    const res = await post(service.url, {
      headers: as(ALICE, { authorization: 'Bearer tok_wrong_wrong_wrong_000' }),
    });
    expect(res.status).toBe(401);
    expect(fake.received.length).toBe(before);
  });

  it('a valid proxy user with a valid token: the person is the caller', async () => {
    const res = await post(service.url, { headers: as(ALICE, { authorization: `Bearer ${TOKEN}` }) });
    expect(res.status).toBe(201);
    expect(lastCaller()).toMatchObject({ kind: 'proxy', person: ALICE });
  });

  it('the header given twice, or not at all without another credential, is 401', async () => {
    expect((await post(service.url, { headers: { 'x-forwarded-email': [ALICE, BOB] } })).status).toBe(401);
    expect((await post(service.url)).status).toBe(401);
  });
});

describe('per-person limits and idempotency scopes', () => {
  const fake = suiteFakeUpstream();
  const jwks = suiteJwks('k1');
  const keep = closeAfterAll();

  /** The service behind two trusted proxies (127.0.0.1 and 127.0.0.2), also taking JWTs. */
  async function start(env: Record<string, string>) {
    const built = buildService(
      testConfig({
        AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email',
        TRUST_PROXY: '127.0.0.1, 127.0.0.2',
        ...jwtEnv(jwks().url, env),
      }),
      fake.url,
    );
    await built.authenticator.loadKeys();
    return keep(await listen(built.app)).url;
  }

  it('two people behind one IP get separate inbound limits', async () => {
    const url = await start({ RATE_LIMIT_MAX: '1' });
    expect((await post(url, { headers: as(ALICE) })).status).toBe(201);
    expect((await post(url, { headers: as(ALICE) })).status).toBe(429);
    expect((await post(url, { headers: as(BOB) })).status).toBe(201);
  });

  it('one person from two IPs shares one limit', async () => {
    const url = await start({ RATE_LIMIT_MAX: '1' });
    expect((await post(url, { from: '127.0.0.1', headers: as(ALICE) })).status).toBe(201);
    const second = await post(url, { from: '127.0.0.2', headers: as(ALICE) });
    expect(second.status).toBe(429);
    expect(second.body.error?.code).toBe('rate_limited');
  });

  it('one person is one caller whether they come through the proxy or with a JWT', async () => {
    const url = await start({ RATE_LIMIT_MAX: '1' });
    const jwt = await signToken(jwks().key('k1'), Math.floor(Date.now() / 1000), {
      sub: 'u-1',
      email: ALICE,
    });
    expect((await post(url, { from: '127.0.0.2', headers: { authorization: `Bearer ${jwt}` } })).status).toBe(
      201,
    );
    expect((await post(url, { headers: as(ALICE) })).status).toBe(429);
  });

  it('a proxy user and a JWT naming different people is 401; naming the same person passes', async () => {
    const url = await start({ RATE_LIMIT_MAX: '100' });
    const jwt = await signToken(jwks().key('k1'), Math.floor(Date.now() / 1000), { sub: 'u-2', email: BOB });
    expect((await post(url, { headers: as(ALICE, { authorization: `Bearer ${jwt}` }) })).status).toBe(401);
    expect((await post(url, { headers: as(BOB, { authorization: `Bearer ${jwt}` }) })).status).toBe(201);
  });

  it('the same Idempotency-Key from two people is two clones; from the same person, a replay', async () => {
    const url = await start({ RATE_LIMIT_MAX: '100' });
    const before = fake.received.length;
    const key = { 'idempotency-key': 'form-submit-1' };
    const alice = await post(url, { headers: as(ALICE, key) });
    const bob = await post(url, { headers: as(BOB, key) });
    expect([alice.status, bob.status]).toEqual([201, 201]);
    expect(bob.headers['idempotent-replayed']).toBeUndefined();
    expect(fake.received.length).toBe(before + 2);
    const again = await post(url, { from: '127.0.0.2', headers: as(ALICE, key) });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(fake.received.length).toBe(before + 2);
  });
});

describe('TRUST_PROXY that cannot tell the proxy from anyone else', () => {
  const fake = suiteFakeUpstream();
  it.each([['true'], ['1'], ['false']])(
    'TRUST_PROXY=%s with AUTH_PROXY_USER_HEADER warns at start-up',
    (trust) => {
      const built = buildService(
        testConfig({ AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email', TRUST_PROXY: trust }),
        fake.url,
      );
      expect(
        built.log.lines.some((l) => l.level === 40 && String(l.msg).includes('AUTH_PROXY_USER_HEADER')),
      ).toBe(true);
    },
  );
});
