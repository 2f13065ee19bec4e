import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import {
  buildService,
  CLONE_PATH,
  listen,
  postClone,
  suiteFakeUpstream,
  testConfig,
} from '../helpers/kit.js';

const ALLOWED = 'https://forms.example.com';

describe('browsers: CORS and the CSRF guard (ALLOWED_ORIGINS)', () => {
  const fake = suiteFakeUpstream();
  const build = () => buildService(testConfig({ ALLOWED_ORIGINS: ALLOWED }), fake.url);

  it('a POST from a foreign origin is 403 before the body is read or anything goes upstream', async () => {
    const { app } = build();
    const res = await postClone(app, { headers: { Origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('origin_not_allowed');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(fake.received).toHaveLength(0);
  });

  it('Origin: null (sandboxed frames, file://) is refused', async () => {
    const { app } = build();
    expect((await postClone(app, { files: [], headers: { Origin: 'null' } })).status).toBe(403);
  });

  it('an allowed origin gets CORS headers; its preflight is answered', async () => {
    const { app } = build();
    const pre = await request(app)
      .options(CLONE_PATH)
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'idempotency-key');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    // Every request header SPEC names for the clone route, trace context included.
    const allowed = String(pre.headers['access-control-allow-headers'])
      .split(',')
      .map((h) => h.trim().toLowerCase());
    expect(allowed).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'idempotency-key',
        'x-request-id',
        'traceparent',
        'tracestate',
      ]),
    );
    expect(pre.headers.vary).toContain('Origin');

    const res = await postClone(app, { headers: { Origin: ALLOWED } });
    expect(res.status).toBe(201);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
  });

  it('a preflight from a foreign origin is refused', async () => {
    const { app } = build();
    const pre = await request(app)
      .options(CLONE_PATH)
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('same-origin and Origin-less (server-to-server) requests pass', async () => {
    const { app } = build();
    // Same origin: the Origin a browser sends for the page this service serves, on its real Host.
    const server = await listen(app);
    try {
      const same = await postClone(server.url, { headers: { Origin: server.url } });
      expect(same.status).toBe(201);
      expect(same.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await server.close();
    }
    expect((await postClone(app)).status).toBe(201);
  });
});
