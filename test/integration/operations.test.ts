import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { FakeClock } from '../helpers/fake-clock.js';
import { buildService, postClone, suiteSandbox, testConfig, waitUntil } from '../helpers/kit.js';

describe('operations (SPEC "Operations"): the request log, metrics, draining', () => {
  const sandbox = suiteSandbox();

  it('logs one JSON line per request with id, route, status, duration, bytes and attempts', async () => {
    const { app, log } = buildService(testConfig(), sandbox.url);
    await postClone(app, { headers: { 'X-Request-Id': 'log-1' } });
    // The line is written when the response closes, which may come just after the client has it.
    const mine = () => log.lines.filter((l) => l.msg === 'request' && l.request_id === 'log-1');
    await waitUntil('the request log line', () => mine().length > 0);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]).toMatchObject({
      method: 'POST',
      route: '/api/voices/clone',
      status: 201,
      bytes_in: 8577,
      upstream_attempts: 1,
    });
    expect(typeof mine()[0]?.duration_ms).toBe('number');
  });

  it('GET /metrics: SPEC series with bounded route labels, plus process metrics', async () => {
    // The [rate-limit] scenario's 1 s wait passes on a fake clock.
    const clock = new FakeClock({ autoAdvance: true });
    const { app } = buildService(testConfig(), sandbox.url, { clock });
    await postClone(app, { name: 'Metered [rate-limit]' });
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

  it('GET /metrics: a request refused before its route matched counts under that route; every upload read counts its bytes', async () => {
    const token = 'tok_metrics_caller_0001';
    const { app } = buildService(testConfig({ CLIENT_TOKENS: token }), sandbox.url);
    await postClone(app, { name: 'No token' });
    await request(app).get('/api/voices/voice_1');
    const refused = await postClone(app, {
      headers: { Authorization: `Bearer ${token}` },
      files: [{ data: Buffer.alloc(1000, 0x41), filename: 'notes.txt' }],
    });
    expect(refused.status).toBe(415);
    const text = (await request(app).get('/metrics')).text;
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/api\/voices\/clone",status="401"\} 1/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/api\/voices\/:id",status="401"\} 1/);
    expect(text).not.toMatch(/route="unmatched",status="401"/);
    expect(text).toMatch(/upload_bytes_total 1000/);
  });

  it('while draining: readyz 503 and new API requests 503 shutting_down', async () => {
    const built = buildService(testConfig(), sandbox.url);
    built.lifecycle.draining = true;
    const ready = await request(built.app).get('/readyz');
    expect([ready.status, ready.body.status]).toEqual([503, 'draining']);
    const res = await postClone(built.app, { files: [] });
    expect([res.status, res.body.error.code]).toEqual([503, 'shutting_down']);
    expect(res.headers.connection).toBe('close');
  });
});
