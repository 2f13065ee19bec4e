import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { FakeClock } from '../helpers/fake-clock.js';
import { buildService, postClone, suiteFakeUpstream, suiteSandbox, testConfig } from '../helpers/kit.js';

describe('GET /api/voices/:id', () => {
  // The sandbox's own clock decides when a clone turns active: the test moves it, nothing waits.
  const sandboxClock = new FakeClock();
  const sandbox = suiteSandbox({ activateAfterMs: 150, clock: sandboxClock });

  it('answers the normalized voice, training at first and active a little later', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    for (let i = 0; i < 2; i++) {
      // Both sandbox shapes: type/training and is_custom/processing→ready.
      const made = await postClone(app, { name: `Poll ${i}` });
      const id = made.body.data.id as string;
      const first = await request(app).get(`/api/voices/${id}`);
      expect(first.status).toBe(200);
      expect(first.body.data).toMatchObject({ id, name: `Poll ${i}`, status: 'training' });
      expect(first.body.meta.upstream_request_id).toEqual(expect.any(String));
      expect(first.headers['x-upstream-attempts']).toBe('1');
      sandboxClock.advance(149);
      expect((await request(app).get(`/api/voices/${id}`)).body.data.status).toBe('training');
      sandboxClock.advance(1);
      expect((await request(app).get(`/api/voices/${id}`)).body.data.status).toBe('active');
    }
  });

  it('an unknown voice is 404 not_found', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app).get('/api/voices/voice_missing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('GET /api/voices/:id against a scripted upstream', () => {
  const fake = suiteFakeUpstream();

  it('passes the id as one encoded path segment: no id reaches another Truedy route', async () => {
    const { app } = buildService(testConfig(), fake.url);
    fake.queue.push({ status: 200, body: { data: { id: 'x' } } });
    await request(app).get('/api/voices/..%2Fclone%3Fa=1%23');
    expect(fake.received.at(-1)?.url).toBe('/voices/..%2Fclone%3Fa%3D1%23');
    expect(fake.received.at(-1)?.method).toBe('GET');
  });

  it('an id of . or .. (a path step to a URL parser) is 404 not_found, and Truedy is not called', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const before = fake.received.length;
    for (const id of ['%2E%2E', '.%2e', '%2E']) {
      const res = await request(app).get(`/api/voices/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect(fake.received.length).toBe(before);
  });

  it('being a read, it is retried on 502, 503 and 504', async () => {
    const clock = new FakeClock({ autoAdvance: true });
    const { app } = buildService(testConfig({ RETRY_MAX_ATTEMPTS: '4' }), fake.url, { clock });
    const before = fake.received.length;
    fake.queue.push({ status: 502, body: {} }, { status: 503, body: {} }, { status: 504, body: {} });
    fake.queue.push({
      status: 200,
      body: { data: { id: 'v1', status: 'ready' }, meta: { request_id: 'up' } },
    });
    const res = await request(app).get('/api/voices/v1');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: 'v1', status: 'active' });
    expect(res.headers['x-upstream-attempts']).toBe('4');
    expect(fake.received.length - before).toBe(4);
    expect(clock.sleeps).toHaveLength(3); // a backoff before each retry, on the service's clock
  });

  it('a 500 is not retried and is 502 upstream_error', async () => {
    const { app } = buildService(testConfig(), fake.url);
    const before = fake.received.length;
    fake.queue.push({ status: 500, body: {} });
    const res = await request(app).get('/api/voices/v1');
    expect([res.status, res.body.error.code]).toEqual([502, 'upstream_error']);
    expect(fake.received.length - before).toBe(1);
  });
});
