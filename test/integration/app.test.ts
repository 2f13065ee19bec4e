import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { audio, buildService, type Running, startSandbox, testConfig } from '../helpers/kit.js';

describe('the app around the routes', () => {
  let sandbox: Running;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

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

  it('logs one JSON line per request with id, route, status, duration, bytes and attempts', async () => {
    const { app, log } = buildService(testConfig(), sandbox.url);
    await request(app)
      .post('/api/voices/clone')
      .set('X-Request-Id', 'log-1')
      .field('name', 'n')
      .attach('files', audio('sample.mp3'));
    await new Promise((r) => setTimeout(r, 10));
    const lines = log.lines.filter((l) => l.msg === 'request' && l.request_id === 'log-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: 'POST',
      route: '/api/voices/clone',
      status: 201,
      bytes_in: 8577,
      upstream_attempts: 1,
    });
    expect(typeof lines[0]?.duration_ms).toBe('number');
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

describe('operations endpoints', () => {
  let sandbox: Running;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());

  it('GET /metrics: SPEC series with bounded route labels, plus process metrics', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    await request(app)
      .post('/api/voices/clone')
      .field('name', 'Metered [rate-limit]')
      .attach('files', audio('sample.mp3'));
    await request(app).get('/no/such/path/123');
    const text = (await request(app).get('/metrics')).text;
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/api\/voices\/clone",status="201"\} 1/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    expect(text).not.toContain('/no/such/path');
    expect(text).toMatch(/upstream_attempts_total\{operation="clone",outcome="429"\} 1/);
    expect(text).toMatch(/upstream_attempts_total\{operation="clone",outcome="201"\} 1/);
    expect(text).toMatch(/upstream_retry_wait_seconds_count\{operation="clone"\} 1/);
    expect(text).toMatch(/upload_bytes_total 8577/);
    expect(text).toMatch(/upstream_request_duration_seconds_bucket\{le="0.05",operation="clone"\}/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });

  it('while draining: readyz 503 and new API requests 503 shutting_down', async () => {
    const built = buildService(testConfig(), sandbox.url);
    built.lifecycle.draining = true;
    const ready = await request(built.app).get('/readyz');
    expect([ready.status, ready.body.status]).toEqual([503, 'draining']);
    const res = await request(built.app).post('/api/voices/clone').field('name', 'n');
    expect([res.status, res.body.error.code]).toEqual([503, 'shutting_down']);
    expect(res.headers.connection).toBe('close');
  });
});
