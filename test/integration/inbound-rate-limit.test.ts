import { describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import { buildService, postClone, suiteFakeUpstream, testConfig } from '../helpers/kit.js';

const TOKEN_A = 'tok_internal_service_a_0001';
const TOKEN_B = 'tok_internal_service_b_0002';

describe('inbound rate limit on clones (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS)', () => {
  const fake = suiteFakeUpstream();

  it('the N+1th clone from one client is 429 rate_limited with RateLimit and Retry-After headers', async () => {
    const warn = jest.spyOn(console, 'warn');
    const error = jest.spyOn(console, 'error');
    const { app, log } = buildService(
      testConfig({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' }),
      fake.url,
    );
    const first = await postClone(app);
    expect(first.status).toBe(201);
    expect(first.headers.ratelimit).toMatch(/"clone"; r=1; t=\d+/);
    expect(first.headers['ratelimit-policy']).toMatch(/"clone"; q=2; w=60/);
    expect((await postClone(app)).status).toBe(201);
    const before = fake.received.length;
    const third = await postClone(app);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(third.headers['content-type']).toMatch(/^application\/json/);
    expect(fake.received.length).toBe(before);
    // GET reads are not limited by the clone limit.
    expect((await request(app).get('/healthz')).status).toBe(200);
    // express-rate-limit reports its ERR_ERL_* validation warnings on the console.
    expect(log.text()).not.toContain('ERR_ERL_');
    expect([...warn.mock.calls, ...error.mock.calls].flat().join(' ')).not.toContain('ERR_ERL_');
    warn.mockRestore();
    error.mockRestore();
  });

  it('counts per token when tokens are used; refused requests (401, 403) do not count', async () => {
    const { app } = buildService(
      testConfig({
        RATE_LIMIT_MAX: '1',
        CLIENT_TOKENS: `${TOKEN_A},${TOKEN_B}`,
        ALLOWED_ORIGINS: 'https://forms.example.com',
      }),
      fake.url,
    );
    const send = (token?: string, headers: Record<string, string> = {}) =>
      postClone(app, { headers: token ? { Authorization: `Bearer ${token}`, ...headers } : headers });
    for (let i = 0; i < 3; i++) expect((await send()).status).toBe(401);
    for (let i = 0; i < 3; i++)
      expect((await send(TOKEN_A, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await send(TOKEN_A)).status).toBe(201);
    expect((await send(TOKEN_A)).status).toBe(429);
    expect((await send(TOKEN_B)).status).toBe(201);
  });

  it('counts per client IP behind a trusted proxy (TRUST_PROXY)', async () => {
    const { app } = buildService(testConfig({ RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' }), fake.url);
    const send = (ip: string) => postClone(app, { headers: { 'X-Forwarded-For': ip } });
    expect((await send('203.0.113.7')).status).toBe(201);
    expect((await send('203.0.113.7')).status).toBe(429);
    expect((await send('203.0.113.8')).status).toBe(201);
  });
});
