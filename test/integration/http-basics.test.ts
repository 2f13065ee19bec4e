import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildService, suiteSandbox, testConfig } from '../helpers/kit.js';

describe('the app around the routes', () => {
  const sandbox = suiteSandbox();

  it('serves /healthz and /readyz', async () => {
    const { app } = buildService(testConfig(), sandbox.url, { upstreamName: 'sandbox' });
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', upstream: 'sandbox', redis: 'disabled', auth: 'disabled' });
  });

  it('sets helmet headers and hides X-Powered-By', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app).get('/healthz');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('generates a request id, and replaces one that is not a plain token', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const generated = await request(app).get('/healthz');
    expect(generated.headers['x-request-id']).toMatch(/^req_[0-9a-f-]{36}$/);
    const hostile = await request(app).get('/nope').set('X-Request-Id', 'a b<script>');
    expect(hostile.headers['x-request-id']).toMatch(/^req_/);
    expect(hostile.body.meta.request_id).toBe(hostile.headers['x-request-id']);
  });

  it.each([
    ['GET', '/nope'],
    ['POST', '/api/voices'],
    ['DELETE', '/api/voices/clone'],
    ['PUT', '/healthz'],
  ])('%s %s is a JSON 404 not_found', async (method, path) => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app)[method.toLowerCase() as 'get'](path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error.code).toBe('not_found');
  });

  it('a path that does not decode is a JSON 400, not an HTML page', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app).get('/api/voices/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.text).not.toMatch(/<html|at .*\.js/i);
  });

  it('an internal bug is a JSON 500 with no stack, and is logged', async () => {
    const built = buildService(testConfig(), sandbox.url);
    // A route that throws, added after the fact, stands in for a bug.
    const router = built.app.router as unknown as { stack: unknown[] };
    built.app.get('/boom', () => {
      throw new Error('secret internals');
    });
    // Move the new layer before the 404 and error handlers.
    router.stack.splice(router.stack.length - 3, 0, router.stack.pop());
    const res = await request(built.app).get('/boom');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ code: 'internal_error', message: 'Internal error.' });
    expect(res.text).not.toContain('secret internals');
    expect(built.log.text()).toContain('secret internals');
  });
});
