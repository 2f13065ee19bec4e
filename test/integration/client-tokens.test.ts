import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildService, postClone, suiteFakeUpstream, testConfig } from '../helpers/kit.js';

const TOKEN_A = 'tok_internal_service_a_0001';
const TOKEN_B = 'tok_internal_service_b_0002';

describe('client tokens (CLIENT_TOKENS)', () => {
  const fake = suiteFakeUpstream();
  const build = () => buildService(testConfig({ CLIENT_TOKENS: `${TOKEN_A},${TOKEN_B}` }), fake.url);

  it.each([
    ['no Authorization', undefined],
    ['a wrong token', 'Bearer tok_wrong_wrong_wrong_000'],
    ['a prefix of a token', `Bearer ${TOKEN_A.slice(0, -1)}`],
    ['another scheme', `Basic ${TOKEN_A}`],
  ])('%s: 401 unauthorized, nothing upstream', async (_what, authorization) => {
    const { app } = build();
    const before = fake.received.length;
    const res = await postClone(app, { headers: authorization ? { Authorization: authorization } : {} });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(fake.received.length).toBe(before);
  });

  it('any configured token passes; GET /api/* needs one too', async () => {
    const { app } = build();
    for (const t of [TOKEN_A, TOKEN_B]) {
      expect((await postClone(app, { headers: { Authorization: `Bearer ${t}` } })).status).toBe(201);
    }
    expect((await request(app).get('/api/voices/v1')).status).toBe(401);
  });

  it('health, readiness, metrics and the form stay open', async () => {
    const { app } = build();
    for (const path of ['/healthz', '/readyz', '/metrics', '/'])
      expect([path, (await request(app).get(path)).status]).toEqual([path, 200]);
  });

  it('tokens never reach the log', async () => {
    const { app, log } = build();
    await postClone(app, { files: [], headers: { Authorization: `Bearer ${TOKEN_A}` } });
    await postClone(app, {
      name: null,
      files: [],
      headers: { Authorization: 'Bearer tok_wrong_wrong_wrong_000' },
    });
    expect(log.text()).not.toContain(TOKEN_A);
    expect(log.text()).not.toContain('tok_wrong');
  });
});
